"""The adapter contract the sync engine calls, the same for every provider.

Records are frozen dataclasses in the portal's terms; each adapter converts them
to and from its provider's fields. Phone numbers are E.164 (`+4420…`) in every
record; adapters format them for the provider on the way out.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from integrations.errors import NotSupportedError


class Provider:
    FREESPEE = "freespee"
    SUREVOIP = "surevoip"
    SIPGATE = "sipgate"


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange with a provider, secrets already redacted."""

    method: str
    url: str
    status: int | None
    duration_ms: int
    request_body: str
    response_body: str
    error: str = ""


Recorder = Callable[[Exchange], None]


@dataclass(frozen=True)
class AccountConfig:
    """A provider account as the integration needs it; built by `provisioning`."""

    provider: str
    base_url: str
    username: str
    secret: str = field(repr=False)
    # Freespee: the version path segment (e.g. "2.4.9"); sipgate: the `version` parameter.
    api_version: str = ""
    # SureVoIP: the partner name under /partners/{partner}/customers/….
    partner_name: str = ""
    # sipgate: the user id; "my" is the alias for the authenticated user.
    user_id: str = "my"
    connect_timeout: float = 3.05
    read_timeout: float = 10.0


@dataclass(frozen=True)
class Ping:
    ok: bool
    latency_ms: int
    detail: str = ""


@dataclass(frozen=True)
class RateLimit:
    """A provider's own rate-limit report, read from its response headers."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None


@dataclass(frozen=True)
class CustomerRecord:
    """A customer at a provider; `remote_id` is its id there (customer_id, account, user)."""

    custnr: str
    name: str
    email: str = ""
    corporateid: str = ""
    custom_fields: dict[int, str] = field(default_factory=dict)
    receive_monthly_report: int = 0
    freespee_caller_id: bool = False
    firstname: str = ""
    lastname: str = ""
    company_name: str = ""
    phone: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    remote_id: str = ""
    status: str = ""


@dataclass(frozen=True)
class SourceRecord:
    """A Freespee source: `phonenr` answers the calls, `destnr` is the tracking number allocated."""

    customer_remote_id: str
    name: str
    media: str
    phonenr: str
    activation: datetime | None = None
    expire: datetime | None = None
    source_class: int = 0
    notify_on_missed_call: bool = False
    vm_divert_all: bool = False
    vm_divert_busy: bool = False
    vm_divert_noanswer: bool = False
    remote_id: str = ""
    destnr: str = ""
    status: str = ""


@dataclass(frozen=True)
class NumberRecord:
    """A number on a customer's account: SureVoIP DDI or sipgate number."""

    customer_remote_id: str
    e164: str
    destination: str = ""
    activated: bool = True
    ported: bool = False
    extension: str = ""
    outgoing: bool = False
    dnd: bool = False
    remote_id: str = ""


def _unsupported(provider: str, operation: str) -> NotSupportedError:
    return NotSupportedError(f"{provider} has no '{operation}' operation")


class Adapter:
    """Domain operations at one provider account.

    Every operation a provider lacks raises `NotSupportedError` naming it, so
    nothing silently does nothing. Lists are lazy iterators that page inside,
    at the provider's largest page size.
    """

    provider = ""

    def ping(self) -> Ping:
        raise _unsupported(self.provider, "ping")

    @property
    def rate_limit(self) -> RateLimit:
        return RateLimit()

    def customer_create(self, record: CustomerRecord) -> CustomerRecord:
        raise _unsupported(self.provider, "customer_create")

    def customer_update(self, record: CustomerRecord) -> CustomerRecord:
        raise _unsupported(self.provider, "customer_update")

    def customer_delete(self, remote_id: str) -> None:
        raise _unsupported(self.provider, "customer_delete")

    def customer_get(self, remote_id: str) -> CustomerRecord:
        raise _unsupported(self.provider, "customer_get")

    def customer_find(self, custnr: str) -> CustomerRecord | None:
        raise _unsupported(self.provider, "customer_find")

    def customer_list(self) -> Iterator[CustomerRecord]:
        raise _unsupported(self.provider, "customer_list")

    def source_create(self, record: SourceRecord) -> SourceRecord:
        raise _unsupported(self.provider, "source_create")

    def source_update(self, record: SourceRecord) -> SourceRecord:
        raise _unsupported(self.provider, "source_update")

    def source_delete(self, remote_id: str) -> None:
        raise _unsupported(self.provider, "source_delete")

    def source_get(self, remote_id: str) -> SourceRecord:
        raise _unsupported(self.provider, "source_get")

    def source_find(self, customer_remote_id: str, name: str, media: str) -> SourceRecord | None:
        raise _unsupported(self.provider, "source_find")

    def source_list(self, customer_remote_id: str | None = None) -> Iterator[SourceRecord]:
        raise _unsupported(self.provider, "source_list")

    def number_create(self, record: NumberRecord) -> NumberRecord:
        raise _unsupported(self.provider, "number_create")

    def number_update(self, record: NumberRecord) -> NumberRecord:
        raise _unsupported(self.provider, "number_update")

    def number_delete(self, customer_remote_id: str, e164: str) -> None:
        raise _unsupported(self.provider, "number_delete")

    def number_get(self, customer_remote_id: str, e164: str) -> NumberRecord:
        raise _unsupported(self.provider, "number_get")

    def number_find(self, customer_remote_id: str, e164: str) -> NumberRecord | None:
        raise _unsupported(self.provider, "number_find")

    def number_list(self, customer_remote_id: str) -> Iterator[NumberRecord]:
        raise _unsupported(self.provider, "number_list")
