"""Amazon SNS messages, which carry SES's reports: the signature, its certificate, the subscription.

An SNS message is signed with the private key of a certificate that SNS
publishes; the message names the certificate's URL (``SigningCertURL``). So
the URL is the weak point: a forger names a certificate of their own. Before
anything is fetched, a message must:

- come from a topic on ``SES_TOPIC_ARNS`` (anyone can make a topic and point it
  here, and SNS would sign their messages just the same);
- be at most an hour old (``MAX_AGE``) and not from the future;
- name a certificate URL that starts with one of ``SES_CERT_URL_PREFIXES`` or,
  when that setting is empty, has the form of SNS's own:
  ``https://sns.<region>.amazonaws.com/<name>.pem`` (``.com.cn`` in China), no
  port, no query.

The certificate is fetched through the outbound door (public addresses only,
each redirect checked, time and size capped); where the redirects end must
pass the same URL rule. Certificates are kept in memory by URL, a few dozen at
most. The signature is RSA with SHA1 (``SignatureVersion`` 1) or SHA256 (2),
over the fields SNS lists for the message's type, each as ``name\\nvalue\\n``.
"""

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from flask import current_app

from newsletters.models import utcnow
from newsletters.services.core import outbound
from newsletters.services.deliverability.providers.base import (
    BadSignature,
    MalformedPayload,
    VerificationUnavailable,
    WebhookRequest,
    as_object,
    moment,
    parse_json,
    text,
)
from newsletters.services.deliverability.providers.signatures import (
    decode_base64,
    is_fresh,
    rsa_signature_matches,
)

log = logging.getLogger(__name__)

SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_AGE = timedelta(hours=1)
MAX_AHEAD = timedelta(minutes=15)  # clocks differ a little
AWS_HOST = re.compile(r"sns\.[a-z]{2}(-[a-z]+)+-[0-9]+\.amazonaws\.com(\.cn)?")
CERTIFICATE_BYTES = 64 * 1024
FETCH_SECONDS = 10.0  # well inside the time SNS waits for an answer
KEPT_CERTIFICATES = 32
NO_SIGNATURE = "The message has no Signature, SignatureVersion (1 or 2) and SigningCertURL."
MAX_MESSAGE = 1024 * 1024  # SNS messages are 256 KiB at most; the request cap is lower anyway


@dataclass(frozen=True)
class SnsMessage:
    """A message whose signature was checked."""

    type: str
    message: str
    message_id: str
    topic_arn: str
    subscribe_url: str | None


def verified_message(request: WebhookRequest) -> SnsMessage:
    """The message, once its topic, age, certificate URL and signature pass; else the refusal."""
    envelope = as_object(parse_json(request.body), "The body")
    kind = envelope.get("Type")
    if kind not in SIGNED_FIELDS:
        raise MalformedPayload(f"'Type' must be one of {', '.join(SIGNED_FIELDS)}.")
    for name in SIGNED_FIELDS[kind]:
        text(envelope, name, required=name != "Subject", max_length=MAX_MESSAGE)
    given, version = envelope.get("Signature"), envelope.get("SignatureVersion")
    signature = decode_base64(given) if isinstance(given, str) else None
    certificate_url = envelope.get("SigningCertURL")
    if signature is None or version not in HASHES or not isinstance(certificate_url, str):
        raise BadSignature(NO_SIGNATURE)
    if envelope["TopicArn"] not in current_app.config["SES_TOPIC_ARNS"]:
        raise BadSignature("The message comes from a topic that is not on SES_TOPIC_ARNS.")
    if not is_fresh(moment(envelope["Timestamp"]), utcnow(), MAX_AGE, MAX_AHEAD):
        raise BadSignature("The message is more than an hour old, or from the future.")
    if not is_sns_url(certificate_url, certificate=True):
        raise BadSignature("The signing certificate's URL is not one of Amazon SNS's.")
    public_key = _certificate(certificate_url).public_key()
    if not rsa_signature_matches(
        public_key, signature, string_to_sign(envelope, kind), HASHES[version]()
    ):
        raise BadSignature()
    return SnsMessage(
        kind, envelope["Message"], envelope["MessageId"], envelope["TopicArn"],
        envelope.get("SubscribeURL"),
    )  # fmt: skip


def string_to_sign(envelope: dict, kind: str) -> bytes:
    """What SNS signed: each listed field present, in order, as ``name\\nvalue\\n``."""
    return "".join(
        f"{name}\n{envelope[name]}\n"
        for name in SIGNED_FIELDS[kind]
        if envelope.get(name) is not None
    ).encode("utf-8")


def is_sns_url(url: str, *, certificate: bool) -> bool:
    """True when ``url`` is on ``SES_CERT_URL_PREFIXES`` or, with none set, is SNS's own."""
    prefixes = current_app.config["SES_CERT_URL_PREFIXES"]
    if prefixes:
        return any(url.startswith(_with_path(prefix)) for prefix in prefixes if prefix)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host_only = parts.netloc == parts.hostname and port is None
    if parts.scheme != "https" or not host_only or not AWS_HOST.fullmatch(parts.netloc):
        return False
    if certificate:
        return parts.path.endswith(".pem") and not parts.query and not parts.fragment
    return not parts.fragment


def _with_path(prefix: str) -> str:
    """A prefix that is only ``scheme://host`` ends at the host: ``host.evil`` must not match."""
    prefix = prefix.strip()
    return prefix if urlsplit(prefix).path else prefix + "/"


class _Certificates:
    """The signing certificates fetched so far, by URL, the least recently used dropped first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_url: OrderedDict[str, x509.Certificate] = OrderedDict()

    def get(self, url: str) -> x509.Certificate | None:
        with self.lock:
            found = self.by_url.get(url)
            if found is not None:
                self.by_url.move_to_end(url)
            return found

    def keep(self, url: str, certificate: x509.Certificate) -> None:
        with self.lock:
            self.by_url[url] = certificate
            while len(self.by_url) > KEPT_CERTIFICATES:
                self.by_url.popitem(last=False)


def _certificate(url: str) -> x509.Certificate:
    """The certificate at ``url`` (kept from before, or fetched now) if valid today."""
    kept = current_app.extensions.setdefault("sns_signing_certificates", _Certificates())
    certificate = kept.get(url)
    if certificate is None:
        certificate = _fetch_certificate(url)
        kept.keep(url, certificate)
    now = utcnow()
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise BadSignature("The signing certificate has expired or is not valid yet.")
    return certificate


def _fetch(url: str, what: str) -> outbound.OutboundResponse:
    """GET ``url`` through the outbound door; refusals are 401, failures 503 (try later)."""
    seconds = min(FETCH_SECONDS, float(current_app.config["OUTBOUND_TIMEOUT_SECONDS"]))
    try:
        response = outbound.fetch(
            url, max_bytes=CERTIFICATE_BYTES, timeout=seconds, max_redirects=2
        )
    except outbound.OutboundRefused as exc:
        log.warning("refused to fetch the SNS %s at %r: %s", what, url, exc)
        raise BadSignature(f"The {what}'s URL was refused.") from None
    except outbound.OutboundFailed as exc:
        log.warning("could not fetch the SNS %s at %r: %s", what, url, exc)
        raise VerificationUnavailable() from None
    if not is_sns_url(response.url, certificate=what == "signing certificate"):
        log.warning("the SNS %s at %r redirected to %r", what, url, response.url)
        raise BadSignature(f"The {what}'s URL redirected away from Amazon SNS.")
    if response.status >= 500:
        raise VerificationUnavailable()
    return response


def _fetch_certificate(url: str) -> x509.Certificate:
    response = _fetch(url, "signing certificate")
    if response.status != 200:
        raise BadSignature("The signing certificate could not be fetched.")
    try:
        return x509.load_pem_x509_certificate(response.body)
    except ValueError:
        raise BadSignature("The signing certificate's URL holds no certificate.") from None


def confirm_subscription(message: SnsMessage) -> None:
    """Say yes to SNS: visit the (signed) SubscribeURL, if it is one of Amazon SNS's."""
    url = message.subscribe_url or ""
    if not is_sns_url(url, certificate=False):
        raise BadSignature("The SubscribeURL is not one of Amazon SNS's.")
    response = _fetch(url, "subscription confirmation")
    if response.status != 200:
        log.warning("SNS answered %s to the confirmation of %s", response.status, message.topic_arn)
        raise VerificationUnavailable("Amazon SNS did not confirm the subscription; try again.")
    log.info("confirmed the SNS subscription to %s", message.topic_arn)
