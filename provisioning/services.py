"""The only write path. Every change from the UI, the API, the admin or an
import goes through a service here, which writes the row *and* its
SyncOperation in one transaction and wakes a worker once it has committed.
"""

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser as User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from provisioning.models import (
    ApiKey,
    Customer,
    CustomerAccount,
    Number,
    OperationState,
    Partner,
    ProviderAccount,
    ProviderKind,
    Source,
    SyncAction,
    SyncedModel,
    SyncOperation,
    SyncState,
)

logger = logging.getLogger(__name__)

OPEN_STATES = (OperationState.PENDING, OperationState.RUNNING)


def operation_wake(operation_id: int) -> None:
    """Publish the operation to a worker; a lost wake-up is re-sent by the sweeper."""
    from provisioning.tasks import sync_operation_run

    try:
        sync_operation_run.delay(operation_id)
    except Exception:  # noqa: BLE001 - any broker failure: the sweeper re-dispatches due work
        logger.warning("Could not wake a worker for operation %s; the sweeper will.", operation_id)


def _object_field(obj: SyncedModel) -> str:
    return {CustomerAccount: "customer_account", Source: "source", Number: "number"}[type(obj)]


def _partner_of(obj: SyncedModel) -> Partner:
    return obj.customer.partner


def sync_operation_enqueue(
    *, obj: CustomerAccount | Source | Number, action: str, requested_by: User | None
) -> SyncOperation | None:
    """Queue a push of the object's current state; coalesces with pending work.

    Operations push the object's *current* desired state when they run, so a
    pending create or update already covers a later update; a delete supersedes
    pending updates; a delete of something never sent makes no call at all.
    Returns the operation that will carry the change, or None if none is needed.
    """
    field = _object_field(obj)
    pending = SyncOperation.objects.select_for_update().filter(
        **{field: obj}, state=OperationState.PENDING
    )
    if action == SyncAction.UPDATE:
        covering = pending.filter(action__in=[SyncAction.CREATE, SyncAction.UPDATE]).first()
        if covering is not None:
            return covering
        obj.sync_state = SyncState.PENDING
    elif action == SyncAction.DELETE:
        pending.filter(action=SyncAction.UPDATE).update(
            state=OperationState.SUPERSEDED, finished_at=timezone.now()
        )
        never_sent = (
            not obj.remote_id
            and not SyncOperation.objects.filter(**{field: obj})
            .exclude(state=OperationState.PENDING, attempts=0)
            .exclude(state=OperationState.SUPERSEDED)
            .exists()
        )
        if never_sent:
            pending.update(state=OperationState.SUPERSEDED, finished_at=timezone.now())
            obj.sync_state = SyncState.DELETED
            obj.save(update_fields=["sync_state", "updated_at"])
            return None
        obj.sync_state = SyncState.DELETING
    else:
        obj.sync_state = SyncState.PENDING
    obj.sync_error = ""
    obj.sync_error_field = ""
    obj.save(update_fields=["sync_state", "sync_error", "sync_error_field", "updated_at"])
    operation = SyncOperation.objects.create(
        partner=_partner_of(obj),
        provider_account=obj.provider_account,
        action=action,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        **{field: obj},
    )
    transaction.on_commit(lambda: operation_wake(operation.id))
    return operation


def _assign(instance: Any, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(instance, name, value)


@transaction.atomic
def customer_create(
    *,
    partner: Partner,
    provider_accounts: list[ProviderAccount] = (),
    requested_by: User | None,
    **fields: Any,
) -> Customer:
    """Create a customer and queue its creation at each of the given provider accounts."""
    customer = Customer(partner=partner)
    _assign(customer, fields)
    customer.full_clean()
    customer.save()
    for provider_account in provider_accounts:
        customer_account_create(
            customer=customer, provider_account=provider_account, requested_by=requested_by
        )
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, requested_by: User | None, **fields: Any) -> Customer:
    """Change a customer and queue an update at every provider it lives at."""
    _assign(customer, fields)
    customer.full_clean()
    customer.save()
    for account in customer.accounts.exclude(
        sync_state__in=[SyncState.DELETING, SyncState.DELETED]
    ):
        sync_operation_enqueue(obj=account, action=SyncAction.UPDATE, requested_by=requested_by)
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer, requested_by: User | None) -> None:
    """Delete a customer with its sources, numbers and accounts at every provider."""
    for obj in [*customer.sources.all(), *customer.numbers.all(), *customer.accounts.all()]:
        if obj.sync_state not in (SyncState.DELETING, SyncState.DELETED):
            sync_operation_enqueue(obj=obj, action=SyncAction.DELETE, requested_by=requested_by)
    customer.deleted_at = timezone.now()
    customer.save(update_fields=["deleted_at", "updated_at"])


@transaction.atomic
def customer_account_create(
    *, customer: Customer, provider_account: ProviderAccount, requested_by: User | None
) -> CustomerAccount:
    """Queue the creation of a customer at one more provider account."""
    account = CustomerAccount(customer=customer, provider_account=provider_account)
    if provider_account.partner_id != customer.partner_id:
        raise ValidationError(
            {"provider_account": "That provider account belongs to another partner."}
        )
    account.full_clean()
    account.save()
    sync_operation_enqueue(obj=account, action=SyncAction.CREATE, requested_by=requested_by)
    return account


@transaction.atomic
def source_create(
    *,
    customer: Customer,
    provider_account: ProviderAccount,
    requested_by: User | None,
    **fields: Any,
) -> Source:
    """Order a Freespee source (tracking number) for a customer's campaign."""
    source = Source(customer=customer, provider_account=provider_account)
    _assign(source, fields)
    _check_provider(source, ProviderKind.FREESPEE)
    source.full_clean()
    source.save()
    sync_operation_enqueue(obj=source, action=SyncAction.CREATE, requested_by=requested_by)
    return source


@transaction.atomic
def source_update(*, source: Source, requested_by: User | None, **fields: Any) -> Source:
    """Change a source (destination, expiry, options) and queue the update."""
    _assign(source, fields)
    source.full_clean()
    source.save()
    sync_operation_enqueue(obj=source, action=SyncAction.UPDATE, requested_by=requested_by)
    return source


@transaction.atomic
def source_delete(*, source: Source, requested_by: User | None) -> None:
    """End a source at Freespee."""
    sync_operation_enqueue(obj=source, action=SyncAction.DELETE, requested_by=requested_by)


@transaction.atomic
def number_create(
    *,
    customer: Customer,
    provider_account: ProviderAccount,
    requested_by: User | None,
    **fields: Any,
) -> Number:
    """Provision a number onto a customer's account."""
    number = Number(customer=customer, provider_account=provider_account)
    _assign(number, fields)
    _check_provider(number, ProviderKind.SUREVOIP, ProviderKind.SIPGATE)
    number.full_clean()
    number.save()
    sync_operation_enqueue(obj=number, action=SyncAction.CREATE, requested_by=requested_by)
    return number


@transaction.atomic
def number_update(*, number: Number, requested_by: User | None, **fields: Any) -> Number:
    """Change a number's routing, activation, outgoing use or DND and queue the update."""
    _assign(number, fields)
    number.full_clean()
    number.save()
    sync_operation_enqueue(obj=number, action=SyncAction.UPDATE, requested_by=requested_by)
    return number


@transaction.atomic
def number_delete(*, number: Number, requested_by: User | None) -> None:
    """Release a number."""
    sync_operation_enqueue(obj=number, action=SyncAction.DELETE, requested_by=requested_by)


def _check_provider(obj: Source | Number, *kinds: str) -> None:
    provider_account = obj.provider_account
    if provider_account.kind not in kinds:
        names = " or ".join(ProviderKind(kind).label for kind in kinds)
        raise ValidationError({"provider_account": f"Choose a {names} account."})
    if provider_account.partner_id != obj.customer.partner_id:
        raise ValidationError(
            {"provider_account": "That provider account belongs to another partner."}
        )


@transaction.atomic
def provider_account_save(
    *, provider_account: ProviderAccount, secret: str | None = None, **fields: Any
) -> ProviderAccount:
    """Create or change a provider account; a given secret replaces the stored one."""
    _assign(provider_account, fields)
    if secret:
        provider_account.secret = secret
    if not provider_account.secret_encrypted:
        raise ValidationError({"secret": "Enter the password or API secret for this account."})
    provider_account.full_clean()
    provider_account.save()
    return provider_account


@transaction.atomic
def api_key_create(*, partner: Partner, name: str) -> tuple[ApiKey, str]:
    """Create an API key; the plain key is returned once, only its hash is kept."""
    api_key = ApiKey(partner=partner, name=name)
    key = api_key.set_new_key()
    api_key.full_clean()
    api_key.save()
    return api_key, key
