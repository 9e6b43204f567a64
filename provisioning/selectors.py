"""Reads, scoped to a partner here and nowhere else."""

from django.db.models import Prefetch, QuerySet

from provisioning.models import (
    ApiKey,
    Customer,
    CustomerAccount,
    Number,
    Partner,
    ProviderAccount,
    ProviderKind,
    ReconciliationRun,
    Source,
    SyncOperation,
)


def customer_list(*, partner: Partner) -> QuerySet[Customer]:
    """The partner's live customers with their provider accounts."""
    accounts = CustomerAccount.objects.select_related("provider_account").order_by("id")
    return (
        Customer.objects.filter(partner=partner, deleted_at__isnull=True)
        .prefetch_related(Prefetch("accounts", queryset=accounts))
        .order_by("name", "id")
    )


def source_list(*, partner: Partner) -> QuerySet[Source]:
    return (
        Source.objects.filter(customer__partner=partner)
        .select_related("customer", "provider_account")
        .order_by("id")
    )


def number_list(*, partner: Partner) -> QuerySet[Number]:
    return (
        Number.objects.filter(customer__partner=partner)
        .select_related("customer", "provider_account")
        .order_by("e164", "id")
    )


def provider_account_list(*, partner: Partner) -> QuerySet[ProviderAccount]:
    return ProviderAccount.objects.filter(partner=partner).order_by("kind", "name", "id")


def operation_list(*, partner: Partner) -> QuerySet[SyncOperation]:
    return (
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
    from django.db.models import Count

    counts: dict[str, dict[str, dict[str, int]]] = {}
    sets = {
        "customers": CustomerAccount.objects.filter(customer__partner=partner),
        "sources": Source.objects.filter(customer__partner=partner),
        "numbers": Number.objects.filter(customer__partner=partner),
    }
    for label, queryset in sets.items():
        rows = queryset.values("provider_account__kind", "sync_state").annotate(n=Count("id"))
        for row in rows:
            provider = counts.setdefault(ProviderKind(row["provider_account__kind"]).label, {})
            provider.setdefault(label, {})[row["sync_state"]] = row["n"]
    return counts


def operations_since(*, partner: Partner, since) -> QuerySet[SyncOperation]:
    """Operations created since a time, failures first, newest first."""
    from django.db.models import Case, IntegerField, Value, When

    return (
        operation_list(partner=partner)
        .filter(created_at__gte=since)
        .annotate(
            failed_first=Case(
                When(state="failed", then=Value(0)), default=Value(1), output_field=IntegerField()
            )
        )
        .order_by("failed_first", "-id")
    )


def operations_per_hour(*, partner: Partner, since) -> list[dict]:
    """[{"hour": datetime, "succeeded": n, "failed": n}] for a small chart."""
    from django.db.models import Count, Q
    from django.db.models.functions import TruncHour

    return list(
        SyncOperation.objects.filter(partner=partner, created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(
            succeeded=Count("id", filter=Q(state="succeeded")),
            failed=Count("id", filter=Q(state="failed")),
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
        .prefetch_related(failed_operations),
        "sources": source_list(partner=partner)
        .filter(sync_state__in=states)
        .prefetch_related(failed_operations),
        "numbers": number_list(partner=partner)
        .filter(sync_state__in=states)
        .prefetch_related(failed_operations),
    }
