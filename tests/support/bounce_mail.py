"""Mail that comes back to the bounce address, shaped as real servers write it.

A DSN as Postfix writes it (RFC 3464: multipart/report with a delivery-status
part and the original's headers), a spam complaint as a feedback loop sends it
(RFC 5965 ARF, the recipient redacted), an out-of-office answer, and a note a
person wrote. Each is built around a message the app really sent, read off the
SMTP server, so its return path and Message-ID carry the real token.
"""

from email import message_from_bytes, policy
from email.utils import format_datetime, make_msgid

from newsletters.models import utcnow

REPORTING_MTA = "mx.example.com"


def _header_block(original: bytes) -> str:
    return original.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace")


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _envelope(return_path: str, subject: str, sender: str, extra: str = "") -> str:
    return (
        f"Return-Path: <>\n"
        f"Date: {format_datetime(utcnow())}\n"
        f"From: {sender}\n"
        f"To: {return_path}\n"
        f"Subject: {subject}\n"
        f"Message-ID: {make_msgid(domain=REPORTING_MTA)}\n"
        f"{extra}"
        "MIME-Version: 1.0\n"
    )


def dsn(
    original: bytes,
    return_path: str,
    recipient: str,
    status: str = "5.1.1",
    diagnostic: str = "550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table",
    action: str = "failed",
) -> bytes:
    """A delivery status notification about ``original``, sent back to ``return_path``."""
    subject = "Undelivered Mail Returned to Sender"
    if action == "delayed":
        subject = "Delayed Mail (still being retried)"
    return _crlf(
        _envelope(return_path, subject, f"MAILER-DAEMON@{REPORTING_MTA} (Mail Delivery System)")
        + 'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\n'
        "Auto-Submitted: auto-replied\n"
        "\n"
        "This is a MIME-encapsulated message.\n"
        "\n--B1\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        f"This is the mail system at host {REPORTING_MTA}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        f"<{recipient}>: host {REPORTING_MTA} said: {diagnostic}\n"
        "\n--B1\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        f"Reporting-MTA: dns; {REPORTING_MTA}\n"
        "X-Postfix-Queue-ID: 4Xb2Qd1Lz3z9sWP\n"
        f"Arrival-Date: {format_datetime(utcnow())}\n"
        "\n"
        f"Final-Recipient: rfc822; {recipient}\n"
        f"Original-Recipient: rfc822;{recipient}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        f"Remote-MTA: dns; {REPORTING_MTA}\n"
        f"Diagnostic-Code: smtp; {diagnostic}\n"
        "\n--B1\n"
        "Content-Description: Undelivered Message Headers\n"
        "Content-Type: text/rfc822-headers\n"
        "\n"
        f"{_header_block(original)}\n"
        "\n--B1--\n"
    )


def complaint(original: bytes, to: str) -> bytes:
    """A feedback-loop report: the reader pressed 'this is spam'; their address is redacted."""
    headers = _header_block(original)
    redacted = "\n".join(
        "To: redacted@example.com" if line.lower().startswith("to:") else line
        for line in headers.replace("\r\n", "\n").split("\n")
    )
    return _crlf(
        _envelope(to, "Complaint about message", "Feedback Loop <feedback@fbl.example.net>")
        + 'Content-Type: multipart/report; report-type=feedback-report; boundary="B2"\n'
        "\n--B2\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "This is an email abuse report for an email message received from IP 192.0.2.10.\n"
        "\n--B2\n"
        "Content-Type: message/feedback-report\n"
        "\n"
        "Feedback-Type: abuse\n"
        "User-Agent: ExampleFBL/1.0\n"
        "Version: 1\n"
        "Source-IP: 192.0.2.10\n"
        f"Arrival-Date: {format_datetime(utcnow())}\n"
        "\n--B2\n"
        "Content-Type: message/rfc822\n"
        "Content-Disposition: inline\n"
        "\n"
        f"{redacted}\n"
        "\n"
        "(the body of the message)\n"
        "\n--B2--\n"
    )


def auto_reply(original: bytes, return_path: str, reader: str) -> bytes:
    """An out-of-office answer (RFC 3834) to ``original``."""
    message_id = message_from_bytes(original, policy=policy.default)["Message-ID"]
    return _crlf(
        _envelope(
            return_path,
            "Out of office: The Weekly",
            reader,
            f"Auto-Submitted: auto-replied\nIn-Reply-To: {message_id}\n",
        )
        + "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "I am away until Monday and will read your message when I am back.\n"
    )


def person_wrote(to: str, line: str = "Could you send me last week's issue again?") -> bytes:
    """A note a person wrote to the bounce address: nothing a machine should act on."""
    return _crlf(
        _envelope(to, "A question about the newsletter", "Jo Reader <jo@example.org>")
        + "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        f"Hello,\n\n{line}\n\nThanks, Jo\n"
    )


def sent_copies(smtp_server) -> dict[str, tuple[bytes, str]]:
    """Each reader's copy as it left, with the envelope sender its bounces go back to."""
    return {
        to: (envelope.original_content, envelope.mail_from)
        for envelope in smtp_server.envelopes
        for to in envelope.rcpt_tos
    }
