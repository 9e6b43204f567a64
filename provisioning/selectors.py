"""Reads, scoped to a partner here and nowhere else."""

from django.db.models import Prefetch, QuerySet

from provisioning.models import (
    ApiKey,
    Customer,
    CustomerAccount,
    Number,
    Partner,
    ProviderAccount,
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
