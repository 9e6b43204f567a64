"""Reads, scoped to a partner here and nowhere else."""

from datetime import datetime

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncHour

from provisioning.models import (
    OPEN_OPERATION_STATES,
    ApiKey,
    Customer,
    CustomerAccount,
    Number,
    OperationState,
    Partner,
    ProviderAccount,
    ProviderKind,
    ReconciliationRun,
    Source,
    SyncOperation,
)


def customer_list(
    *, partner: Partner, search: str = "", sync_state: str = "", provider_kind: str = ""
) -> QuerySet[Customer]:
    """The partner's live customers with their provider accounts, optionally those
    matching `search` or with an account in `sync_state` at a `provider_kind`."""
    accounts = CustomerAccount.objects.select_related("provider_account").order_by("id")
    customers = (
        Customer.objects.filter(partner=partner, deleted_at__isnull=True)
        .prefetch_related(Prefetch("accounts", queryset=accounts))
        .order_by("name", "id")
    )
    if search:
        customers = customers.filter(
            Q(name__icontains=search) | Q(custnr__icontains=search) | Q(email__icontains=search)
        )
    return customers_with_account(customers, sync_state=sync_state, provider_kind=provider_kind)


def customers_with_account(
    customers: QuerySet[Customer], *, sync_state: str = "", provider_kind: str = ""
) -> QuerySet[Customer]:
    """The customers with one account that is both in `sync_state` and at `provider_kind`."""
    if not (sync_state or provider_kind):
        return customers
    # EXISTS rather than a join: a join repeats the customer once per matching
    # account and needs DISTINCT over every column of the wide customer row.
    matching = CustomerAccount.objects.filter(customer=OuterRef("pk"))
    if sync_state:
        matching = matching.filter(sync_state=sync_state)
    if provider_kind:
        matching = matching.filter(provider_account__kind=provider_kind)
    return customers.filter(Exists(matching))


def source_list(*, partner: Partner) -> QuerySet[Source]:
    return (
        Source.objects.filter(customer__partner=partner)
        .select_related("customer", "provider_account")
        .order_by("id")
    )


def number_list(
    *, partner: Partner, search: str = "", sync_state: str = "", provider_kind: str = ""
) -> QuerySet[Number]:
    """The partner's numbers, optionally those whose number, destination or customer
    matches `search`, in `sync_state`, at a `provider_kind`."""
    numbers = (
        Number.objects.filter(customer__partner=partner)
        .select_related("customer", "provider_account")
        .order_by("e164", "id")
    )
    if search:
        matches = (
            Q(destination__icontains=search)
            | Q(customer__name__icontains=search)
            | Q(customer__custnr__icontains=search)
        )
        # "01224 279484" finds +441224279484: digits only, without the trunk prefix.
        digits = "".join(c for c in search if c.isdigit()).lstrip("0")
        if digits:
            matches |= Q(e164__contains=digits)
        numbers = numbers.filter(matches)
    if sync_state:
        numbers = numbers.filter(sync_state=sync_state)
    if provider_kind:
        numbers = numbers.filter(provider_account__kind=provider_kind)
    return numbers


def synced_objects(*, partner: Partner, model: type, ids: set[int]) -> QuerySet:
    """The partner's customer accounts, sources or numbers with these ids, unordered.

    Found by id, the partner checked per object: a join on the partner's customers
    sends SQLite through all of them (80 ms at 10 000 customers, not 2)."""
    own = Customer.objects.filter(pk=OuterRef("customer_id"), partner=partner)
    return model.objects.filter(Exists(own), pk__in=ids).order_by()


def operations_open(*, partner: Partner) -> QuerySet[SyncOperation]:
    """The partner's operations still on their way to a provider."""
    return SyncOperation.objects.filter(partner=partner, state__in=OPEN_OPERATION_STATES)


def provider_account_list(*, partner: Partner) -> QuerySet[ProviderAccount]:
    return ProviderAccount.objects.filter(partner=partner).order_by("kind", "name", "id")


def surevoip_accounts(*, partner: Partner) -> QuerySet[ProviderAccount]:
    """The partner's SureVoIP accounts, those not paused first: what a number search uses."""
    return ProviderAccount.objects.filter(partner=partner, kind=ProviderKind.SUREVOIP).order_by(
        "paused", "name", "id"
    )


def provider_accounts_by_health(*, partner: Partner) -> QuerySet[ProviderAccount]:
    """The partner's accounts, paused ones first, then those whose last call failed."""
    trouble = Case(
        When(paused=True, then=Value(0)),
        When(~Q(last_error=""), then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return (
        provider_account_list(partner=partner)
        .select_related("customer", "paused_by")
        .order_by(trouble, "kind", "name", "id")
    )


def operation_list(
    *, partner: Partner, customer: Customer | None = None
) -> QuerySet[SyncOperation]:
    """The partner's sync journal, newest first; with `customer`, only the operations
    on that customer's accounts, sources and numbers."""
    operations = (
        SyncOperation.objects.filter(partner=partner)
        .select_related(
            "provider_account",
            "customer_account__customer",
            "customer_account__provider_account",
            "source",
            "number",
        )
        .order_by("-id")
    )
    if customer is not None:
        # The customer's object ids first: an OR across the three joins cannot use an
        # index and reads the partner's whole journal; an OR of id lists reads the
        # foreign key indexes.
        operations = operations.filter(
            Q(customer_account__in=list(customer.accounts.values_list("id", flat=True)))
            | Q(source__in=list(customer.sources.values_list("id", flat=True)))
            | Q(number__in=list(customer.numbers.values_list("id", flat=True)))
        )
    return operations


def reconciliation_run_list(*, partner: Partner) -> QuerySet[ReconciliationRun]:
    return ReconciliationRun.objects.filter(provider_account__partner=partner).select_related(
        "provider_account"
    )


def api_key_get_active(*, key: str) -> ApiKey | None:
    """The unrevoked API key with this value, with its partner."""
    return (
        ApiKey.objects.select_related("partner")
        .filter(key_hash=ApiKey.hash(key), revoked_at__isnull=True)
        .first()
    )


def sync_state_counts(*, partner: Partner) -> dict[str, dict[str, dict[str, int]]]:
    """{provider: {"customers"|"sources"|"numbers": {state: count}}} in three queries."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    # Scoped by the partner's provider accounts, not its customers: that join is to a
    # handful of rows instead of every customer. No ordering: the models' default
    # ordering would join and group by more.
    sets = {
        "customers": CustomerAccount.objects.filter(provider_account__partner=partner),
        "sources": Source.objects.filter(provider_account__partner=partner),
        "numbers": Number.objects.filter(provider_account__partner=partner),
    }
    for label, queryset in sets.items():
        rows = (
            queryset.order_by()
            .values("provider_account__kind", "sync_state")
            .annotate(n=Count("id"))
        )
        for row in rows:
            provider = counts.setdefault(ProviderKind(row["provider_account__kind"]).label, {})
            provider.setdefault(label, {})[row["sync_state"]] = row["n"]
    return counts


def operations_since(*, partner: Partner, since: datetime, limit: int) -> QuerySet[SyncOperation]:
    """The first `limit` operations created since a time, failures first, newest first."""
    failed_first = Case(
        When(state=OperationState.FAILED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    # Choose the few rows on the journal alone, then join what the page shows to them:
    # sorting the joined rows would join every operation of the period first.
    chosen = (
        SyncOperation.objects.filter(partner=partner, created_at__gte=since)
        .annotate(failed_first=failed_first)
        .order_by("failed_first", "-id")
        .values("id")[:limit]
    )
    return (
        operation_list(partner=partner)
        .filter(id__in=chosen)
        .annotate(failed_first=failed_first)
        .order_by("failed_first", "-id")
    )


def operations_per_hour(*, partner: Partner, since: datetime) -> list[dict]:
    """[{"hour": datetime, "succeeded": n, "failed": n}] for a small chart."""
    return list(
        SyncOperation.objects.filter(partner=partner, created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(
            succeeded=Count("id", filter=Q(state=OperationState.SUCCEEDED)),
            failed=Count("id", filter=Q(state=OperationState.FAILED)),
        )
        .order_by("hour")
    )


def attention_list(*, partner: Partner) -> dict[str, QuerySet]:
    """Failed and drifted objects of a partner, with what is needed to act on them."""
    states = ["failed", "drifted"]
    failed_operations = Prefetch(
        "operations",
        queryset=SyncOperation.objects.filter(state="failed").order_by("-id"),
        to_attr="failed_operations",
    )
    return {
        "customer_accounts": CustomerAccount.objects.filter(
            customer__partner=partner, sync_state__in=states
        )
        .select_related("customer", "provider_account")
        .prefetch_related(failed_operations)
        .order_by("customer__name", "customer_id", "id"),
        "sources": source_list(partner=partner)
        .filter(sync_state__in=states)
        .prefetch_related(failed_operations),
        "numbers": number_list(partner=partner)
        .filter(sync_state__in=states)
        .prefetch_related(failed_operations),
    }
