"""The sync engine: runs one operation against its provider, safely.

An operation is claimed under a row lock on its object, so operations on one
object never run concurrently or out of order; it then pushes the object's
*current* desired state (level-triggered), records every HTTP exchange, and
writes the outcome back. A lease on the claim lets the sweeper hand an
operation whose worker died to another one. Waits (backoff, budget, a paused
account) are rows with a due time; nothing sleeps in a worker or in the broker.
"""

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from integrations import errors
from integrations.contract import (
    AccountConfig,
    Adapter,
    CustomerRecord,
    Exchange,
    NumberRecord,
    SourceRecord,
)
from integrations.freespee.adapter import FreespeeAdapter
from integrations.sipgate.adapter import SipgateAdapter
from integrations.surevoip.adapter import SureVoIPAdapter
from provisioning.budget import BudgetExhausted, Purpose, budget_take
from provisioning.models import (
    CUSTOM_FIELD_COUNT,
    OPEN_OPERATION_STATES,
    CustomerAccount,
    HttpExchange,
    Number,
    OperationState,
    ProviderAccount,
    ProviderKind,
    Source,
    SyncAction,
    SyncOperation,
    SyncState,
)
from provisioning.services import (
    operation_superseded_by_delete,
    operation_wake,
    provider_account_pause,
)

logger = logging.getLogger(__name__)

# A claimed operation is another worker's to take after this long.
LEASE = timedelta(seconds=45)
# Retries of transient failures: exponential backoff with full jitter, bounded.
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
MAX_ATTEMPTS = 8
MAX_AGE = timedelta(hours=24)
# How soon to look again at work that waits on something else.
PAUSED_RECHECK = timedelta(minutes=5)
DEPENDENCY_RECHECK = timedelta(seconds=2)
# Waits up to this long are handed to the broker as a countdown; longer ones
# are left to the sweeper, so no countdown nears the broker's visibility timeout.
SHORT_WAIT_SECONDS = 30
# The sweeper re-sends a wake-up that has not been acted on for this long.
REDISPATCH_AFTER = timedelta(seconds=30)
SWEEP_BATCH = 500

ADAPTERS: dict[str, type[Adapter]] = {
    ProviderKind.FREESPEE: FreespeeAdapter,
    ProviderKind.SUREVOIP: SureVoIPAdapter,
    ProviderKind.SIPGATE: SipgateAdapter,
}

# Provider field names that differ from the portal's, for field errors.
PORTAL_FIELDS = {
    "timestamp": "activation_at",
    "expire": "expire_at",
    "class": "source_class",
    "number": "e164",
    "customer_id": "customer",
}

_exchanges: ContextVar[list[Exchange] | None] = ContextVar("exchanges", default=None)
_purpose: ContextVar[str] = ContextVar("purpose", default=Purpose.WRITE)


def _record(exchange: Exchange) -> None:
    exchanges = _exchanges.get()
    if exchanges is not None:
        exchanges.append(exchange)


@contextmanager
def recording(purpose: str = Purpose.WRITE) -> Iterator[list[Exchange]]:
    """Collect the HTTP exchanges made in this block, under this budget purpose."""
    exchanges: list[Exchange] = []
    token = _exchanges.set(exchanges)
    purpose_token = _purpose.set(purpose)
    try:
        yield exchanges
    finally:
        _exchanges.reset(token)
        _purpose.reset(purpose_token)


def account_config(provider_account: ProviderAccount) -> AccountConfig:
    """The integration's view of a provider account."""
    return AccountConfig(
        provider=provider_account.kind,
        base_url=provider_account.base_url,
        username=provider_account.username,
        secret=provider_account.secret,
        api_version=provider_account.api_version,
        partner_name=provider_account.surevoip_partner_name,
    )


def adapter_for(provider_account: ProviderAccount) -> Adapter:
    """The adapter of an account: one pooled client per account and process."""
    return _adapter(provider_account.pk, provider_account.updated_at, provider_account)


@lru_cache(maxsize=256)
def _adapter(pk: int, updated_at: object, provider_account: ProviderAccount) -> Adapter:
    # Keyed by updated_at so that a changed secret, URL or budget builds a new client.
    budget = provider_account.request_budget
    window = provider_account.request_budget_window

    def gate(method: str) -> None:
        budget_take(provider_account_id=pk, budget=budget, window=window, purpose=_purpose.get())

    adapter_class = ADAPTERS[provider_account.kind]
    return adapter_class(account_config(provider_account), recorder=_record, gate=gate)


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Full-jitter exponential backoff, never sooner than the provider asked."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return max(random.uniform(0, ceiling), retry_after or 0.0)  # noqa: S311 - jitter, not secrecy


def operation_dispatch(operation: SyncOperation, *, delay: float = 0.0) -> None:
    """Wake a worker for the operation after this transaction commits."""
    operation_id = operation.id
    transaction.on_commit(lambda: operation_wake(operation_id, countdown=delay))


def _target_queryset(operation: SyncOperation):
    if operation.customer_account_id:
        return CustomerAccount.objects.filter(pk=operation.customer_account_id), "customer_account"
    if operation.source_id:
        return Source.objects.filter(pk=operation.source_id), "source"
    return Number.objects.filter(pk=operation.number_id), "number"


def _lock(queryset):
    if connection.vendor == "postgresql":
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()


def _claim(operation_id: int) -> SyncOperation | None:
    """Take the operation for this worker, or None if it is not ours to run now."""
    now = timezone.now()
    with transaction.atomic():
        operation = (
            SyncOperation.objects.filter(pk=operation_id).select_related("provider_account").first()
        )
        if operation is None or operation.state not in (
            OperationState.PENDING,
            OperationState.RUNNING,
        ):
            return None
        targets, field = _target_queryset(operation)
        # Lock the object: every claim of an operation on it queues here, which
        # is what keeps one object's operations serial.
        target = _lock(targets).get()
        operation.refresh_from_db()
        if operation.state == OperationState.RUNNING and operation.lease_expires_at > now:
            return None
        if operation.state not in OPEN_OPERATION_STATES:
            return None
        if operation.next_attempt_at > now:
            return None
        earlier = (
            SyncOperation.objects.filter(**{field: target}, id__lt=operation.id)
            .filter(state__in=OPEN_OPERATION_STATES)
            .exists()
        )
        if earlier:
            # The earlier one runs first; it wakes this one when it finishes.
            return None
        if operation_superseded_by_delete(operation):
            # A delete of the object follows: this create or update would be undone.
            SyncOperation.objects.filter(pk=operation.pk).update(
                state=OperationState.SUPERSEDED, finished_at=now, lease_expires_at=None
            )
            operation.state = OperationState.SUPERSEDED
            _wake_next(operation)
            return None
        account = operation.provider_account
        if account.rate_limited_until and account.rate_limited_until > now:
            _wait(operation, account.rate_limited_until - now, "Waiting: provider rate limit.")
            return None
        if account.paused:
            reason = f"Waiting: {account} is paused. {account.paused_reason}"
            _wait(operation, PAUSED_RECHECK, reason)
            # The object says why it stays pending, where staff see it.
            type(target).objects.filter(pk=target.pk).update(sync_error=reason)
            return None
        blocker, fatal = _dependency(operation, target)
        if fatal:
            operation.target_object = target
            _fail(operation, blocker, "customer")
            return None
        if blocker:
            _wait(operation, DEPENDENCY_RECHECK, blocker)
            return None
        operation.state = OperationState.RUNNING
        operation.attempts += 1
        operation.started_at = operation.started_at or now
        operation.lease_expires_at = now + LEASE
        operation.save(update_fields=["state", "attempts", "started_at", "lease_expires_at"])
        if operation.action != SyncAction.DELETE and target.sync_state != SyncState.SYNCING:
            type(target).objects.filter(pk=target.pk).update(sync_state=SyncState.SYNCING)
        operation.target_object = target
        return operation


def _wait(operation: SyncOperation, delay: timedelta, reason: str) -> None:
    """Put the operation back to wait without spending an attempt."""
    operation.state = OperationState.PENDING
    operation.next_attempt_at = timezone.now() + delay
    operation.lease_expires_at = None
    operation.dispatched_at = None
    operation.error = reason
    operation.save(
        update_fields=["state", "next_attempt_at", "lease_expires_at", "dispatched_at", "error"]
    )
    if delay.total_seconds() <= SHORT_WAIT_SECONDS:
        operation.dispatched_at = timezone.now()
        operation.save(update_fields=["dispatched_at"])
        operation_dispatch(operation, delay=delay.total_seconds())


def _parent_account(obj: Source | Number) -> CustomerAccount | None:
    """The customer's account at the provider account that holds a source or number."""
    return CustomerAccount.objects.filter(
        customer_id=obj.customer_id, provider_account_id=obj.provider_account_id
    ).first()


def _dependency(operation: SyncOperation, target: object) -> tuple[str, bool]:
    """Why the operation must wait for the customer's account first ('' if it need not),
    and whether that is hopeless until someone fixes the customer (it failed)."""
    if operation.action == SyncAction.DELETE or isinstance(target, CustomerAccount):
        return "", False
    if target.provider_account.kind == ProviderKind.SIPGATE:
        return "", False
    parent = _parent_account(target)
    if parent is None or parent.remote_id:
        return "", False
    if parent.sync_state in (SyncState.FAILED, SyncState.DELETING, SyncState.DELETED):
        return (
            f"The customer could not be created at {target.provider_account}: "
            f"{parent.sync_error or 'it is being deleted'}. Fix the customer, then retry this.",
            True,
        )
    return "Waiting for the customer to be created at the provider.", False


def _customer_remote_id(obj: Source | Number) -> str:
    if obj.provider_account.kind == ProviderKind.SIPGATE:
        return (
            obj.provider_account.customer.accounts.filter(provider_account=obj.provider_account)
            .values_list("remote_id", flat=True)
            .first()
            or "my"
        )
    parent = _parent_account(obj)
    if parent is None or not parent.remote_id:
        raise errors.PermanentError(
            "The customer has no account at this provider; add one first.",
            field_errors={"provider_account": ["The customer has no account at this provider."]},
        )
    return parent.remote_id


def customer_record(account: CustomerAccount) -> CustomerRecord:
    """The desired state of a customer at one provider."""
    customer = account.customer
    return CustomerRecord(
        custnr=customer.custnr,
        name=customer.name,
        email=customer.email,
        corporateid=customer.corporateid,
        custom_fields={
            n: getattr(customer, f"custom_{n}")
            for n in range(1, CUSTOM_FIELD_COUNT + 1)
            if getattr(customer, f"custom_{n}")
        },
        receive_monthly_report=customer.receive_monthly_report,
        freespee_caller_id=customer.freespee_caller_id,
        firstname=customer.firstname,
        lastname=customer.lastname,
        company_name=customer.company_name,
        phone=customer.phone,
        address=customer.address,
        city=customer.city,
        state=customer.state,
        postcode=customer.postcode,
        country=customer.country,
        remote_id=account.remote_id,
    )


def source_record(source: Source) -> SourceRecord:
    """The desired state of a Freespee source."""
    return SourceRecord(
        customer_remote_id=_customer_remote_id(source),
        name=source.name,
        media=source.media,
        phonenr=source.phonenr,
        activation=source.activation_at,
        expire=source.expire_at,
        source_class=source.source_class,
        notify_on_missed_call=source.notify_on_missed_call,
        vm_divert_all=source.vm_divert_all,
        vm_divert_busy=source.vm_divert_busy,
        vm_divert_noanswer=source.vm_divert_noanswer,
        remote_id=source.remote_id,
    )


def number_record(number: Number) -> NumberRecord:
    """The desired state of a number."""
    return NumberRecord(
        customer_remote_id=_customer_remote_id(number),
        e164=number.e164,
        destination=number.destination,
        activated=number.activated,
        ported=number.ported,
        extension=number.extension,
        outgoing=number.outgoing,
        dnd=number.dnd,
        remote_id=number.remote_id,
    )


def _push(operation: SyncOperation, target: object, adapter: Adapter) -> dict:
    """Send the object's current state; returns the fields to write back."""
    action = operation.action
    # What the provider does not have yet is created, whatever the operation says:
    # an update after a create that failed (the provider refused it) creates it.
    creating = action != SyncAction.DELETE and not target.remote_id
    # A create that may already have happened (an earlier attempt timed out,
    # lost its answer or died with its worker) is looked up before it is repeated.
    retried_create = creating and (
        operation.attempts > 1
        or operation.exchanges.exists()
        or (action == SyncAction.UPDATE and _create_was_attempted(target))
    )
    if isinstance(target, CustomerAccount):
        record = customer_record(target)
        if action == SyncAction.DELETE:
            remote_id = target.remote_id
            if not remote_id and _create_was_attempted(target):
                found = adapter.customer_find(record.custnr)
                remote_id = found.remote_id if found else ""
            if remote_id:
                _delete(lambda: adapter.customer_delete(remote_id))
            return {}
        if creating:
            found = adapter.customer_find(record.custnr) if retried_create else None
            result = found or adapter.customer_create(record)
            if found:
                result = adapter.customer_update(_with_remote_id(record, found.remote_id))
            return {"remote_id": result.remote_id}
        adapter.customer_update(record)
        return {}
    if isinstance(target, Source):
        if action == SyncAction.DELETE:
            remote_id = target.remote_id
            parent = _parent_account(target)
            if not remote_id and parent and parent.remote_id and _create_was_attempted(target):
                found = adapter.source_find(parent.remote_id, target.name, target.media)
                remote_id = found.remote_id if found else ""
            if remote_id:
                _delete(lambda: adapter.source_delete(remote_id))
            return {}
        record = source_record(target)
        if creating:
            found = (
                adapter.source_find(record.customer_remote_id, record.name, record.media)
                if retried_create
                else None
            )
            result = found or adapter.source_create(record)
        else:
            result = adapter.source_update(record)
        return {"remote_id": result.remote_id, "destnr": result.destnr, "status": result.status}
    record = number_record(target)
    if action == SyncAction.DELETE:
        _delete(lambda: adapter.number_delete(record.customer_remote_id, record.e164))
        return {}
    if creating:
        found = (
            adapter.number_find(record.customer_remote_id, record.e164) if retried_create else None
        )
        result = found or adapter.number_create(record)
        if found:
            result = adapter.number_update(record)
        return {"remote_id": result.remote_id or record.e164}
    adapter.number_update(record)
    return {}


def _create_was_attempted(target: CustomerAccount | Source | Number) -> bool:
    """Whether a create of the object went out, so that it may exist at the provider
    although its answer never came back (lost, timed out, or its worker died), for
    instance when a delete superseded the create's retry."""
    return target.operations.filter(
        Q(attempts__gt=0) | Q(exchanges__isnull=False), action=SyncAction.CREATE
    ).exists()


def _with_remote_id(record: CustomerRecord, remote_id: str) -> CustomerRecord:
    return replace(record, remote_id=remote_id)


def _delete(call: Callable[[], None]) -> None:
    # Already gone at the provider: the delete has what it wanted.
    with suppress(errors.NotFoundError):
        call()


def operation_run(*, operation_id: int) -> None:
    """Run one sync operation if it is due and not already being run."""
    operation = _claim(operation_id)
    if operation is None:
        return
    target = operation.target_object
    account = operation.provider_account
    started = timezone.now()
    with recording(Purpose.WRITE) as exchanges:
        try:
            adapter = adapter_for(account)
            changes = _push(operation, target, adapter)
        except BudgetExhausted as exc:
            _finish_waiting(operation, exchanges, exc.retry_after or 1.0, str(exc))
        except errors.AuthenticationError as exc:
            _finish_paused(operation, exchanges, exc)
        except errors.TransientError as exc:
            _finish_transient(operation, exchanges, exc)
        except errors.IntegrationError as exc:
            _finish_failed(operation, exchanges, exc)
        else:
            _finish_succeeded(operation, exchanges, changes, adapter)
    logger.info(
        "operation %s %s %s: %s in %.0f ms",
        operation.id,
        operation.action,
        type(target).__name__,
        operation.state,
        (timezone.now() - started).total_seconds() * 1000,
    )


def _save_exchanges(operation: SyncOperation, exchanges: list[Exchange]) -> None:
    HttpExchange.objects.bulk_create(
        HttpExchange(
            operation=operation,
            method=exchange.method,
            url=exchange.url,
            status=exchange.status,
            duration_ms=exchange.duration_ms,
            request_body=exchange.request_body,
            response_body=exchange.response_body,
            error=exchange.error,
        )
        for exchange in exchanges
    )


def _wake_next(operation: SyncOperation) -> None:
    """Wake the next open operation on the same object, now that this one is done."""
    targets, field = _target_queryset(operation)
    following = (
        SyncOperation.objects.filter(**{f"{field}_id": getattr(operation, f"{field}_id")})
        .filter(state=OperationState.PENDING, id__gt=operation.id)
        .order_by("id")
        .first()
    )
    if following is not None:
        operation_dispatch(following)


def _still_mine(operation: SyncOperation) -> bool:
    """Lock the object, then the operation, and check no other worker took the operation
    over after our lease ran out. Locks are always taken object first, as in `_claim`
    and the services, so that no two transactions wait on each other."""
    targets, _ = _target_queryset(operation)
    _lock(targets).get()
    current = SyncOperation.objects.select_for_update().get(pk=operation.pk)
    return current.state == OperationState.RUNNING and current.attempts == operation.attempts


@transaction.atomic
def _finish_succeeded(
    operation: SyncOperation, exchanges: list[Exchange], changes: dict, adapter: Adapter
) -> None:
    _save_exchanges(operation, exchanges)
    if not _still_mine(operation):
        return
    now = timezone.now()
    target = operation.target_object
    model = type(target)
    fields = {k: v for k, v in changes.items() if v not in (None, "") or k == "status"}
    if "status" in fields and not fields["status"]:
        fields.pop("status")
    fields.update(
        sync_error="",
        sync_error_field="",
        last_synced_at=now,
        sync_state=SyncState.DELETED if operation.action == SyncAction.DELETE else SyncState.SYNCED,
    )
    model.objects.filter(pk=target.pk).update(**fields, updated_at=now)
    SyncOperation.objects.filter(pk=operation.pk).update(
        state=OperationState.SUCCEEDED,
        finished_at=now,
        error="",
        error_field="",
        lease_expires_at=None,
    )
    rate = adapter.rate_limit
    if rate.remaining == 0 and rate.reset_at:
        ProviderAccount.objects.filter(pk=operation.provider_account_id).update(
            rate_limited_until=rate.reset_at
        )
    operation.state = OperationState.SUCCEEDED
    _wake_next(operation)


@transaction.atomic
def _finish_waiting(
    operation: SyncOperation, exchanges: list[Exchange], seconds: float, reason: str
) -> None:
    _save_exchanges(operation, exchanges)
    if not _still_mine(operation):
        return
    # Waiting for budget is not a failed attempt.
    operation.attempts -= 1
    operation.save(update_fields=["attempts"])
    _wait(operation, timedelta(seconds=seconds), reason)


@transaction.atomic
def _finish_paused(
    operation: SyncOperation, exchanges: list[Exchange], error: errors.AuthenticationError
) -> None:
    _save_exchanges(operation, exchanges)
    if not _still_mine(operation):
        return
    reason = f"The provider refused the credentials: {error.message}"
    provider_account_pause(provider_account=operation.provider_account, reason=reason)
    operation.attempts -= 1
    operation.save(update_fields=["attempts"])
    _set_target_state(operation, SyncState.PENDING, reason, "")
    _wait(operation, PAUSED_RECHECK, reason)


@transaction.atomic
def _finish_transient(
    operation: SyncOperation, exchanges: list[Exchange], error: errors.TransientError
) -> None:
    _save_exchanges(operation, exchanges)
    if not _still_mine(operation):
        return
    too_old = timezone.now() - operation.created_at > MAX_AGE
    if operation.attempts >= MAX_ATTEMPTS or too_old:
        message = (
            f"The provider kept failing ({error.message}); "
            f"gave up after {operation.attempts} attempts."
        )
        _fail(operation, message, "")
        return
    delay = backoff_seconds(operation.attempts, error.retry_after)
    _set_target_state(operation, _open_state(operation), f"Retrying: {error.message}", "")
    _wait(operation, timedelta(seconds=delay), error.message)


@transaction.atomic
def _finish_failed(
    operation: SyncOperation, exchanges: list[Exchange], error: errors.IntegrationError
) -> None:
    _save_exchanges(operation, exchanges)
    if not _still_mine(operation):
        return
    field_errors = getattr(error, "field_errors", {}) or {}
    field, message = "", error.message
    if field_errors:
        provider_field, messages = next(iter(field_errors.items()))
        field = PORTAL_FIELDS.get(provider_field, provider_field)
        message = "; ".join(messages) or message
    _fail(operation, message, field)


def _fail(operation: SyncOperation, message: str, field: str) -> None:
    now = timezone.now()
    SyncOperation.objects.filter(pk=operation.pk).update(
        state=OperationState.FAILED,
        finished_at=now,
        error=message,
        error_field=field,
        lease_expires_at=None,
    )
    _set_target_state(operation, SyncState.FAILED, message, field)
    operation.state = OperationState.FAILED
    _wake_next(operation)


def _open_state(operation: SyncOperation) -> str:
    return SyncState.DELETING if operation.action == SyncAction.DELETE else SyncState.PENDING


def _set_target_state(operation: SyncOperation, state: str, message: str, field: str) -> None:
    target = operation.target_object
    type(target).objects.filter(pk=target.pk).update(
        sync_state=state, sync_error=message, sync_error_field=field, updated_at=timezone.now()
    )


def operations_sweep() -> int:
    """Dispatch operations that are due and not recently dispatched, or whose lease ran out."""
    now = timezone.now()
    due = SyncOperation.objects.filter(
        state=OperationState.PENDING, next_attempt_at__lte=now
    ).exclude(dispatched_at__gt=now - REDISPATCH_AFTER)
    expired = SyncOperation.objects.filter(state=OperationState.RUNNING, lease_expires_at__lt=now)
    ids = list(due.order_by("next_attempt_at").values_list("id", flat=True)[:SWEEP_BATCH])
    ids += list(expired.values_list("id", flat=True)[:SWEEP_BATCH])
    if not ids:
        return 0
    SyncOperation.objects.filter(id__in=ids).update(dispatched_at=now)
    for operation_id in ids:
        operation_wake(operation_id)
    return len(ids)
