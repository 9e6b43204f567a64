"""CSV imports of customers and numbers: a preview that validates every row
before anything is saved, then a run (in a worker) that creates each valid row
through the services and reports progress."""

import csv
import io
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from provisioning import services
from provisioning.models import (
    CUSTOMER_FIELDS,
    Customer,
    CustomerAccount,
    ImportJob,
    ImportKind,
    ImportState,
    Number,
    Partner,
    ProviderAccount,
    ProviderKind,
    SyncState,
)

MAX_ROWS = 5000
PROGRESS_EVERY_SECONDS = 0.3
# A customer's contact fields, without Freespee's settings and custom fields.
CUSTOMER_COLUMNS = CUSTOMER_FIELDS[: CUSTOMER_FIELDS.index("country") + 1]
NUMBER_COLUMNS = ["custnr", "e164", "destination", "activated"]
COLUMNS = {ImportKind.CUSTOMERS: CUSTOMER_COLUMNS, ImportKind.NUMBERS: NUMBER_COLUMNS}
TRUE_WORDS = {"1", "yes", "true", "y", "on"}


class ImportFileError(ValueError):
    """The file cannot be read as the expected CSV; the message says why."""


def _read(content: bytes, kind: str) -> list[dict[str, str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    required = {"name", "custnr"} if kind == ImportKind.CUSTOMERS else {"custnr", "e164"}
    missing = required - set(header)
    if missing:
        raise ImportFileError(f"The header row lacks: {', '.join(sorted(missing))}.")
    reader.fieldnames = header
    rows = []
    for row in reader:
        rows.append({k: (v or "").strip() for k, v in row.items() if k in COLUMNS[kind]})
        if len(rows) > MAX_ROWS:
            raise ImportFileError(f"At most {MAX_ROWS} rows per file.")
    if not rows:
        raise ImportFileError("The file has a header but no rows.")
    return rows


def _customer_errors(partner: Partner, values: dict[str, str], seen: set[str]) -> dict:
    customer = Customer(partner=partner, **values)
    try:
        customer.full_clean()
    except ValidationError as error:
        return error.message_dict
    if customer.custnr in seen:
        return {"custnr": ["This customer number appears twice in the file."]}
    seen.add(customer.custnr)
    values.update(phone=customer.phone, country=customer.country)
    return {}


class _NumberCheck:
    """Checks number rows against the partner's customers and the numbers already
    in the portal, each read once for the whole file."""

    def __init__(
        self, partner: Partner, rows: list[dict[str, str]], provider_account: ProviderAccount
    ) -> None:
        custnrs = {row.get("custnr", "") for row in rows}
        self.customers = {
            customer.custnr: customer
            for customer in Customer.objects.filter(
                partner=partner, custnr__in=custnrs, deleted_at__isnull=True
            )
        }
        self.at_provider = set(
            CustomerAccount.objects.filter(
                provider_account=provider_account, customer__in=self.customers.values()
            )
            .exclude(sync_state__in=[SyncState.DELETING, SyncState.DELETED])
            .values_list("customer_id", flat=True)
        )
        self.provider_account = provider_account
        self.taken: set[str] | None = None
        self.numbers: list[Number] = []

    def __call__(self, partner: Partner, values: dict[str, str], seen: set[str]) -> dict:
        customer = self.customers.get(values.get("custnr", ""))
        if customer is None:
            return {"custnr": ["No customer with this customer number."]}
        if customer.pk not in self.at_provider:
            return {"custnr": [f"The customer has no account at {self.provider_account}."]}
        number = Number(
            customer=customer,
            e164=values.get("e164", ""),
            destination=values.get("destination", ""),
        )
        try:
            number.clean()
        except ValidationError as error:
            return error.message_dict
        if number.e164 in seen:
            return {"e164": ["This number appears twice in the file."]}
        seen.add(number.e164)
        values.update(e164=number.e164, destination=number.destination)
        self.numbers.append(number)
        return {}

    def already_in_the_portal(self) -> set[str]:
        """The valid rows' numbers that the portal already holds, in one query."""
        e164s = [number.e164 for number in self.numbers]
        return set(Number.objects.filter(e164__in=e164s).values_list("e164", flat=True))


@transaction.atomic
def import_preview(
    *,
    partner: Partner,
    kind: str,
    filename: str,
    content: bytes,
    provider_accounts: list[ProviderAccount],
    requested_by: Any,
) -> ImportJob:
    """Read and validate every row; nothing is created yet."""
    surevoip = next((a for a in provider_accounts if a.kind == ProviderKind.SUREVOIP), None)
    if kind == ImportKind.NUMBERS and surevoip is None:
        raise ValidationError(
            {"provider_accounts": "Choose the SureVoIP account to provision the numbers on."}
        )
    rows = _read(content, kind)
    if kind == ImportKind.CUSTOMERS:
        check = _customer_errors
    else:
        check = _NumberCheck(partner, rows, surevoip)
    seen: set[str] = set()
    checked = []
    for line, values in enumerate(rows, start=2):
        errors = check(partner, values, seen)
        checked.append({"line": line, "values": values, "errors": errors})
    if kind == ImportKind.NUMBERS:
        taken = check.already_in_the_portal()
        for row in checked:
            if not row["errors"] and row["values"]["e164"] in taken:
                row["errors"] = {"e164": ["The portal already holds this number."]}
    return ImportJob.objects.create(
        partner=partner,
        kind=kind,
        filename=filename[:255],
        rows=checked,
        provider_account_ids=[account.pk for account in provider_accounts],
        created_by=requested_by if getattr(requested_by, "pk", None) else None,
    )


@transaction.atomic
def import_start(*, job: ImportJob) -> ImportJob:
    """Run the valid rows of a previewed import in a worker."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.state != ImportState.PREVIEW:
        raise ValidationError("This import has already been started.")
    job.state = ImportState.RUNNING
    job.total = len(job.valid_rows)
    job.save(update_fields=["state", "total"])
    from provisioning.tasks import import_run

    transaction.on_commit(lambda: import_run.delay(job.pk))
    return job


def import_execute(*, job_id: int) -> None:
    """Create each valid row through the services, recording progress as it goes."""
    job = ImportJob.objects.filter(pk=job_id, state=ImportState.RUNNING).first()
    if job is None:
        return
    accounts = list(
        ProviderAccount.objects.filter(pk__in=job.provider_account_ids, partner=job.partner)
    )
    finished = {result["line"] for result in job.results}
    saved_at = time.monotonic()
    for row in job.valid_rows:
        if row["line"] in finished:
            continue  # a restarted run continues where it stopped
        try:
            obj = _create(job, row["values"], accounts)
        except ValidationError as error:
            result = {"line": row["line"], "result": "failed", "message": "; ".join(error.messages)}
            job.failed += 1
        else:
            result = {"line": row["line"], "result": "created", "id": obj.pk, "message": ""}
            job.done += 1
        job.results.append(result)
        # Progress is written a few times a second, not after every row: the results
        # are one JSON document, and rewriting it per row is quadratic in the file.
        if time.monotonic() - saved_at >= PROGRESS_EVERY_SECONDS:
            job.save(update_fields=["done", "failed", "results"])
            saved_at = time.monotonic()
    job.state = ImportState.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["done", "failed", "results", "state", "finished_at"])


def _create(job: ImportJob, values: dict[str, str], accounts: list[ProviderAccount]) -> Any:
    if job.kind == ImportKind.CUSTOMERS:
        return services.customer_create(
            partner=job.partner,
            provider_accounts=[a for a in accounts if a.kind != ProviderKind.SIPGATE],
            requested_by=job.created_by,
            **values,
        )
    customer = Customer.objects.get(
        partner=job.partner, custnr=values["custnr"], deleted_at__isnull=True
    )
    surevoip = next((a for a in accounts if a.kind == ProviderKind.SUREVOIP), None)
    if surevoip is None:
        raise ValidationError("Choose a SureVoIP account to provision the numbers on.")
    return services.number_create(
        customer=customer,
        provider_account=surevoip,
        requested_by=job.created_by,
        e164=values["e164"],
        destination=values.get("destination", ""),
        activated=values.get("activated", "1").lower() in TRUE_WORDS,
    )


def import_report(*, job: ImportJob) -> str:
    """The result of every row as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "result", "id", "message"])
    results = {result["line"]: result for result in job.results}
    for row in job.rows:
        if row["errors"]:
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in row["errors"].items())
            writer.writerow([row["line"], "invalid", "", message])
        elif row["line"] in results:
            result = results[row["line"]]
            writer.writerow(
                [row["line"], result["result"], result.get("id", ""), result["message"]]
            )
        else:
            writer.writerow([row["line"], "not run", "", ""])
    return out.getvalue()
