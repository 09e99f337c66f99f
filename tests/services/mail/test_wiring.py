"""Mail is wired by ``create_app``, never by an import; the SMTP probe behind ``flask check``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import OutboxKind, OutboxMessage, OutboxStatus
from newsletters.services.core import transactions
from newsletters.services.core.transactions import atomic
from newsletters.services.mail import outbox, smtp
from newsletters.services.mail.render import render_email
from tests.support.mail import SMTPRecorder, free_port, password_checker
from tests.support.tls import rsa_key_pair, server_context

ROOT = Path(__file__).resolve().parents[3]

# Signs one message before and after ``init_app`` in a fresh interpreter, at a fixed time.
DKIM_SCRIPT = """
import time
import dkim
from newsletters.services.mail import dkim_signing, mime, outbox
from tests.support.tls import rsa_key_pair

time.time = lambda: 1767225600.0
private, _ = rsa_key_pair()
raw = b"From: a@example.com\\r\\nTo: b@example.com\\r\\nSubject: Hi\\r\\n\\r\\nHello\\r\\n"

def sign():
    return dkim.sign(raw, b"s", b"example.com", private, include_headers=[b"from", b"subject"])

assert dkim.RSASSA_PKCS1_v1_5_sign is dkim_signing.PURE_PYTHON_SIGN, "patched on import"
pure = sign()
assert dkim_signing._openssl_key.cache_info().currsize == 0, "OpenSSL used before init"
dkim_signing.install()
assert dkim.RSASSA_PKCS1_v1_5_sign is dkim_signing.rsa_sign, "install did not patch"
assert sign() == pure, "the OpenSSL signature differs from dkimpy's"
assert dkim_signing._openssl_key.cache_info().currsize == 1, "OpenSSL not used after init"
"""

# Builds an app with a DKIM key in a fresh interpreter, then signs one message with it.
APP_DKIM_SCRIPT = """
import json, sys
from newsletters import create_app
from newsletters.services.mail import mime

app = create_app(json.loads(sys.argv[1]))
assert "dkim" not in sys.modules and "cryptography" not in sys.modules, "loaded before signing"
with app.app_context():
    signed = mime.dkim_sign(b"From: a@example.com\\r\\nSubject: Hi\\r\\n\\r\\nHello\\r\\n")
assert signed.startswith(b"DKIM-Signature: "), signed[:40]
import dkim
from newsletters.services.mail import dkim_signing
assert dkim.RSASSA_PKCS1_v1_5_sign is dkim_signing.rsa_sign, "not signed through OpenSSL"
assert dkim_signing._openssl_key.cache_info().currsize == 1, "OpenSSL not used"
"""


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(smtp_server.settings())
    return settings


def _python(code: str, *args: str) -> None:
    """Run ``code`` in a fresh interpreter, from the project's root, and require success."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_importing_the_whole_package_registers_no_transaction_hooks():
    _python(
        "import newsletters.services.mail.outbox as o, "
        "newsletters.services.core.transactions as t; "
        "assert not t._after_commit and not t._after_rollback, (t._after_commit, t._after_rollback)"
    )


def test_importing_the_signing_code_leaves_dkimpy_alone_until_installed():
    _python(DKIM_SCRIPT)


def test_the_apps_first_signed_message_loads_dkimpy_and_signs_through_openssl(settings):
    private, _ = rsa_key_pair()
    settings.update(DKIM_PRIVATE_KEY=private.decode(), DKIM_SELECTOR="s")
    _python(APP_DKIM_SCRIPT, json.dumps(settings))


@atomic
def _queue_mail(address: str, fail: bool = False) -> None:
    """A unit of work that writes one message, and fails afterwards when asked."""
    email = render_email("preferences_link", "Your link", preferences_url="https://x.test/p")
    outbox.enqueue(kind=OutboxKind.TEST, to=address, email=email)
    if fail:
        raise RuntimeError("the change is abandoned")


def _statuses(app) -> dict[str, OutboxStatus]:
    """address -> status of every outbox row."""
    with app.app_context():
        return {m.to_address: m.status for m in db.session.scalars(select(OutboxMessage))}


def test_create_app_is_what_sends_mail_when_a_unit_of_work_commits(
    settings, make_app, smtp_server, monkeypatch
):
    app = make_app(settings)
    monkeypatch.setattr(transactions, "_after_commit", [])  # as if no app had wired the outbox
    monkeypatch.setattr(transactions, "_after_rollback", [])
    with app.app_context():
        _queue_mail("unwired@example.com")
    assert smtp_server.recipients == []
    assert _statuses(app) == {"unwired@example.com": OutboxStatus.PENDING}

    make_app(settings)
    make_app(settings)  # a second app must not send everything twice
    assert transactions._after_commit == [outbox.send_committed]
    assert transactions._after_rollback == [outbox.forget_enqueued]
    with app.app_context():
        with pytest.raises(RuntimeError):
            _queue_mail("abandoned@example.com", fail=True)
        assert outbox.ENQUEUED_KEY not in db.session.info  # the rolled-back mail is forgotten
        _queue_mail("wired@example.com")
    assert smtp_server.recipients == ["wired@example.com"]
    assert _statuses(app) == {
        "unwired@example.com": OutboxStatus.PENDING,
        "wired@example.com": OutboxStatus.SENT,
    }


def _check_line(app, name: str) -> str:
    """The line ``flask check`` prints for one check."""
    output = app.test_cli_runner().invoke(args=["check"]).output
    [line] = [line for line in output.splitlines() if f" {name}: " in line]
    return line


def test_the_probe_talks_to_a_real_server(app, smtp_server):
    with app.app_context():
        assert smtp.probe() is None
    assert _check_line(app, "mail") == f"ok        mail: 127.0.0.1:{smtp_server.port} answers"


def test_the_probe_reports_a_closed_port(settings, make_app):
    port = free_port()
    app = make_app({**settings, "MAIL_PORT": port})
    with app.app_context():
        error = smtp.probe()
    assert error is not None and "Connection refused" in error
    assert _check_line(app, "mail") == f"FAILED    mail: 127.0.0.1:{port} refused: {error}"


@pytest.mark.parametrize(("password", "refusal"), [("s3cret", None), ("wrong", "535")])
def test_the_probe_starts_tls_and_logs_in_as_sending_does(
    settings, make_app, tmp_path, password, refusal
):
    server = SMTPRecorder(
        tls_context=server_context(tmp_path),
        require_starttls=True,
        authenticator=password_checker("mailer", "s3cret"),
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],
    )
    server.start()
    try:
        app = make_app(
            {
                **settings,
                **server.settings(),
                "MAIL_USE_TLS": True,
                "MAIL_USERNAME": "mailer",
                "MAIL_PASSWORD": password,
            }
        )
        with app.app_context():
            error = smtp.probe()
        if refusal is None:
            assert error is None
            assert _check_line(app, "mail").endswith("answers and accepts our login")
        else:
            assert error is not None and refusal in error
            assert _check_line(app, "mail").startswith("FAILED")
    finally:
        server.stop()
