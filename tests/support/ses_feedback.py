"""Amazon SES's feedback as SNS delivers it, in the documented shape, signed as SNS signs it.

The signer is written from SNS's documentation, apart from the code under
test, so a mistake in one does not hide the same mistake in the other.
"""

import base64
import datetime
import json
import secrets
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"


class SnsSigner:
    """An RSA key and a certificate for it, standing in for SNS's signing certificate."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        self.pem = certificate.public_bytes(serialization.Encoding.PEM)
        self.path = f"/SimpleNotificationService-{uuid.uuid4().hex}.pem"

    def sign(self, envelope: dict, version: str = "1") -> dict:
        """``envelope`` with SignatureVersion and Signature, as SNS computes them."""
        if envelope["Type"] == "Notification":
            names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        else:
            names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn"]
            names.append("Type")
        canonical = "".join(f"{n}\n{envelope[n]}\n" for n in names if n in envelope)
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(canonical.encode(), padding.PKCS1v15(), algorithm)
        return {
            **envelope,
            "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode(),
        }


def sns_time(moment: datetime.datetime | None = None) -> str:
    """SNS's timestamp format: ISO 8601 in UTC with milliseconds and a Z."""
    moment = moment or datetime.datetime.now(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sns_notification(message: dict | str, cert_url: str, **fields) -> dict:
    """An unsigned SNS Notification carrying ``message`` (SES's JSON, as a string)."""
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": sns_time(),
        "SigningCertURL": cert_url,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        **fields,
    }


def sns_subscription(subscribe_url: str, cert_url: str) -> dict:
    """An unsigned SNS SubscriptionConfirmation."""
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": secrets.token_hex(32),
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
        "SubscribeURL": subscribe_url,
        "Timestamp": sns_time(),
        "SigningCertURL": cert_url,
    }


def ses_mail(source: str = "newsletters@newsletters.test", headers: list | None = None) -> dict:
    """SES's ``mail`` object: SES's own message id, the envelope sender, the original headers."""
    mail = {
        "timestamp": "2026-11-23T09:30:00.000Z",
        "source": source,
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/newsletters.test",
        "sendingAccountId": "123456789012",
        "messageId": "0100018c0a1b2c3d-0123abcd-4567-89ef-0123-456789abcdef-000000",
        "destination": ["reader0@example.com"],
    }
    if headers is not None:
        mail.update(headersTruncated=False, headers=headers)
    return mail


def ses_bounce(
    addresses: list[str], bounce_type: str = "Permanent", field: str = "notificationType", **mail
) -> dict:
    """An SES bounce notification (or, with ``field="eventType"``, a published event)."""
    return {
        field: "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": a,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": f"smtp; 550 5.1.1 <{a}>... User unknown",
                }
                for a in addresses
            ],
            "timestamp": "2026-11-23T09:31:00.000Z",
            "feedbackId": f"0100018c-{uuid.uuid4()}-000000",
            "reportingMTA": "dsn; a1-2.smtp-out.amazonses.com",
        },
        "mail": ses_mail(**mail),
    }


def ses_complaint(addresses: list[str], feedback_type: str = "abuse") -> dict:
    """An SES complaint notification."""
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": a} for a in addresses],
            "timestamp": "2026-11-23T10:00:00.000Z",
            "feedbackId": f"0100018c-{uuid.uuid4()}-000000",
            "userAgent": "ExampleCorp Feedback Loop (V0.01)",
            "complaintFeedbackType": feedback_type,
            "arrivalDate": "2026-11-23T09:59:00.000Z",
        },
        "mail": ses_mail(),
    }
