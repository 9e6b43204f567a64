"""System checks for production settings (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def encryption_keys_check(**kwargs: object) -> list[checks.CheckMessage]:
    """In production the provider-secret key must be set, not derived from SECRET_KEY."""
    if settings.FIELD_ENCRYPTION_KEYS:
        return []
    return [
        checks.Warning(
            "FIELD_ENCRYPTION_KEYS is not set: provider secrets are encrypted with a key "
            "derived from SECRET_KEY.",
            hint="Set FIELD_ENCRYPTION_KEYS to a key from Fernet.generate_key().",
            id="provisioning.W001",
        )
    ]
