"""The one error taxonomy every provider client raises.

Raw `requests` exceptions never leave a client; the sync engine decides what to
do from the class alone: retry, fail with field errors, or pause the account.
"""


class IntegrationError(Exception):
    """Base of every error a provider integration raises."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class TransientError(IntegrationError):
    """Worth retrying later: timeouts, connection errors, 429, 500/502/503/504."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class OutcomeUnknownError(TransientError):
    """A non-idempotent request was sent but its answer was lost: look up before repeating."""


class PermanentError(IntegrationError):
    """Retrying will not help: the request itself is wrong or refused."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        field_errors: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.field_errors = field_errors or {}


class NotFoundError(PermanentError):
    """The provider does not know the object."""


class NotSupportedError(PermanentError):
    """The provider has no such operation (HTTP 501, or absent from its API)."""


class AuthenticationError(IntegrationError):
    """Credentials refused (HTTP 401); for Freespee also a source IP not on the allow list."""
