"""The checks a webhook's signature must pass: shared secrets, HMACs, public keys, clocks.

Every comparison of a secret or a MAC takes the same time whatever it matches,
so an answer's timing says nothing about how close a guess came.
"""

import base64
import binascii
import hashlib
import hmac
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def same_secret(given: str | bytes, expected: str | bytes) -> bool:
    """True when ``given`` is ``expected``, compared in constant time."""
    return hmac.compare_digest(_bytes(given), _bytes(expected))


def hmac_sha256_hex(key: str | bytes, message: bytes) -> str:
    """HMAC-SHA256 of ``message`` under ``key``, in lower-case hex."""
    return hmac.new(_bytes(key), message, hashlib.sha256).hexdigest()


def hex_hmac_matches(key: str | bytes, message: bytes, signature: str | None) -> bool:
    """True when ``signature`` is the hex HMAC-SHA256 of ``message`` (either case)."""
    if not signature:
        return False
    return same_secret(signature.strip().lower(), hmac_sha256_hex(key, message))


def basic_auth_matches(header: str | None, user: str, password: str) -> bool:
    """True when an ``Authorization: Basic`` header carries exactly this user and password."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return same_secret(given, f"{user}:{password}")


def decode_base64(value: str | None) -> bytes | None:
    """Standard base64 (padding required) as bytes; None when it is not that."""
    if not value:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def is_fresh(
    moment: datetime | None, now: datetime, max_age: timedelta, max_ahead: timedelta
) -> bool:
    """True when ``moment`` is at most ``max_age`` old and at most ``max_ahead`` in the future."""
    return moment is not None and now - max_age <= moment <= now + max_ahead


def rsa_signature_matches(
    public_key: object, signature: bytes, message: bytes, algorithm: hashes.HashAlgorithm
) -> bool:
    """True when ``signature`` is an RSA PKCS #1 v1.5 signature of ``message`` by this key."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), algorithm)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


def ec_p256_public_key(setting: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from base64 DER (SubjectPublicKeyInfo) or PEM; ValueError otherwise."""
    value = setting.strip()
    if value.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(value.encode("ascii"))
    else:
        der = decode_base64(value)
        if der is None:
            raise ValueError("the key is neither base64 nor PEM")
        key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the key is not an elliptic-curve P-256 public key")
    return key


def ecdsa_sha256_matches(
    public_key: ec.EllipticCurvePublicKey, signature_der: bytes, message: bytes
) -> bool:
    """True when ``signature_der`` (ASN.1 DER) is an ECDSA-SHA256 signature of ``message``."""
    try:
        public_key.verify(signature_der, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
