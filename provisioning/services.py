"""The only write path. Every change from the UI, the API, the admin or an
import goes through a service here, which writes the row *and* its
SyncOperation in one transaction and wakes a worker once it has committed.
"""

import logging
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import AbstractBaseUser as User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from integrations.contract import Ping
from integrations.errors import AuthenticationError, IntegrationError
from provisioning.models import (
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
    StaffMembership,
    StaffRole,
    SyncAction,
    SyncedModel,
    SyncOperation,
    SyncState,
)

logger = logging.getLogger(__name__)


def audit(actor: User | None, obj: Model, message: str, *, added: bool = False) -> None:
    """Record who changed a partner's settings, in the history support staff read
    in the admin. Changes made without a user (the API, commands) are not recorded."""
    if getattr(actor, "pk", None) is None:
        return
    LogEntry.objects.log_actions(
        actor.pk,
        type(obj).objects.filter(pk=obj.pk),
        ADDITION if added else CHANGE,
        message,
        single_object=True,
    )


def operation_wake(operation_id: int, *, countdown: float = 0) -> None:
    """Publish the operation to a worker; a lost wake-up is re-sent by the sweeper."""
    from provisioning.tasks import sync_operation_run

    try:
        sync_operation_run.apply_async((operation_id,), countdown=countdown or None)
    except Exception:  # noqa: BLE001 - any broker failure: the sweeper re-dispatches due work
        logger.warning("Could not wake a worker for operation %s; the sweeper will.", operation_id)


def _object_field(obj: SyncedModel) -> str:
    return {CustomerAccount: "customer_account", Source: "source", Number: "number"}[type(obj)]


def operation_superseded_by_delete(operation: SyncOperation) -> bool:
    """True when a later delete of the same object makes this create or update moot."""
    if operation.action == SyncAction.DELETE:
        return False
    field = _object_field(operation.target)
    return (
        SyncOperation.objects.filter(
            **{f"{field}_id": getattr(operation, f"{field}_id")},
            action=SyncAction.DELETE,
            id__gt=operation.id,
        )
        .exclude(state=OperationState.SUPERSEDED)
        .exists()
    )


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
    # The object's row first, then its operations: the order the sync engine locks in.
    type(obj).objects.select_for_update().filter(pk=obj.pk).exists()
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
        dispatched_at=timezone.now(),
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
    number.full_clean(validate_constraints=False)
    if Number.objects.filter(provider_account=provider_account, e164=number.e164).exists():
        raise ValidationError({"e164": "The portal already holds this number."})
    number.validate_constraints()
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
    # Accepted now, refused by the provider later: a source or number needs its
    # customer at that provider (a sipgate account is the customer's own).
    if provider_account.kind == ProviderKind.SIPGATE:
        if provider_account.customer_id != obj.customer_id:
            raise ValidationError(
                {"provider_account": "That sipgate account belongs to another customer."}
            )
    elif (
        not CustomerAccount.objects.filter(
            customer_id=obj.customer_id, provider_account=provider_account
        )
        .exclude(sync_state__in=[SyncState.DELETING, SyncState.DELETED])
        .exists()
    ):
        raise ValidationError(
            {
                "provider_account": f"{obj.customer.name} has no account at {provider_account}: "
                "add the customer there first."
            }
        )


@transaction.atomic
def provider_account_save(
    *,
    provider_account: ProviderAccount,
    secret: str | None = None,
    actor: User | None = None,
    **fields: Any,
) -> ProviderAccount:
    """Create or change a provider account; a given secret replaces the stored one.

    The stored secret goes only where it was given for: changing where the account
    points (kind, base URL or username) needs the secret again."""
    adding = provider_account.pk is None
    before = {name: getattr(provider_account, name) for name in fields}
    _assign(provider_account, fields)
    changed = sorted(name for name in fields if adding or before[name] != fields[name])
    if not secret and not adding and {"kind", "base_url", "username"} & set(changed):
        raise ValidationError(
            {"secret": "Enter the secret again: the account now points somewhere else."}
        )
    if secret:
        provider_account.secret = secret
        changed.append("secret")
    if not provider_account.secret_encrypted:
        raise ValidationError({"secret": "Enter the password or API secret for this account."})
    taken = ProviderAccount.objects.filter(
        partner_id=provider_account.partner_id, name=provider_account.name
    ).exclude(pk=provider_account.pk)
    if taken.exists():
        raise ValidationError({"name": "Another of your accounts has this name."})
    provider_account.full_clean()
    provider_account.save()
    audit(
        actor, provider_account, f"Saved: {', '.join(changed) or 'nothing changed'}.", added=adding
    )
    return provider_account


@transaction.atomic
def api_key_create(*, partner: Partner, name: str, actor: User | None = None) -> tuple[ApiKey, str]:
    """Create an API key; the plain key is returned once, only its hash is kept."""
    api_key = ApiKey(partner=partner, name=name)
    key = api_key.set_new_key()
    api_key.full_clean()
    api_key.save()
    audit(actor, api_key, "Created.", added=True)
    return api_key, key


@transaction.atomic
def provider_account_pause(
    *, provider_account: ProviderAccount, reason: str, actor: User | None = None
) -> None:
    """Stop pushing to an account; its operations wait until it is resumed.

    A person's pause lasts until a person resumes it: the portal's own pause (the
    provider refused the credentials) records the error but leaves it in place."""
    reason = reason[:300]
    account = ProviderAccount.objects.filter(pk=provider_account.pk)
    if getattr(actor, "pk", None):
        account.update(paused=True, paused_reason=reason, paused_by=actor)
        provider_account.paused_by = actor
        audit(actor, provider_account, f"Paused: {reason}")
    else:
        account.update(last_error=reason)
        account.filter(paused_by__isnull=True).update(paused=True, paused_reason=reason)
    provider_account.refresh_from_db(fields=["paused", "paused_reason", "paused_by", "last_error"])


@transaction.atomic
def provider_account_resume(*, provider_account: ProviderAccount, actor: User | None = None) -> int:
    """Resume an account and wake its waiting operations; returns how many.
    Without a person, only the portal's own pause is lifted."""
    account = ProviderAccount.objects.filter(pk=provider_account.pk, paused=True)
    if not getattr(actor, "pk", None):
        account = account.filter(paused_by__isnull=True)
    if not account.update(paused=False, paused_reason="", paused_by=None):
        provider_account.refresh_from_db(fields=["paused", "paused_reason", "paused_by"])
        return 0
    audit(actor, provider_account, "Resumed.")
    provider_account.paused, provider_account.paused_reason = False, ""
    provider_account.paused_by = None
    waiting = SyncOperation.objects.filter(
        provider_account=provider_account, state=OperationState.PENDING
    )
    now = timezone.now()
    ids = list(waiting.values_list("id", flat=True))
    waiting.update(next_attempt_at=now, dispatched_at=now)
    for operation_id in ids:
        transaction.on_commit(lambda operation_id=operation_id: operation_wake(operation_id))
    return len(ids)


@transaction.atomic
def operation_retry(*, operation: SyncOperation, requested_by: User | None) -> SyncOperation:
    """Try a failed operation again from the start."""
    if operation.state != OperationState.FAILED:
        raise ValidationError({"state": "Only a failed operation can be retried."})
    operation = SyncOperation.objects.select_for_update().get(pk=operation.pk)
    now = timezone.now()
    if operation_superseded_by_delete(operation):
        # The object is being deleted since: pushing it again would undo nothing useful.
        operation.state = OperationState.SUPERSEDED
        operation.save(update_fields=["state"])
        return operation
    operation.state = OperationState.PENDING
    operation.attempts = 0
    operation.error = ""
    operation.error_field = ""
    operation.next_attempt_at = now
    operation.dispatched_at = now
    operation.finished_at = None
    operation.save()
    target = operation.target
    type(target).objects.filter(pk=target.pk).update(
        sync_state=SyncState.DELETING
        if operation.action == SyncAction.DELETE
        else SyncState.PENDING,
        sync_error="",
        sync_error_field="",
    )
    transaction.on_commit(lambda: operation_wake(operation.id))
    return operation


def provider_account_ping(*, provider_account: ProviderAccount) -> Ping:
    """Ping an account and record its health; a good ping resumes an account the
    portal paused itself because the provider refused its credentials."""
    from provisioning.budget import Purpose
    from provisioning.sync import adapter_for, recording

    now = timezone.now()
    with recording(Purpose.RECONCILE):
        try:
            ping = adapter_for(provider_account).ping()
        except AuthenticationError as exc:
            ping = Ping(ok=False, latency_ms=0, detail=exc.message)
            provider_account_pause(
                provider_account=provider_account,
                reason=f"The provider refused the credentials: {exc.message}",
            )
        except IntegrationError as exc:
            ping = Ping(ok=False, latency_ms=0, detail=exc.message)
    ProviderAccount.objects.filter(pk=provider_account.pk).update(
        last_ping_at=now,
        last_ping_ms=ping.latency_ms if ping.ok else None,
        last_error="" if ping.ok else ping.detail,
    )
    if ping.ok:
        provider_account_resume(provider_account=provider_account)
    return ping


@transaction.atomic
def reconciliation_adopt(
    *, run: ReconciliationRun, remote_ids: list[str], requested_by: User | None
) -> int:
    """Bind unmanaged remote objects found by a run to new portal rows; returns how many."""
    provider_account = run.provider_account
    wanted = set(remote_ids)
    adopted = 0
    # Customers first, so that sources and numbers found in the same run can attach to them.
    items = sorted(
        (item for item in run.unmanaged_items if item["remote_id"] in wanted),
        key=lambda item: item["kind"] != "customer",
    )
    for item in items:
        record, kind = item["record"], item["kind"]
        synced = {"sync_state": SyncState.SYNCED, "last_synced_at": timezone.now()}
        if kind == "customer":
            customer = Customer.objects.filter(
                partner=provider_account.partner, custnr=record["custnr"], deleted_at__isnull=True
            ).first() or Customer.objects.create(
                partner=provider_account.partner,
                name=record["name"][:60] or record["remote_id"],
                custnr=record["custnr"] or f"adopted-{record['remote_id']}",
                email=record.get("email", ""),
            )
            CustomerAccount.objects.get_or_create(
                customer=customer,
                provider_account=provider_account,
                defaults={"remote_id": record["remote_id"], **synced},
            )
        else:
            customer = _adopted_owner(provider_account, record["customer_remote_id"])
            if customer is None:
                continue
            if kind == "source":
                Source.objects.create(
                    customer=customer,
                    provider_account=provider_account,
                    remote_id=record["remote_id"],
                    name=record["name"][:60],
                    media=record["media"][:100],
                    phonenr=record["phonenr"],
                    destnr=record["destnr"],
                    status=record["status"],
                    **synced,
                )
            else:
                Number.objects.create(
                    customer=customer,
                    provider_account=provider_account,
                    remote_id=record["remote_id"] or record["e164"],
                    e164=record["e164"],
                    destination=record["destination"],
                    activated=record["activated"],
                    ported=record["ported"],
                    extension=record["extension"],
                    outgoing=record["outgoing"],
                    dnd=record["dnd"],
                    **synced,
                )
        adopted += 1
    run.unmanaged_items = [i for i in run.unmanaged_items if i["remote_id"] not in wanted]
    run.unmanaged = len(run.unmanaged_items)
    run.save(update_fields=["unmanaged_items", "unmanaged"])
    return adopted


def _adopted_owner(provider_account: ProviderAccount, customer_remote_id: str) -> Customer | None:
    if provider_account.kind == ProviderKind.SIPGATE:
        return provider_account.customer
    account = CustomerAccount.objects.filter(
        provider_account=provider_account, remote_id=customer_remote_id
    ).first()
    return account.customer if account else None


@transaction.atomic
def drift_push(
    *, obj: CustomerAccount | Source | Number, requested_by: User | None
) -> SyncOperation | None:
    """Push the portal's desired state back over what drifted at the provider."""
    missing = "exists" in obj.drift
    obj.drift = {}
    if missing:
        # Gone at the provider: create it again.
        obj.remote_id = "" if not isinstance(obj, Number) else obj.remote_id
        obj.save(update_fields=["drift", "remote_id", "updated_at"])
        return sync_operation_enqueue(obj=obj, action=SyncAction.CREATE, requested_by=requested_by)
    obj.save(update_fields=["drift", "updated_at"])
    return sync_operation_enqueue(obj=obj, action=SyncAction.UPDATE, requested_by=requested_by)


# Writing last_used_at on every request would turn each read into a write.
API_KEY_TOUCH_EVERY = 60


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record that a key was used (at most once a minute)."""
    now = timezone.now()
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < API_KEY_TOUCH_EVERY:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: User | None = None) -> None:
    """Revoke a key; it stops working at once."""
    if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    ):
        audit(actor, api_key, "Revoked.")


@transaction.atomic
def staff_add(
    *, partner: Partner, username: str, email: str, password: str, role: str, actor: User | None
) -> StaffMembership:
    """Give a new person a login at the partner, with a role."""
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "That username is taken."})
    user = user_model(username=username, email=email)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    user.set_password(password)
    user.full_clean()
    user.save()
    membership = StaffMembership(user=user, partner=partner, role=role)
    membership.full_clean()
    membership.save()
    audit(actor, membership, f"Added {username} as {membership.get_role_display()}.", added=True)
    return membership


def _active_admins(partner: Partner):
    return StaffMembership.objects.filter(
        partner=partner, role=StaffRole.ADMIN, user__is_active=True
    )


@transaction.atomic
def staff_update(
    *, membership: StaffMembership, role: str, is_active: bool, actor: User | None
) -> StaffMembership:
    """Change a person's role, or take their login away (or give it back).

    A partner always keeps one active admin, so nobody can lock the partner out."""
    # Locked in a fixed order, so two admins demoting each other cannot both pass the check.
    admins = list(_active_admins(membership.partner).order_by("pk").select_for_update())
    stays_admin = role == StaffRole.ADMIN and is_active
    if membership in admins and not stays_admin and len(admins) == 1:
        raise ValidationError({"role": "The partner needs at least one active admin."})
    # Compared with what is stored now, not with what the form was drawn from.
    membership = StaffMembership.objects.select_for_update().get(pk=membership.pk)
    user = type(membership.user).objects.select_for_update().get(pk=membership.user_id)
    changes = []
    if membership.role != role:
        membership.role = role
        membership.full_clean()
        membership.save(update_fields=["role"])
        changes.append(f"role {membership.get_role_display()}")
    if user.is_active != is_active:
        user.is_active = is_active
        user.save(update_fields=["is_active"])
        changes.append("login enabled" if is_active else "login disabled")
    if changes:
        audit(actor, membership, f"{user.get_username()}: {', '.join(changes)}.")
    return membership


@transaction.atomic
def reconciliation_request(
    *, provider_account: ProviderAccount, dry_run: bool = False, requested_by: User | None
) -> ReconciliationRun:
    """Queue a reconciliation (or a dry-run plan) of one account."""
    run = ReconciliationRun.objects.create(
        provider_account=provider_account,
        dry_run=dry_run,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    transaction.on_commit(lambda: _reconciliation_wake(run.id))
    return run


def _reconciliation_wake(run_id: int) -> None:
    from provisioning.tasks import reconciliation_run

    try:
        reconciliation_run.delay(run_id)
    except Exception:  # noqa: BLE001 - the run stays queued; the next schedule queues another
        logger.warning("Could not queue reconciliation run %s.", run_id)


def reconciliation_request_all() -> int:
    """Queue a reconciliation of every account that is not paused."""
    accounts = ProviderAccount.objects.filter(paused=False)
    for provider_account in accounts:
        reconciliation_request(provider_account=provider_account, requested_by=None)
    return len(accounts)


def number_search(
    *,
    provider_account: ProviderAccount,
    areacode: str = "",
    area_name: str = "",
    number_filter: str = "",
    number_range: str = "",
) -> list:
    """Available SureVoIP numbers, searched through the account (its budget applies),
    but those the portal already holds there."""
    from provisioning.sync import adapter_for, recording

    with recording():
        found = adapter_for(provider_account).numbers_search(
            areacode=areacode,
            area_name=area_name,
            number_filter=number_filter,
            number_range=number_range,
        )
    held = set(
        Number.objects.filter(
            provider_account=provider_account, e164__in=[number.e164 for number in found]
        ).values_list("e164", flat=True)
    )
    return [number for number in found if number.e164 not in held]
