"""Pipelined SMTP (RFC 2920): one round trip a message, and every failure still sorted right.

A real aiosmtpd server, with and without PIPELINING, behind a TCP proxy that
notes who speaks when, so the round trips are counted on the wire.
"""

import pytest

from newsletters.extensions import mail
from newsletters.services.mail import smtp
from tests.support.mail import SMTPRecorder
from tests.support.proxy import Proxy

MESSAGE = b"From: The Ledger <newsletters@news.example.com>\r\nSubject: %s\r\n\r\nHello.\r\n"


@pytest.fixture(params=[True, False], ids=["pipelining", "one-by-one"])
def server(request):
    recorder = SMTPRecorder(pipelining=request.param)
    recorder.start()
    yield recorder
    recorder.stop()


@pytest.fixture
def proxy(server):
    relay = Proxy(server.host, server.port)
    yield relay
    relay.close()


@pytest.fixture
def transport(app, proxy):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=proxy.port)
    mail.init_app(app)  # Flask-Mail reads its settings when bound
    with app.app_context(), smtp.open_transport() as opened:
        yield opened


def _send(transport, *addresses: str) -> dict[str, smtp.DeliveryError | None]:
    """Submit one message to each address, in order, then finish: each one's outcome."""
    outcomes = {}
    for address in addresses:
        for settled in transport.submit(MESSAGE % address.encode(), address, key=address):
            assert settled.key not in outcomes, "settled twice"
            outcomes[settled.key] = settled.error
    for settled in transport.finish():
        outcomes[settled.key] = settled.error
    assert sorted(outcomes) == sorted(addresses), "every message settled"
    return outcomes


def test_each_message_costs_one_round_trip_when_the_server_pipelines(transport, server, proxy):
    readers = [f"reader{n}@example.com" for n in range(12)]
    assert _send(transport, *readers) == dict.fromkeys(readers)
    assert server.recipients == readers
    assert [m["Subject"] for m in server.messages] == readers
    transport.close()
    # EHLO, then one turn a message (its MAIL, RCPT and DATA with the previous dot),
    # the last dot, and QUIT; one by one, MAIL, RCPT, DATA and the dot wait apart.
    per_message = 1 if server.pipelining else 4
    assert proxy.client_turns() == 1 + per_message * len(readers) + 1 + (server.pipelining)


def test_refused_recipients_fail_alone_and_the_next_message_goes(transport, server):
    server.refuse("gone@example.com", "550 5.1.1 No such user")
    server.refuse("full@busy.example", "452 4.2.2 Mailbox full")
    outcomes = _send(
        transport,
        "a@example.com",
        "gone@example.com",
        "b@example.com",
        "full@busy.example",
        "c@example.com",
    )
    assert server.recipients == ["a@example.com", "b@example.com", "c@example.com"]
    assert [address for address, error in outcomes.items() if error is None] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    gone, full = outcomes["gone@example.com"], outcomes["full@busy.example"]
    assert isinstance(gone, smtp.PermanentFailure) and gone.bad_recipient
    assert str(gone).startswith("550")
    assert type(full) is smtp.TemporaryFailure and not full.bad_recipient
    assert str(full).startswith("452")
    # The 4xx slowed its domain, and no other.
    assert transport.pacer.interval_for("busy.example") > 0
    assert transport.pacer.interval_for("example.com") == 0
    assert _send(transport, "d@example.com") == {"d@example.com": None}


def test_a_refused_sender_keeps_the_message_for_later(transport, server):
    server.refuse_sender("451 4.3.0 Try later")
    outcomes = _send(transport, "a@example.com")
    assert type(outcomes["a@example.com"]) is smtp.TemporaryFailure
    assert "sender refused: 451" in str(outcomes["a@example.com"])
    server.refuse_sender(None)
    assert _send(transport, "b@example.com") == {"b@example.com": None}
    assert server.recipients == ["b@example.com"]


def test_a_server_closing_at_rcpt_ends_that_connection_only(transport, server):
    server.refuse("a@example.com", "421 4.7.0 Too much mail, bye")
    outcomes = _send(transport, "a@example.com", "b@example.com")
    assert type(outcomes["a@example.com"]) is smtp.TemporaryFailure
    assert outcomes["b@example.com"] is None
    assert transport.connections_opened == 2  # a fresh one after the 421
    assert server.recipients == ["b@example.com"]


@pytest.mark.parametrize(
    "reply, kind",
    [("554 5.7.1 Rejected as spam", smtp.PermanentFailure), ("451 4.3.0 Try later", None)],
)
def test_a_message_refused_after_its_content_fails_alone(transport, server, reply, kind):
    _send(transport, "a@example.com")
    server.fail_data(reply)
    outcomes = _send(transport, "b@example.com", "c@example.com", "d@example.com")
    refused = outcomes.pop("b@example.com")
    assert type(refused) is (kind or smtp.TemporaryFailure)
    assert str(refused) == reply and not refused.bad_recipient
    assert outcomes == {"c@example.com": None, "d@example.com": None}
    assert server.recipients == ["a@example.com", "c@example.com", "d@example.com"]


def test_a_connection_lost_mid_group_fails_every_message_not_acknowledged(transport, server):
    outcomes = {}
    for settled in transport.submit(MESSAGE % b"a", "a@example.com", key="a"):
        outcomes[settled.key] = settled.error
    assert outcomes == {}  # the dot waits for the next message
    server.drop_data()  # hangs up on a's final dot, without a reply
    for settled in transport.submit(MESSAGE % b"b", "b@example.com", key="b"):
        outcomes[settled.key] = settled.error
    # Whether a arrived is unknown, and b never went: both are to be tried again.
    assert sorted(outcomes) == ["a", "b"]
    for error in outcomes.values():
        assert type(error) is smtp.TemporaryFailure and "connection lost" in str(error)
    assert transport.finish() == []
    assert _send(transport, "c@example.com") == {"c@example.com": None}
    assert server.recipients == ["c@example.com"]


def test_a_message_never_ended_is_not_delivered(app, transport, server):
    assert transport.submit(MESSAGE % b"a", "a@example.com", key="a") == []
    transport.close()  # as when the sender stops before its next message
    with smtp.open_transport() as again:
        assert _send(again, "b@example.com") == {"b@example.com": None}
    assert server.recipients == ["b@example.com"]


def test_one_by_one_nothing_more_is_said_for_a_refused_recipient(transport, server, proxy):
    server.refuse("gone@example.com", "550 5.1.1 No such user")
    outcomes = _send(transport, "gone@example.com")
    assert isinstance(outcomes["gone@example.com"], smtp.PermanentFailure)
    transport.close()
    # EHLO, the group (pipelined) or MAIL and RCPT (one by one: no DATA after the 550), QUIT.
    assert proxy.client_turns() == (3 if server.pipelining else 4)
