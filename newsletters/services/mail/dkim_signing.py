"""DKIM signatures computed by OpenSSL instead of in pure Python.

dkimpy canonicalises and builds the DKIM-Signature header well, but computes
the RSA signature itself with Python's ``pow``: about 8 ms of CPU for a 2048-bit
key, which made signing, not sending, the limit of a DKIM-signed issue. This
hands that one step to ``cryptography`` (OpenSSL), about 0.3 ms, and parses the
key once instead of for every message. RSASSA-PKCS1-v1_5
is deterministic, so the signature is byte for byte the one dkimpy would make;
``tests/services/mail/test_smtp.py`` checks that. Nothing changes until :func:`install`
runs, which ``mime.dkim_signer`` does before the first message is signed: importing
this module leaves dkimpy as it is.
"""

import functools

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

PURE_PYTHON_SIGN = dkim.crypto.RSASSA_PKCS1_v1_5_sign
PARSE_KEY_ONCE = functools.lru_cache(maxsize=4)(dkim.crypto.parse_pem_private_key)
HASHES = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}


@functools.lru_cache(maxsize=4)
def _openssl_key(numbers: tuple[int, ...]) -> rsa.RSAPrivateKey:
    """The OpenSSL key for dkimpy's parsed key numbers, built once per key."""
    n, e, d, p, q, dmp1, dmq1, iqmp = numbers
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp, public).private_key()


def rsa_sign(hash, private_key: dict) -> bytes:  # noqa: A002 (dkimpy's parameter name)
    """dkimpy's ``RSASSA_PKCS1_v1_5_sign``, with the arithmetic done by OpenSSL."""
    algorithm = HASHES.get(hash.name)
    if algorithm is None:
        return PURE_PYTHON_SIGN(hash, private_key)
    key = _openssl_key(
        tuple(
            private_key[name]
            for name in (
                "modulus",
                "publicExponent",
                "privateExponent",
                "prime1",
                "prime2",
                "exponent1",
                "exponent2",
                "coefficient",
            )
        )  # fmt: skip
    )
    return key.sign(hash.digest(), padding.PKCS1v15(), Prehashed(algorithm()))


def install() -> None:
    """Make dkimpy sign through OpenSSL, and parse each key once rather than per message.

    dkimpy looks both functions up in its module at each signature, and never
    changes the parsed key it is given.
    """
    dkim.RSASSA_PKCS1_v1_5_sign = rsa_sign
    dkim.parse_pem_private_key = PARSE_KEY_ONCE
