"""Where SES's signing certificate may come from: SNS's own URLs, or the prefixes set.

``outbound.resolve`` (what a name resolves to) and ``outbound.is_allowed_address``
(which loopback address counts as public) are the only parts replaced; the
servers are real.
"""

import json
import ssl

import pytest

from newsletters.services.core import outbound
from newsletters.services.deliverability.providers import sns
from tests.support.provider_webhooks import (
    WEBHOOK,
    nothing_changed,
    reports,
    suppression,
)
from tests.support.ses_feedback import (
    TOPIC,
    SnsSigner,
    ses_bounce,
    sns_notification,
)
from tests.support.web import PUBLIC_IN_TESTS, answer, https_serving, redirect, serving

URL = WEBHOOK.format("ses")


@pytest.fixture
def settings(settings):
    settings["SES_TOPIC_ARNS"] = [TOPIC]
    return settings


@pytest.fixture
def lookups(monkeypatch) -> list[str]:
    """Every name the service tried to resolve (none resolves: there is no network)."""
    asked: list[str] = []

    def resolve(host, port):
        asked.append(host)
        raise OSError("no network in tests")

    monkeypatch.setattr(outbound, "resolve", resolve)
    return asked


def _post(client, envelope):
    return client.post(URL, data=json.dumps(envelope), content_type="text/plain; charset=UTF-8")


@pytest.mark.parametrize(
    "cert_url",
    [
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
        "https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.txt",
        "https://evil.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sqs.us-east-1.amazonaws.com/SimpleNotificationService-1.pem",
        "https://sns.amazonaws.com/SimpleNotificationService-1.pem",
        "https://127.0.0.1/SimpleNotificationService-1.pem",
    ],
)
def test_without_prefixes_only_sns_own_certificate_urls_are_fetched(
    app, client, reader, lookups, cert_url
):
    assert app.config["SES_CERT_URL_PREFIXES"] == []
    envelope = SnsSigner().sign(sns_notification(ses_bounce([reader]), cert_url))
    assert _post(client, envelope).status_code == 401
    assert lookups == []
    assert nothing_changed(app)


def test_without_prefixes_an_sns_certificate_url_is_fetched(app, client, reader, lookups):
    app.config["OUTBOUND_TIMEOUT_SECONDS"] = 0.5  # a failure is reported at the deadline
    cert_url = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123abcd.pem"
    envelope = SnsSigner().sign(sns_notification(ses_bounce([reader]), cert_url))
    assert _post(client, envelope).status_code == 503  # it tried: there is no network here
    assert lookups == ["sns.eu-west-1.amazonaws.com"]


@pytest.mark.parametrize(
    ("url", "certificate", "allowed"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c64.pem", True, True),
        ("https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-1.pem", True, True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem", True, True),
        ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t", False, True),
        ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=t", True, False),
        ("https://sns.us-east-1.amazonaws.com@evil.example/x.pem", True, False),
        ("https://sns.us-east-1.amazonaws.com\\@evil.example/x.pem", True, False),
    ],
)
def test_the_default_rule(app, url, certificate, allowed):
    with app.app_context():
        assert sns.is_sns_url(url, certificate=certificate) is allowed


def test_a_prefix_without_a_path_does_not_match_a_longer_host_name(app):
    app.config["SES_CERT_URL_PREFIXES"] = ["https://sns.us-east-1.amazonaws.com"]
    with app.app_context():
        assert sns.is_sns_url("https://sns.us-east-1.amazonaws.com/c.pem", certificate=True)
        assert not sns.is_sns_url(
            "https://sns.us-east-1.amazonaws.com.evil.example/c.pem", certificate=True
        )


def test_a_certificate_url_that_redirects_into_the_private_network_is_refused(
    app, client, reader, monkeypatch
):
    assert app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] is False
    rule = outbound.is_public_address
    monkeypatch.setattr(
        outbound, "is_allowed_address", lambda ip: ip == PUBLIC_IN_TESTS or rule(ip)
    )
    signer = SnsSigner()
    with serving({signer.path: answer(200, signer.pem)}) as internal:
        routes = {signer.path: redirect(internal.url(signer.path))}
        with serving(routes, host=PUBLIC_IN_TESTS) as public:
            app.config["SES_CERT_URL_PREFIXES"] = [public.url("/"), internal.url("/")]
            envelope = signer.sign(sns_notification(ses_bounce([reader]), public.url(signer.path)))
            response = _post(client, envelope)
    assert response.status_code == 401
    assert len(public.seen) == 1 and internal.seen == []
    assert nothing_changed(app)


def test_a_certificate_url_that_redirects_off_the_prefixes_is_refused(app, client, reader):
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True
    signer = SnsSigner()
    with serving({signer.path: answer(200, signer.pem)}) as elsewhere:
        with serving({signer.path: redirect(elsewhere.url(signer.path))}) as listed:
            app.config["SES_CERT_URL_PREFIXES"] = [listed.url("/")]
            envelope = signer.sign(sns_notification(ses_bounce([reader]), listed.url(signer.path)))
            assert _post(client, envelope).status_code == 401
    assert nothing_changed(app)


def test_the_certificate_is_fetched_over_https_with_the_host_name_checked(
    app, client, reader, tmp_path, monkeypatch
):
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    signer = SnsSigner()
    routes = {signer.path: answer(200, signer.pem)}
    with https_serving(tmp_path, "sns-certificates.test", routes) as (server, cafile, names):
        trusting = ssl.create_default_context(cafile=cafile)
        monkeypatch.setattr(outbound.ssl, "create_default_context", lambda: trusting)
        base = f"https://sns-certificates.test:{server.port}"
        app.config["SES_CERT_URL_PREFIXES"] = [base]
        envelope = signer.sign(sns_notification(ses_bounce([reader]), base + signer.path), "2")
        assert _post(client, envelope).status_code == 200
    assert names == ["sns-certificates.test"]
    with app.app_context():
        assert suppression(reader) is not None and len(reports()) == 1


def test_a_certificate_url_that_holds_no_certificate_is_401(app, client, reader):
    app.config["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = True
    signer = SnsSigner()
    with serving({signer.path: answer(200, b"<html>hello</html>")}) as server:
        app.config["SES_CERT_URL_PREFIXES"] = [server.url("/")]
        envelope = signer.sign(sns_notification(ses_bounce([reader]), server.url(signer.path)))
        assert _post(client, envelope).status_code == 401
    assert nothing_changed(app)
