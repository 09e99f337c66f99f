"""Sorting what arrives in the bounce mailbox: every published report shape, and hostile mail.

The fixtures in tests/fixtures/bounces are written from the RFCs and the
providers' documented shapes; the placeholder ``{{token}}`` in them becomes a
real signed token of delivery 4711, as a return path and an issue Message-ID
would carry it. No database is needed, so one SQLite app serves the module.
"""

import base64
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsletters import create_app
from newsletters.models.bounce import BounceKind
from newsletters.services.deliverability.reports import parse_report
from newsletters.services.mail import verp
from tests.conftest import close_app, test_settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
DELIVERY_ID = 4711
ISSUE_ID = "<3f6c1c2e-8d4a-4b7e-9a51-0c2d5e7f9a10.{token}@example.com>"

HARD, SOFT, COMPLAINT = BounceKind.HARD, BounceKind.SOFT, BounceKind.COMPLAINT
WARNING, AUTOREPLY, UNKNOWN = BounceKind.WARNING, BounceKind.AUTOREPLY, BounceKind.UNKNOWN


@dataclass(frozen=True)
class Expected:
    kind: BounceKind
    status: str
    email: str | None
    token: bool  # the signed token of delivery 4711 is found
    message_id: str | None  # the original's Message-ID ({token} filled in), or None


EXPECTED = {
    "gmail_hard_550_5_1_1": Expected(HARD, "5.1.1", "reader@example.org", True, ISSUE_ID),
    "gmail_mailbox_full_4_2_2": Expected(SOFT, "4.2.2", "reader@example.net", True, ISSUE_ID),
    "microsoft_outlook_hard_5_5_0": Expected(HARD, "5.5.0", "reader@example.org", True, ISSUE_ID),
    "microsoft_jmrp_complaint": Expected(COMPLAINT, "abuse", None, True, ISSUE_ID),
    "yahoo_hard": Expected(HARD, "554", "reader@example.net", True, ISSUE_ID),
    "yahoo_arf_complaint": Expected(COMPLAINT, "abuse", None, True, ISSUE_ID),
    "postfix_hard": Expected(HARD, "5.1.1", "reader@example.org", True, ISSUE_ID),
    "postfix_delayed": Expected(WARNING, "4.4.1", "reader@example.org", True, ISSUE_ID),
    "spam_policy_block_5_7_1": Expected(SOFT, "5.7.1", "reader@example.org", True, ISSUE_ID),
    "dsn_relayed": Expected(WARNING, "2.0.0", "reader@example.org", True, ISSUE_ID),
    "exim_plain_failure": Expected(HARD, "5.1.1", "reader@example.org", True, ISSUE_ID),
    "exim_dsn": Expected(HARD, "5.1.1", "reader@example.net", True, ISSUE_ID),
    "exim_delay_warning": Expected(WARNING, "4.3.0", None, True, ISSUE_ID),
    "arf_abuse_rfc5965": Expected(COMPLAINT, "abuse", "reader@example.org", True, ISSUE_ID),
    "arf_not_spam": Expected(UNKNOWN, "not-spam", "reader@example.org", True, ISSUE_ID),
    "autoreply_auto_submitted": Expected(AUTOREPLY, "", None, True, ISSUE_ID),
    "out_of_office_subject": Expected(AUTOREPLY, "", None, True, None),
    "respuesta_automatica": Expected(AUTOREPLY, "", None, True, None),
    "human_reply_remove_me": Expected(UNKNOWN, "", None, True, ISSUE_ID),
    "postmaster_note": Expected(UNKNOWN, "", None, True, None),
    "newsletter_to_bounce_address": Expected(UNKNOWN, "", None, False, None),
    "malformed_report": Expected(UNKNOWN, "", None, True, None),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One app for its SECRET_KEY: the parser itself touches no database."""
    workdir = tmp_path_factory.mktemp("reports")
    app = create_app(test_settings(f"sqlite:///{workdir / 'unused.db'}", workdir))
    yield app
    close_app(app)


@pytest.fixture(scope="module")
def token(app) -> str:
    with app.app_context():
        return verp.token_for_delivery(DELIVERY_ID)


def _fixture(name: str, token: str, newline: bytes = b"\n") -> bytes:
    raw = (FIXTURES / f"{name}.eml").read_bytes().replace(b"{{token}}", token.encode())
    return raw.replace(b"\n", newline)


def test_every_fixture_has_an_expected_verdict_and_every_verdict_a_fixture():
    assert sorted(path.stem for path in FIXTURES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_report_shape_is_sorted_as_its_format_documents(app, token, name, newline):
    expected = EXPECTED[name]
    report = parse_report(_fixture(name, token, newline))
    assert (report.kind, report.status, report.email) == (
        expected.kind,
        expected.status,
        expected.email,
    )
    assert (token in report.tokens) is expected.token
    with app.app_context():  # what a found token names: the reader's copy of the issue
        named = [verp.read_token(found) for found in report.tokens]
    assert (verp.MessageRef("delivery", DELIVERY_ID) in named) is expected.token
    first_id = report.message_ids[0] if report.message_ids else None
    assert first_id == (expected.message_id.format(token=token) if expected.message_id else None)
    assert report.event_key.startswith("<") and report.event_key.endswith(">")
    assert 0 < len(report.detail) <= 1000


def test_a_report_is_keyed_by_its_own_message_id_so_polling_twice_finds_the_same_report(token):
    first = parse_report(_fixture("postfix_hard", token))
    again = parse_report(_fixture("postfix_hard", token, b"\r\n"))
    assert first.event_key == again.event_key == "<20240304090003.7D2E40C1B9@mail.example.com>"


def test_a_report_without_a_message_id_is_keyed_by_a_hash_of_its_bytes(token):
    raw = _fixture("postfix_hard", token).replace(b"Message-Id:", b"X-Was-Message-Id:")
    key = parse_report(raw).event_key
    assert key.startswith("sha256:") and len(key) == len("sha256:") + 64
    assert parse_report(raw).event_key == key
    assert parse_report(raw + b"\n").event_key != key


def test_the_event_is_from_the_mailbox_and_does_not_trust_the_reported_address(token):
    raw = _fixture("gmail_hard_550_5_1_1", token) + b"\x00 \xff\xfe"
    report = parse_report(raw)
    event = report.to_event(raw)
    assert (event.source, event.trusted_email, event.kind) == ("mailbox", False, HARD)
    assert (event.event_key, event.email, event.tokens) == (
        report.event_key,
        report.email,
        report.tokens,
    )
    assert (event.message_ids, event.status, event.detail) == (
        report.message_ids,
        report.status,
        report.detail,
    )
    assert event.raw.startswith("Delivered-To: bounces+") and "\x00" not in event.raw
    assert event.raw.endswith("\ufffd \ufffd\ufffd")  # stored as text, bytes that are not replaced


DSN = """\
From: MAILER-DAEMON@mail.example.com (Mail Delivery System)
To: bounces+{token}@bounce.example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <dsn.{n}@mail.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail system
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.com

{recipients}
--b--
"""


def _dsn(token: str, *recipients: str, n: int = 1) -> bytes:
    text = DSN.format(token=token, n=n, recipients="\n".join(recipients))
    return text.encode()


def _recipient(action: str, status: str = "", diagnostic: str = "", who: str = "reader") -> str:
    lines = [f"Final-Recipient: rfc822; {who}@example.org", f"Action: {action}"]
    lines += [f"Status: {status}"] if status else []
    lines += [f"Diagnostic-Code: smtp; {diagnostic}"] if diagnostic else []
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind", "reported"),
    [
        ("5.1.1", "", HARD, "5.1.1"),  # no such mailbox
        ("5.1.10", "", HARD, "5.1.10"),  # the domain takes no mail (null MX)
        ("5.2.1", "", HARD, "5.2.1"),  # mailbox disabled
        ("5.4.4", "", HARD, "5.4.4"),  # no such host
        ("5.2.2", "", SOFT, "5.2.2"),  # mailbox full: the reader may clear it
        ("5.7.26", "", SOFT, "5.7.26"),  # our authentication was refused, not the reader
        ("5.1.8", "", SOFT, "5.1.8"),  # our return path's domain was refused
        ("4.4.7", "", SOFT, "4.4.7"),  # gave up retrying a temporary failure
        ("5.0.0", "550 5.7.1 Rejected as spam", SOFT, "5.7.1"),  # the specific code wins
        ("5.0.0", "550 Requested action not taken", HARD, "5.0.0"),
        ("", "550 No such user here", HARD, "550"),  # no Status: the SMTP reply decides
        ("", "552 Mailbox over quota", SOFT, "552"),
        ("", "", SOFT, ""),  # failed, without a word why: counted, not suppressed
    ],
)
def test_a_failed_delivery_is_hard_only_when_the_code_is_about_the_address(
    token, status, diagnostic, kind, reported
):
    report = parse_report(_dsn(token, _recipient("failed", status, diagnostic)))
    assert (report.kind, report.status, report.email) == (kind, reported, "reader@example.org")


def test_the_failed_recipient_of_a_report_counts_over_the_delivered_ones(token):
    raw = _dsn(
        token,
        _recipient("delivered", "2.0.0", who="first"),
        _recipient("delayed", "4.4.1", who="second"),
        _recipient("failed", "5.1.1", who="third"),
    )
    report = parse_report(raw)
    assert (report.kind, report.status, report.email) == (HARD, "5.1.1", "third@example.org")


ARF = """\
From: <abusedesk@example.net>
To: <fbl@example.com>
Subject: FW: complaint
Message-ID: <arf.{n}@example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b"

--b
Content-Type: text/plain

This is an email abuse report.
--b
Content-Type: message/feedback-report

Feedback-Type: {feedback}
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounces+{token}@bounce.example.com>
{recipient}
--b--
"""


@pytest.mark.parametrize(
    ("recipient", "email"),
    [
        ("Original-Rcpt-To: <Reader@Example.ORG>", "reader@example.org"),
        ("Original-Rcpt-To: <redacted>", None),
        ("Original-Rcpt-To: redacted@example.org", None),
        ("Original-Rcpt-To: xxxxxxxx@example.org", None),
        ("Original-Rcpt-To: not an address", None),
        ("", None),
    ],
)
def test_a_complaint_reports_its_recipient_only_when_it_is_not_redacted(token, recipient, email):
    raw = ARF.format(n=1, feedback="abuse", token=token, recipient=recipient).encode()
    report = parse_report(raw)
    assert (report.kind, report.status, report.email) == (COMPLAINT, "abuse", email)
    assert report.tokens == (token,)  # from Original-Mail-From: our return path


@pytest.mark.parametrize(
    ("feedback", "kind"),
    [("abuse", COMPLAINT), ("fraud", COMPLAINT), ("virus", COMPLAINT), ("other", COMPLAINT),
     ("not-spam", UNKNOWN), ("auth-failure", UNKNOWN), ("", UNKNOWN)],
)  # fmt: skip
def test_only_the_complaint_feedback_types_unsubscribe(token, feedback, kind):
    raw = ARF.format(n=2, feedback=feedback, token=token, recipient="").encode()
    assert parse_report(raw).kind == kind


def _boundaries(depth: int) -> bytes:
    return b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth)
    )


HOSTILE = {
    "empty": b"",
    "binary garbage": random.Random(7).randbytes(200_000),
    "every byte value": bytes(range(256)) * 4000,
    "a megabyte of Content-Type parameters": (
        b"Content-Type: multipart/report; report-type=delivery-status; "
        + b"a=b; " * 200_000
        + b"\n\n"
    ),
    "a quoted parameter of two million semicolons": (
        b'Content-Type: text/plain; a="' + b";" * 2_000_000 + b'"\n\nhello'
    ),
    "a megabyte subject from a mail server": (
        b"From: MAILER-DAEMON@mail.example.com\nSubject: " + b"=?utf-8?q?x?= " * 80_000 + b"\n\nx"
    ),
    "a hundred thousand headers": b"X-A: b\n" * 100_000 + b"\nbody",
    "multiparts nested three thousand deep": _boundaries(3000),
    "messages nested five thousand deep": b"Content-Type: message/rfc822\n\n" * 5000,
    "a report with no boundary": (
        b"Content-Type: multipart/report; report-type=delivery-status\n\n"
        b"--x\nContent-Type: message/delivery-status\n\nAction: failed\nStatus: 5.1.1\n--x--\n"
    ),
    "a report cut off inside its delivery-status": (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n\n"
    ),
    "a report whose delivery-status is a multipart": (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        b'--b\nContent-Type: message/delivery-status; boundary="c"\n\n--c\n\n--c--\n--b--\n'
    ),
    "a feedback report that is not text": (
        b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\n\n'
        b"--b\nContent-Type: message/feedback-report\nContent-Transfer-Encoding: base64\n\n"
        b"!!!not base64!!!\n--b--\n"
    ),
    "twenty megabytes": b"Subject: big\n\n" + b"a" * 20_000_000,
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_mail_is_kept_for_a_person_and_never_breaks_the_poll(raw):
    report = parse_report(raw)
    assert report.kind == UNKNOWN
    assert report.email is None and report.status == ""
    assert len(report.detail) <= 1000 and len(report.event_key) <= 255
    event = report.to_event(raw)
    assert "\x00" not in event.raw and event.kind == UNKNOWN


def test_mail_with_more_parts_than_any_report_is_kept_without_being_taken_apart(token):
    parts = b"".join(b"--b\nContent-Type: text/plain\n\nx\n" for _ in range(300_000))
    raw = b'Content-Type: multipart/report; boundary="b"\n\n' + parts + b"--b--\n"
    report = parse_report(raw)
    assert report.kind == UNKNOWN
    assert report.detail == "Unreadable: more MIME parts than any report has"


def test_a_delivery_status_sent_base64_encoded_is_still_read(token):
    fields = b"Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; reader@example.org\n"
    fields += b"Action: failed\nStatus: 5.1.1\n"
    raw = _dsn(token, "").replace(
        b"Content-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.com\n\n\n",
        b"Content-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(fields),
    )
    report = parse_report(raw)
    assert (report.kind, report.status, report.email) == (HARD, "5.1.1", "reader@example.org")
