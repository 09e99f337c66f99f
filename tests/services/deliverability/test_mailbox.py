"""The bounce mailbox, polled over IMAP and POP3 on a real Dovecot: sorted, applied once, filed.

Every report here is about a message the app really sent: its return path and
Message-ID come off the SMTP server, as a real bounce's would.
"""

from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import BounceReport, DeliveryStatus, Suppression, SuppressionReason
from newsletters.services.deliverability import mailbox
from newsletters.services.deliverability.imap_folder import ImapFolder
from newsletters.services.deliverability.mailbox import MailboxUnavailable
from newsletters.services.deliverability.pop3_maildrop import Pop3Maildrop
from newsletters.services.mail import suppressions
from tests.support import bounce_mail
from tests.support.bounces import BOUNCE_DOMAIN, delivery_of, sent_issue

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
# The shapes nothing should act on: a person reads them.
FOR_A_PERSON = {
    "arf_not_spam",
    "human_reply_remove_me",
    "malformed_report",
    "newsletter_to_bounce_address",
    "postmaster_note",
}


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings(), BOUNCE_DOMAIN=BOUNCE_DOMAIN)
    return settings


@pytest.fixture
def sent(app, runner, smtp_server, weekly) -> dict[str, tuple[bytes, str]]:
    """Three readers' copies of this week's issue: address -> (the copy, its return path)."""
    sent_issue(app, runner, smtp_server, weekly)
    return bounce_mail.sent_copies(smtp_server)


def _poll(app, url):
    with app.app_context():
        return mailbox.poll(url)


def _reports(app) -> list[tuple[str, str, str | None]]:
    """(kind, outcome, email) of every stored report, oldest first."""
    with app.app_context():
        rows = db.session.scalars(select(BounceReport).order_by(BounceReport.id))
        return [(str(r.kind), r.outcome, r.email) for r in rows]


def _suppressed(app) -> dict[str, str]:
    with app.app_context():
        rows = db.session.scalars(select(Suppression))
        by_hash = {r.email_hash: str(r.reason) for r in rows}
        addresses = [f"r0{n}@example.com" for n in range(3)]
        return {a: by_hash[suppressions.address_hash(a)] for a in addresses if
                suppressions.address_hash(a) in by_hash}  # fmt: skip


def _bounce_of(sent, n, **fields) -> bytes:
    address = f"r0{n}@example.com"
    original, return_path = sent[address]
    return bounce_mail.dsn(original, return_path, address, **fields)


def test_imap_a_hard_bounce_suppresses_the_reader_and_is_filed_in_processed(app, sent, dovecot):
    report = _bounce_of(sent, 0)
    dovecot.deliver(report)
    result = _poll(app, dovecot.imap_url)
    assert (result.fetched, result.applied, result.errors) == (1, 1, 0)
    assert _suppressed(app) == {"r00@example.com": SuppressionReason.BOUNCED}
    with app.app_context():
        assert delivery_of("r00@example.com").status == DeliveryStatus.BOUNCED
        assert delivery_of("r01@example.com").status == DeliveryStatus.SENT
    assert dovecot.list("INBOX") == []
    assert dovecot.list("Processed") == [report]  # moved as it was, byte for byte
    assert _reports(app) == [("hard", "suppressed", "r00@example.com")]


def test_imap_a_persons_mail_is_kept_unread_for_a_person_and_an_auto_reply_is_ignored(
    app, sent, dovecot
):
    original, return_path = sent["r01@example.com"]
    note = bounce_mail.person_wrote(return_path)
    away = bounce_mail.auto_reply(original, return_path, "r01@example.com")
    dovecot.deliver(note)
    dovecot.deliver(away)
    result = _poll(app, dovecot.imap_url)
    assert (result.fetched, result.kept, result.ignored, result.applied) == (2, 1, 1, 0)
    [(kept, flags)] = dovecot.messages("Unrecognised")
    assert kept == note and "\\Seen" not in flags  # still unread, for the person who reads it
    assert dovecot.list("Processed") == [away]
    assert dovecot.list("INBOX") == []
    assert _suppressed(app) == {}
    assert sorted(_reports(app)) == [("autoreply", "ignored", None), ("unknown", "kept", None)]


def test_imap_a_complaint_unsubscribes_and_a_delay_notice_changes_nothing(app, sent, dovecot):
    original, return_path = sent["r02@example.com"]
    dovecot.deliver(bounce_mail.complaint(original, f"fbl@{BOUNCE_DOMAIN}"))
    dovecot.deliver(_bounce_of(sent, 1, status="4.4.1", action="delayed", diagnostic="timeout"))
    result = _poll(app, dovecot.imap_url)
    assert (result.applied, result.ignored) == (1, 1)
    assert _suppressed(app) == {"r02@example.com": SuppressionReason.COMPLAINED}
    assert len(dovecot.list("Processed")) == 2


@pytest.mark.parametrize("scheme", ["imap", "pop3"])
def test_every_report_shape_in_the_collection_is_filed_where_its_kind_belongs(
    app, sent, dovecot, scheme
):
    """The collection of real-world shapes, each naming a copy that was really sent."""
    token = sent["r00@example.com"][1].partition("+")[2].partition("@")[0]
    shapes = {
        path.stem: path.read_bytes().replace(b"{{token}}", token.encode()).replace(b"\n", b"\r\n")
        for path in sorted(FIXTURES.glob("*.eml"))
    }
    for raw in shapes.values():
        dovecot.deliver(raw)
    result = _poll(app, dovecot.url(scheme))
    assert (result.fetched, result.errors) == (len(shapes), 0)
    assert result.kept == len(FOR_A_PERSON)
    for_a_person = sorted(shapes[name] for name in FOR_A_PERSON)
    if scheme == "imap":
        assert sorted(dovecot.list("Unrecognised")) == for_a_person
        assert len(dovecot.list("Processed")) == len(shapes) - len(FOR_A_PERSON)
    assert sorted(dovecot.list("INBOX")) == ([] if scheme == "imap" else for_a_person)
    assert "r00@example.com" in _suppressed(app)
    assert len(_reports(app)) == len(shapes)


def test_a_forged_token_suppresses_nobody_and_the_report_is_filed_as_unmatched(app, sent, dovecot):
    original, return_path = sent["r00@example.com"]
    local, _, domain = return_path.partition("@")
    forged_path = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    forged = original.replace(return_path.encode(), forged_path.encode())
    forged = forged.replace(local.removeprefix("bounces+").encode(), b"d1-aaaaaaaaaaaaaaaa")
    dovecot.deliver(bounce_mail.dsn(forged, forged_path, "r00@example.com"))
    result = _poll(app, dovecot.imap_url)
    assert (result.unmatched, result.applied) == (1, 0)
    assert _suppressed(app) == {}
    assert len(dovecot.list("Processed")) == 1  # read and recorded; there was nothing to do
    assert [(kind, outcome) for kind, outcome, _ in _reports(app)] == [("hard", "unmatched")]


def test_a_second_poll_applies_nothing_twice(app, sent, dovecot):
    report = _bounce_of(sent, 0)
    original, _ = sent["r01@example.com"]
    dovecot.deliver(report)
    dovecot.deliver(bounce_mail.complaint(original, f"fbl@{BOUNCE_DOMAIN}"))
    first = _poll(app, dovecot.imap_url)
    assert first.applied == 2
    stored = _reports(app)
    dovecot.deliver(report)  # the same report, delivered again
    again = _poll(app, dovecot.imap_url)
    assert (again.fetched, again.replayed, again.new) == (1, 1, 0)
    assert _reports(app) == stored
    assert len(dovecot.list("Processed")) == 3 and dovecot.list("INBOX") == []
    assert _poll(app, dovecot.imap_url).fetched == 0


@pytest.mark.parametrize("session", [ImapFolder, Pop3Maildrop], ids=["imap", "pop3"])
def test_a_poll_cut_off_halfway_loses_nothing_and_the_next_applies_each_report_once(
    app, sent, dovecot, monkeypatch, session
):
    """The server goes away after the second report was committed and before it was filed."""
    reports = [_bounce_of(sent, n) for n in range(3)]
    for report in reports:
        dovecot.deliver(report)
    url = dovecot.imap_url if session is ImapFolder else dovecot.pop3_url
    real_file, calls = session.file, []

    def file_then_lose_the_server(self, ident, destination):
        calls.append(ident)
        if len(calls) == 2:
            dovecot.stop()  # a real outage, at the worst moment
        return real_file(self, ident, destination)

    monkeypatch.setattr(session, "file", file_then_lose_the_server)
    with pytest.raises(MailboxUnavailable) as cut_off:
        _poll(app, url)
    assert cut_off.value.report.applied == 2
    assert len(_reports(app)) == 2  # both committed before the server went
    monkeypatch.setattr(session, "file", real_file)
    dovecot.start()
    if session is ImapFolder:
        assert len(dovecot.list("Processed")) == 1 and len(dovecot.list("INBOX")) == 2
    else:
        assert dovecot.list("INBOX") == reports  # no QUIT: not even the first was deleted
    again = _poll(app, url)
    assert (again.replayed, again.applied, again.errors) == (2 if session is Pop3Maildrop else 1,
                                                             1, 0)  # fmt: skip
    assert [outcome for _, outcome, _ in _reports(app)] == ["suppressed"] * 3
    assert dovecot.list("INBOX") == []
    if session is ImapFolder:
        assert sorted(dovecot.list("Processed")) == sorted(reports)


def test_pop3_a_poll_interrupted_with_the_server_up_deletes_nothing(
    app, sent, dovecot, monkeypatch
):
    """Stopped by the operator (Ctrl-C) after one message was marked for deletion: no QUIT."""
    reports = [_bounce_of(sent, n) for n in range(2)]
    for report in reports:
        dovecot.deliver(report)
    real_file, calls = Pop3Maildrop.file, []

    def interrupted_on_the_second(self, ident, destination):
        calls.append(ident)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_file(self, ident, destination)

    monkeypatch.setattr(Pop3Maildrop, "file", interrupted_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        _poll(app, dovecot.pop3_url)
    assert dovecot.list("INBOX") == reports  # the first was marked, and is still there
    monkeypatch.setattr(Pop3Maildrop, "file", real_file)
    again = _poll(app, dovecot.pop3_url)
    assert (again.replayed, again.applied) == (2, 0)
    assert dovecot.list("INBOX") == []


def test_pop3_stores_and_deletes_what_it_read_and_leaves_a_persons_mail_on_the_server(
    app, sent, dovecot
):
    original, return_path = sent["r01@example.com"]
    report = _bounce_of(sent, 0)
    note = bounce_mail.person_wrote(return_path, "x" * 5000)  # one line longer than POP3 likes
    dovecot.deliver(report)
    dovecot.deliver(note)
    dovecot.deliver(bounce_mail.auto_reply(original, return_path, "r01@example.com"))
    result = _poll(app, dovecot.pop3_url)
    assert (result.fetched, result.applied, result.kept, result.ignored) == (3, 1, 1, 1)
    assert dovecot.list("INBOX") == [note]  # the one nobody understood stays
    assert _suppressed(app) == {"r00@example.com": SuppressionReason.BOUNCED}
    with app.app_context():
        stored = db.session.scalar(select(BounceReport).where(BounceReport.kind == "hard"))
        assert stored.raw.encode() == report  # deleted from the server, kept here
    before = _reports(app)
    again = _poll(app, dovecot.pop3_url)
    assert (again.fetched, again.replayed, again.new) == (1, 1, 0)
    assert _reports(app) == before
    assert dovecot.list("INBOX") == [note]


def test_a_message_the_server_flagged_deleted_is_never_read(app, sent, dovecot):
    dovecot.deliver(bounce_mail.person_wrote(f"bounces@{BOUNCE_DOMAIN}"))
    session = dovecot._session()
    session.select("INBOX")
    session.store("1", "+FLAGS", "(\\Deleted)")
    session.logout()
    assert _poll(app, dovecot.imap_url).fetched == 0
    assert len(dovecot.list("INBOX")) == 1 and _reports(app) == []


@pytest.mark.parametrize(
    "dovecot", [{"imap_capability": "IMAP4rev1 LITERAL+ UIDPLUS"}], indirect=True
)
def test_without_move_a_message_is_copied_then_expunged_alone(app, sent, dovecot):
    dovecot.deliver(bounce_mail.person_wrote(f"bounces@{BOUNCE_DOMAIN}", "someone else's"))
    dovecot.deliver(_bounce_of(sent, 0))
    session = dovecot._session()
    session.select("INBOX")
    session.store("1", "+FLAGS", "(\\Deleted)")  # a person deleted it, and has not expunged
    session.logout()
    result = _poll(app, dovecot.imap_url)
    assert (result.fetched, result.applied) == (1, 1)
    assert len(dovecot.list("Processed")) == 1
    [(_, flags)] = dovecot.messages("INBOX")  # the other message is still there
    assert "\\Deleted" in flags


@pytest.mark.parametrize("dovecot", [{"imap_capability": "IMAP4rev1 LITERAL+"}], indirect=True)
def test_without_move_or_uidplus_the_original_stays_flagged_and_is_not_read_again(
    app, sent, dovecot
):
    dovecot.deliver(_bounce_of(sent, 0))
    assert _poll(app, dovecot.imap_url).applied == 1
    [(_, flags)] = dovecot.messages("INBOX")
    assert "\\Deleted" in flags  # left for the mail client: a plain EXPUNGE removes others' too
    assert _poll(app, dovecot.imap_url).fetched == 0
    assert len(dovecot.list("Processed")) == 1


def test_a_message_too_big_to_read_goes_to_a_person_with_its_header_kept(
    app, sent, dovecot, monkeypatch
):
    monkeypatch.setattr(mailbox, "MAX_MESSAGE_BYTES", 4000)
    big = bounce_mail.person_wrote(f"bounces@{BOUNCE_DOMAIN}", "y" * 5000)
    dovecot.deliver(big)
    result = _poll(app, dovecot.imap_url)
    assert (result.fetched, result.kept) == (1, 1)
    assert dovecot.list("Unrecognised") == [big]
    with app.app_context():
        [stored] = db.session.scalars(select(BounceReport))
        assert "A question about the newsletter" in stored.raw and "yyyy" not in stored.raw
        assert "only its header was kept" in stored.detail
    assert _poll(app, dovecot.imap_url).fetched == 0


def test_a_poll_stops_at_its_limit_and_the_next_goes_on(app, sent, dovecot, monkeypatch):
    monkeypatch.setattr(mailbox, "MAX_NEW_MESSAGES", 2)
    for n in range(3):
        dovecot.deliver(_bounce_of(sent, n))
    first = _poll(app, dovecot.imap_url)
    assert (first.applied, first.more_waiting) == (2, True)
    assert "More mail is waiting" in first.summary()
    second = _poll(app, dovecot.imap_url)
    assert (second.applied, second.more_waiting) == (1, False)
    assert len(_suppressed(app)) == 3


def test_a_folder_that_does_not_exist_is_named_in_the_error(app, dovecot):
    with pytest.raises(MailboxUnavailable) as missing:
        _poll(app, dovecot.url("imap", "Bounces"))
    assert "could not be read: the server answered: the folder Bounces" in str(missing.value)
    assert dovecot.password not in str(missing.value)


@pytest.mark.parametrize("scheme", ["imaps", "pop3s"])
def test_tls_checks_the_servers_certificate(app, sent, dovecot, monkeypatch, scheme):
    dovecot.deliver(_bounce_of(sent, 0))
    with pytest.raises(MailboxUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        _poll(app, dovecot.url(scheme))  # a certificate nobody vouches for
    assert _reports(app) == []
    monkeypatch.setenv("SSL_CERT_FILE", dovecot.cafile)  # the operator trusts its authority
    assert _poll(app, dovecot.url(scheme)).applied == 1
    assert _suppressed(app) == {"r00@example.com": SuppressionReason.BOUNCED}


def test_polls_running_at_once_apply_each_report_once(app, sent, dovecot):
    for n in range(3):
        dovecot.deliver(_bounce_of(sent, n))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _poll(app, dovecot.imap_url), range(2)))
    assert sum(r.applied for r in results) == 3
    assert sum(r.errors for r in results) == 0
    assert len(_reports(app)) == 3 and not dovecot.list("INBOX")
    # Two sessions may both move one message before either hears of the other's move,
    # which leaves a second copy in Processed: filed twice, never applied twice.
    filed = {message_from_bytes(raw)["Message-ID"] for raw in dovecot.list("Processed")}
    assert len(filed) == 3
