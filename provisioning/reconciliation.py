"""Reconciliation: list a provider account's remote objects and compare them
with the portal's, in bulk.

Remote objects are streamed through the adapter's paging (largest page size);
the portal's rows are loaded once into a dict by remote id; differences are
written back in batches, so the cost is about N / page size requests and
N / batch size queries. A listing that fails part-way ends the run without
marking anything missing: absence is only believed after a complete listing.
"""

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations import errors
from integrations.contract import CustomerRecord, NumberRecord, SourceRecord
from provisioning.budget import Purpose
from provisioning.models import (
    OPEN_OPERATION_STATES,
    CustomerAccount,
    Number,
    ProviderAccount,
    ProviderKind,
    ReconciliationRun,
    RunState,
    Source,
    SyncOperation,
    SyncState,
)
from provisioning.services import provider_account_pause, provider_account_ping
from provisioning.sync import adapter_for, recording

logger = logging.getLogger(__name__)

BATCH = 1000
UNMANAGED_KEPT = 1000
# Only objects at rest are compared; pending or syncing ones are in flux.
SETTLED = (SyncState.SYNCED, SyncState.DRIFTED)

# portal field -> record field compared for drift (the desired state), per provider.
# Only fields the provider's *list* returns are compared: reading each object one
# by one would cost a request per object. SureVoIP keeps no corporate id and shows
# the company name as the name, so only the email is compared there; its number
# list carries neither destination nor ported flag.
CUSTOMER_DRIFT = {
    ProviderKind.FREESPEE: {"name": "name", "email": "email", "corporateid": "corporateid"},
    ProviderKind.SUREVOIP: {"email": "email"},
}
SOURCE_DRIFT = {"name": "name", "media": "media", "phonenr": "phonenr"}
NUMBER_DRIFT = {ProviderKind.SUREVOIP: {}, ProviderKind.SIPGATE: {}}
# portal field -> record field written back from the provider (its truth).
SOURCE_STATUS = {"destnr": "destnr", "status": "status"}
NUMBER_STATUS = {
    ProviderKind.SUREVOIP: {"activated": "activated"},
    ProviderKind.SIPGATE: {"extension": "extension", "outgoing": "outgoing", "dnd": "dnd"},
}

Writes = list[tuple["Comparison", type, list[str]]]


@dataclass
class Tally:
    in_sync: int = 0
    drifted: int = 0
    missing: int = 0
    unmanaged: int = 0
    unmanaged_items: list[dict[str, Any]] = field(default_factory=list)

    def add_unmanaged(self, kind: str, record: Any) -> None:
        self.unmanaged += 1
        if len(self.unmanaged_items) < UNMANAGED_KEPT:
            self.unmanaged_items.append(
                {
                    "kind": kind,
                    "remote_id": record.remote_id or getattr(record, "e164", ""),
                    "record": _jsonable(record),
                }
            )


def _jsonable(record: Any) -> dict[str, Any]:
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in dataclasses.asdict(record).items()
    }


def _differences(row: Any, record: Any, fields: dict[str, str]) -> dict[str, dict[str, Any]]:
    diff = {}
    for portal_field, record_field in fields.items():
        ours, theirs = getattr(row, portal_field), getattr(record, record_field)
        if (ours or "") != (theirs or ""):
            diff[portal_field] = {"portal": ours, "provider": theirs}
    return diff


class Comparison:
    """Compares one kind of object of one account and collects the writes."""

    def __init__(self, rows: Iterable[Any], key: Callable[[Any], str], *, dry_run: bool) -> None:
        self.rows = {key(row): row for row in rows}
        self.seen: set[str] = set()
        self.dry_run = dry_run
        self.changed: dict[int, Any] = {}

    def match(self, remote_key: str) -> Any | None:
        self.seen.add(remote_key)
        return self.rows.get(remote_key)

    def write_back(self, row: Any, record: Any, status_fields: dict[str, str]) -> None:
        """Copy the provider's status fields (its truth) onto the row."""
        for portal_field, record_field in status_fields.items():
            value = getattr(record, record_field)
            if value not in (None, "") and getattr(row, portal_field) != value:
                setattr(row, portal_field, value)
                self.changed[row.pk] = row

    def judge(self, row: Any, drift: dict[str, Any], tally: Tally) -> None:
        """Mark a settled row drifted (with its per-field diff) or back in sync."""
        if row.sync_state not in SETTLED:
            tally.in_sync += 1
            return
        if drift:
            tally.drifted += 1
            if row.drift != drift or row.sync_state != SyncState.DRIFTED:
                row.drift, row.sync_state = drift, SyncState.DRIFTED
                self.changed[row.pk] = row
            return
        tally.in_sync += 1
        if row.sync_state == SyncState.DRIFTED:
            row.drift, row.sync_state = {}, SyncState.SYNCED
            self.changed[row.pk] = row

    def mark_missing(self, tally: Tally) -> None:
        for remote_key, row in self.rows.items():
            if remote_key in self.seen or row.sync_state not in SETTLED:
                continue
            tally.missing += 1
            drift = {"exists": {"portal": True, "provider": False}}
            if row.drift != drift or row.sync_state != SyncState.DRIFTED:
                row.drift, row.sync_state = drift, SyncState.DRIFTED
                self.changed[row.pk] = row

    def save(self, model: type, fields: list[str]) -> None:
        if self.dry_run or not self.changed:
            return
        now = timezone.now()
        rows = list(self.changed.values())
        for row in rows:
            row.updated_at = now
        model.objects.bulk_update(rows, [*fields, "updated_at"], batch_size=BATCH)


def _customer_comparison(provider_account: ProviderAccount, dry_run: bool) -> Comparison:
    rows = (
        CustomerAccount.objects.filter(provider_account=provider_account)
        .exclude(remote_id="")
        .exclude(sync_state=SyncState.DELETED)
        .select_related("customer")
        .only(
            "id",
            "remote_id",
            "sync_state",
            "drift",
            "customer__name",
            "customer__email",
            "customer__corporateid",
            "customer__custnr",
        )
    )
    return Comparison(rows, lambda row: row.remote_id, dry_run=dry_run)


class _CustomerView:
    """A customer account seen with its customer's fields, for comparison."""

    def __init__(self, account: CustomerAccount) -> None:
        self.account = account

    def __getattr__(self, name: str) -> Any:
        return getattr(self.account.customer, name)


def _reconcile_customers(
    provider_account: ProviderAccount, adapter: Any, tally: Tally, dry_run: bool
) -> Writes:
    """Compare the account's customers."""
    comparison = _customer_comparison(provider_account, dry_run)
    record: CustomerRecord
    for record in adapter.customer_list():
        if record.status == "removed":
            continue
        row = comparison.match(record.remote_id)
        if row is None:
            tally.add_unmanaged("customer", record)
            continue
        drift = _differences(_CustomerView(row), record, CUSTOMER_DRIFT[provider_account.kind])
        comparison.judge(row, drift, tally)
    comparison.mark_missing(tally)
    return [(comparison, CustomerAccount, ["sync_state", "drift"])]


def _reconcile_sources(
    provider_account: ProviderAccount, adapter: Any, tally: Tally, dry_run: bool
) -> Writes:
    """Compare the account's Freespee sources; write back tracking number and status."""
    rows = (
        Source.objects.filter(provider_account=provider_account)
        .exclude(remote_id="")
        .exclude(sync_state=SyncState.DELETED)
    )
    comparison = Comparison(rows, lambda row: row.remote_id, dry_run=dry_run)
    record: SourceRecord
    for record in adapter.source_list():
        row = comparison.match(record.remote_id)
        if row is None:
            if record.status not in ("quarantined", "archived"):
                tally.add_unmanaged("source", record)
            continue
        comparison.write_back(row, record, SOURCE_STATUS)
        comparison.judge(row, _differences(row, record, SOURCE_DRIFT), tally)
    comparison.mark_missing(tally)
    return [(comparison, Source, ["sync_state", "drift", "destnr", "status"])]


def _reconcile_numbers(
    provider_account: ProviderAccount, adapter: Any, tally: Tally, dry_run: bool
) -> Writes:
    """Compare the account's numbers; write back activation or extension use."""
    rows = Number.objects.filter(provider_account=provider_account).exclude(
        sync_state=SyncState.DELETED
    )
    comparison = Comparison(rows, lambda row: row.e164, dry_run=dry_run)
    status_fields = NUMBER_STATUS[provider_account.kind]
    drift_fields = NUMBER_DRIFT[provider_account.kind]
    if provider_account.kind == ProviderKind.SIPGATE:
        customer_ids = ["my"]
    else:
        customer_ids = list(
            CustomerAccount.objects.filter(provider_account=provider_account)
            .exclude(remote_id="")
            .exclude(sync_state=SyncState.DELETED)
            .values_list("remote_id", flat=True)
        )
    record: NumberRecord
    for customer_remote_id in customer_ids:
        for record in adapter.number_list(customer_remote_id):
            row = comparison.match(record.e164)
            if row is None:
                tally.add_unmanaged("number", record)
                continue
            comparison.write_back(row, record, status_fields)
            comparison.judge(row, _differences(row, record, drift_fields), tally)
    comparison.mark_missing(tally)
    fields = ["sync_state", "drift", *status_fields]
    return [(comparison, Number, fields)]


def _pending_push(provider_account: ProviderAccount) -> dict[str, int]:
    open_operations = SyncOperation.objects.filter(
        provider_account=provider_account,
        state__in=OPEN_OPERATION_STATES,
    )
    counts = {"create": 0, "update": 0, "delete": 0}
    for action in open_operations.values_list("action", flat=True):
        counts[action] += 1
    return counts


def reconciliation_run(*, run_id: int) -> ReconciliationRun | None:
    """Carry out a queued run: compare the account's remote state with the portal's."""
    with transaction.atomic():
        run = (
            ReconciliationRun.objects.select_for_update()
            .filter(pk=run_id, state=RunState.QUEUED)
            .select_related("provider_account")
            .first()
        )
        if run is None:
            return None
        run.state, run.started_at = RunState.RUNNING, timezone.now()
        run.save(update_fields=["state", "started_at"])
    provider_account, dry_run = run.provider_account, run.dry_run
    run.pending_push = _pending_push(provider_account)
    tally = Tally()
    started = time.monotonic()
    with recording(Purpose.RECONCILE) as exchanges:
        try:
            adapter = adapter_for(provider_account)
            writes: Writes = []
            if provider_account.kind != ProviderKind.SIPGATE:
                writes += _reconcile_customers(provider_account, adapter, tally, dry_run)
            if provider_account.kind == ProviderKind.FREESPEE:
                writes += _reconcile_sources(provider_account, adapter, tally, dry_run)
            else:
                writes += _reconcile_numbers(provider_account, adapter, tally, dry_run)
            # Written only once every listing is complete, in one short transaction.
            with transaction.atomic():
                for comparison, model, fields in writes:
                    comparison.save(model, fields)
            run.state = RunState.SUCCEEDED
        except errors.IntegrationError as exc:
            # A listing failed part-way: nothing is written, nothing marked missing.
            run.state, run.error, tally.missing = RunState.FAILED, exc.message, 0
            run.errors += 1
            if isinstance(exc, errors.AuthenticationError) and not dry_run:
                provider_account_pause(
                    provider_account=provider_account,
                    reason=f"The provider refused the credentials: {exc.message}",
                )
    run.requests = len(exchanges)
    run.pages = sum(1 for exchange in exchanges if exchange.method == "GET")
    for name in ("in_sync", "drifted", "missing", "unmanaged", "unmanaged_items"):
        setattr(run, name, getattr(tally, name))
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "reconciled %s in %.1f s: %s requests, %s in sync, %s drifted, %s missing, %s unmanaged",
        provider_account,
        time.monotonic() - started,
        run.requests,
        run.in_sync,
        run.drifted,
        run.missing,
        run.unmanaged,
    )
    return run


def provider_accounts_ping() -> None:
    """Ping every account; record latency and status; a good ping resumes a paused account."""
    for provider_account in ProviderAccount.objects.all():
        provider_account_ping(provider_account=provider_account)
