"""Encryption at rest for provider secrets (Fernet: AES-128-CBC + HMAC-SHA256).

`FIELD_ENCRYPTION_KEYS` lists keys newest first: the first encrypts, all of them
decrypt, so a key can be rotated without losing stored secrets. With no key set
(the embedded default only) one is derived from `SECRET_KEY`.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = hashlib.sha256(f"provider-secrets:{secret_key}".encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt(plain: str) -> str:
    """Encrypt a secret for storage."""
    return fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt a stored secret; raises ValueError when no configured key opens it."""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError(
            "The stored secret cannot be decrypted with the configured keys."
        ) from None
