"""The shared HTTP layer every provider client stands on.

One pooled `requests.Session` per client (one client per provider account),
connect and read timeouts, a `User-Agent` naming the portal, and one hook that
records every exchange with secrets redacted. Transport failures are mapped to
the taxonomy in `integrations.errors` here, once; each client maps its
provider's error bodies through `HttpClient.raise_for_status`.
"""

import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from integrations.contract import AccountConfig, Exchange, Recorder
from integrations.errors import (
    AuthenticationError,
    IntegrationError,
    NotFoundError,
    NotSupportedError,
    OutcomeUnknownError,
    PermanentError,
    TransientError,
)

USER_AGENT = "partner-provisioning-portal/0.1"
REDACTED = "***"
# Keys whose values are secrets wherever they appear in a body or query string.
SECRET_KEYS = ("password", "secret", "token", "api_key", "apikey", "authorization")
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_RECORDED_BODY = 20_000

FieldErrorParser = Callable[[requests.Response], tuple[str, dict[str, list[str]]]]
# Called before each request with its method; raises (e.g. a TransientError with
# retry_after when a shared request budget is spent) to stop it being sent.
Gate = Callable[[str], None]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove every secret value and every `secret_key=value` pair from a text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    keys = "|".join(SECRET_KEYS)
    text = re.sub(rf'("(?:{keys})"\s*:\s*)"[^"]*"', rf'\1"{REDACTED}"', text, flags=re.I)
    return re.sub(rf"\b((?:{keys})=)[^&\s]*", rf"\1{REDACTED}", text, flags=re.I)


def retry_after_seconds(response: requests.Response) -> float | None:
    """The `Retry-After` header in seconds, when the provider gave one."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def default_error_message(response: requests.Response) -> tuple[str, dict[str, list[str]]]:
    """The error text of a response with no provider-specific shape."""
    return (response.text[:500] or response.reason or f"HTTP {response.status_code}", {})


class HttpClient:
    """A pooled session to one provider account, recording each exchange."""

    def __init__(
        self,
        config: AccountConfig,
        *,
        base_url: str,
        auth: requests.auth.AuthBase | None,
        recorder: Recorder | None = None,
        gate: Gate | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        self.gate = gate
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        # Workers may share a client across threads; keep enough pooled connections.
        self.session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
        self.session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=16))
        self._secrets = (config.secret,)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send one request; transport failures become integration errors."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        url = self.url(path)
        if self.gate is not None:
            self.gate(method)
        started = time.monotonic()
        response = None
        error = ""
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                json=json_body,
                headers=headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
            )
            return response
        except requests.ConnectTimeout as exc:
            error = f"connect timeout: {exc}"
            raise TransientError("The provider could not be reached in time.") from None
        except requests.Timeout:
            error = "read timeout"
            if idempotent:
                raise TransientError("The provider did not answer in time.") from None
            raise OutcomeUnknownError(
                "The provider did not answer in time; the request may have been applied."
            ) from None
        except requests.ConnectionError as exc:
            error = f"connection error: {exc}"
            if idempotent or _never_sent(exc):
                raise TransientError("The connection to the provider failed.") from None
            raise OutcomeUnknownError(
                "The connection dropped after the request was sent; it may have been applied."
            ) from None
        except requests.RequestException as exc:
            error = f"request error: {exc}"
            raise TransientError("The request to the provider failed.") from None
        except (UnicodeError, ValueError) as exc:
            # Nothing was sent: the request could not even be encoded.
            error = f"encoding error: {exc}"
            raise PermanentError("The request could not be encoded for the provider.") from None
        finally:
            self._record(method, url, params, data, json_body, response, started, error)

    def raise_for_status(
        self, response: requests.Response, parse_error: FieldErrorParser = default_error_message
    ) -> None:
        """Map an error status to the taxonomy; `parse_error` reads the provider's error body."""
        status = response.status_code
        if status < 400:
            return
        message, field_errors = parse_error(response)
        error: IntegrationError
        if status == 401:
            error = AuthenticationError(message, status=status)
        elif status in TRANSIENT_STATUSES:
            error = TransientError(
                message, status=status, retry_after=retry_after_seconds(response)
            )
        elif status == 404:
            error = NotFoundError(message, status=status)
        elif status == 501:
            error = NotSupportedError(message, status=status)
        else:
            error = PermanentError(message, status=status, field_errors=field_errors)
        raise error

    def _record(
        self,
        method: str,
        url: str,
        params: dict[str, Any] | None,
        data: dict[str, Any] | None,
        json_body: Any,
        response: requests.Response | None,
        started: float,
        error: str,
    ) -> None:
        if self.recorder is None:
            return
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        if json_body is not None:
            request_body = json.dumps(json_body)
        elif data:
            request_body = urlencode(data, doseq=True)
        else:
            request_body = ""
        response_body = response.text[:MAX_RECORDED_BODY] if response is not None else ""
        self.recorder(
            Exchange(
                method=method,
                url=redact(_strip_userinfo(url), self._secrets),
                status=response.status_code if response is not None else None,
                duration_ms=round((time.monotonic() - started) * 1000),
                request_body=redact(str(request_body), self._secrets),
                response_body=redact(response_body, self._secrets),
                error=redact(error, self._secrets),
            )
        )


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=netloc))


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request left."""
    text = str(exc)
    return any(
        marker in text
        for marker in (
            "Failed to establish a new connection",
            "Connection refused",
            "NewConnectionError",
        )
    )
