"""Server time and SQL queries of every page of the staff web UI, for a partner
with N customers (default 10 000).

Each customer is at a Freespee and a SureVoIP account; every fifth has a tracking
source and a number; every object has its operations in the journal, one HTTP
exchange each, spread over 30 days. The pages are requested in-process through
Django's test client as a logged-in partner admin, so the figures are the server's
own time without the network. The number search is measured twice: the page
alone, and with the results of a search the SureVoIP sandbox answers on loopback.

The queries of each page are counted twice, with the first 100 customers seeded
and with all of them: a page whose count grows with the data fails, as does one
whose p95 is over the time budget.

Usage: python benchmarks/ui_pages.py [customers] [requests per page]
Exits with status 1 when a page fails.
"""

import contextlib
import math
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from _setup import customer_contact, django_setup

if TYPE_CHECKING:
    from django.db.models import Model

    from provisioning.models import Partner, ProviderAccount

CUSTOMERS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
FIRST_BATCH = 100
WARM_UP = 2
BUDGET_MS = 200.0
JOURNAL_DAYS = 30
BATCH_SIZE = 2000


@dataclass(frozen=True)
class Page:
    label: str
    path: str


@dataclass
class Result:
    page: Page
    median_ms: float
    p95_ms: float
    queries_small: int
    queries: int

    @property
    def passed(self) -> bool:
        return self.p95_ms <= BUDGET_MS and self.queries <= self.queries_small


@contextlib.contextmanager
def creation_times_as_given(*models: "type[Model]") -> Iterator[None]:
    """Let bulk_create keep the created_at we set: the journal needs a history, not
    30 days of rows all stamped now."""
    fields = [model._meta.get_field("created_at") for model in models]
    for field in fields:
        field.auto_now_add = False
    try:
        yield
    finally:
        for field in fields:
            field.auto_now_add = True


def seed(
    partner: "Partner",
    freespee: "ProviderAccount",
    surevoip: "ProviderAccount",
    start: int,
    stop: int,
    now: datetime,
) -> None:
    """Customers start…stop-1 with their accounts, sources, numbers and journal."""
    from provisioning.models import (
        Customer,
        CustomerAccount,
        HttpExchange,
        Number,
        OperationState,
        Source,
        SourceStatus,
        SyncAction,
        SyncOperation,
        SyncState,
    )

    def account_state(n: int, offset: int) -> str:
        # About 1 % failed, 1 % drifted and 2 % still pending at each provider.
        bucket = (n + offset) % 100
        if bucket == 0:
            return SyncState.FAILED
        if bucket == 1:
            return SyncState.DRIFTED
        if bucket in (2, 3):
            return SyncState.PENDING
        return SyncState.SYNCED

    def created(n: int) -> datetime:
        # Spread over the journal's days, the newest customers most recent.
        return now - timedelta(days=JOURNAL_DAYS) * (1 - n / CUSTOMERS)

    for low in range(start, stop, BATCH_SIZE):
        numbers = range(low, min(stop, low + BATCH_SIZE))
        customers = Customer.objects.bulk_create(
            Customer(
                partner=partner,
                name=f"Customer {n:05d}",
                custnr=f"C{n:05d}",
                **customer_contact(n),
            )
            for n in numbers
        )
        accounts = []
        for n, customer in zip(numbers, customers, strict=True):
            for provider_account, offset in ((freespee, 0), (surevoip, 50)):
                state = account_state(n, offset)
                accounts.append(
                    CustomerAccount(
                        customer=customer,
                        provider_account=provider_account,
                        sync_state=state,
                        remote_id="" if state == SyncState.PENDING else f"R{n:05d}",
                        sync_error="Email address is not valid."
                        if state == SyncState.FAILED
                        else "",
                        sync_error_field="email" if state == SyncState.FAILED else "",
                        drift={"email": {"portal": customer.email, "provider": "old@example.com"}}
                        if state == SyncState.DRIFTED
                        else {},
                        last_synced_at=None if state == SyncState.PENDING else created(n),
                    )
                )
        CustomerAccount.objects.bulk_create(accounts)
        sources = Source.objects.bulk_create(
            Source(
                customer=customer,
                provider_account=freespee,
                name="AdWords",
                media="Google.com",
                phonenr="+441224900100",
                destnr=f"+44800{n:06d}",
                status=SourceStatus.ACTIVE,
                sync_state=account_state(n, 25),
                remote_id=f"S{n:05d}",
            )
            for n, customer in zip(numbers, customers, strict=True)
            if n % 5 == 0
        )
        phone_numbers = Number.objects.bulk_create(
            Number(
                customer=customer,
                provider_account=surevoip,
                e164=f"+4412249{n:05d}",
                destination="SIP/01224900123@192.0.2.10:5060",
                sync_state=account_state(n, 75),
                remote_id=f"+4412249{n:05d}",
            )
            for n, customer in zip(numbers, customers, strict=True)
            if n % 5 == 0
        )
        operations = []
        for obj in [*accounts, *sources, *phone_numbers]:
            n = int(obj.customer.custnr[1:])
            failed = obj.sync_state == SyncState.FAILED
            target = {
                CustomerAccount: "customer_account",
                Source: "source",
                Number: "number",
            }[type(obj)]
            operations.append(
                SyncOperation(
                    partner=partner,
                    provider_account=obj.provider_account,
                    action=SyncAction.CREATE,
                    state=OperationState.FAILED if failed else OperationState.SUCCEEDED,
                    attempts=5 if failed else 1,
                    error=obj.sync_error if failed else "",
                    created_at=created(n),
                    finished_at=created(n),
                    **{target: obj},
                )
            )
        with creation_times_as_given(SyncOperation):
            operations = SyncOperation.objects.bulk_create(operations)
        HttpExchange.objects.bulk_create(
            HttpExchange(
                operation=operation,
                method="POST",
                url=f"{operation.provider_account.base_url}/customers",
                status=422 if operation.state == OperationState.FAILED else 201,
                duration_ms=120,
                request_body='{"name": "Customer", "custnr": "C00000"}',
                response_body='{"customer_id": "R00000"}',
                created_at=operation.created_at,
            )
            for operation in operations
        )


def main() -> int:
    django_setup("ui-pages")
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from integrations.sandbox import (
        DEMO_ACCOUNTS,
        DEMO_FREESPEE_VERSION,
        DEMO_SUREVOIP_PARTNER,
        build_app,
        serve,
    )
    from provisioning import services
    from provisioning.budget import Purpose, budget_reset, budget_take
    from provisioning.models import (
        Customer,
        CustomerAccount,
        Partner,
        ProviderAccount,
        ReconciliationRun,
        RunState,
        StaffMembership,
        StaffRole,
    )

    # Pages are rendered without a collectstatic run, as in the tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    sandbox = serve(build_app())
    now = timezone.now()
    partner = Partner.objects.create(name="Bench", slug="bench")
    # Logged in with force_login: the user needs no password.
    user = get_user_model().objects.create_user("bench")
    StaffMembership.objects.create(user=user, partner=partner, role=StaffRole.ADMIN)
    freespee = services.provider_account_save(
        provider_account=ProviderAccount(partner=partner),
        secret=DEMO_ACCOUNTS["freespee"][1],
        kind="freespee",
        name="Freespee live",
        base_url="http://127.0.0.1:8100/freespee",
        api_version=DEMO_FREESPEE_VERSION,
        username=DEMO_ACCOUNTS["freespee"][0],
    )
    surevoip = services.provider_account_save(
        provider_account=ProviderAccount(partner=partner),
        secret=DEMO_ACCOUNTS["surevoip"][1],
        kind="surevoip",
        name="SureVoIP live",
        base_url=f"http://127.0.0.1:{sandbox.port}/surevoip",
        surevoip_partner_name=DEMO_SUREVOIP_PARTNER,
        username=DEMO_ACCOUNTS["surevoip"][0],
    )
    for provider_account in (freespee, surevoip):
        budget_reset(provider_account=provider_account)
    # Part of the SureVoIP hour is spent, as it would be while the workers push.
    for _ in range(300):
        budget_take(
            provider_account_id=surevoip.pk,
            budget=surevoip.request_budget,
            window=surevoip.request_budget_window,
            purpose=Purpose.WRITE,
        )
    ReconciliationRun.objects.create(
        provider_account=freespee,
        state=RunState.SUCCEEDED,
        unmanaged=60,
        unmanaged_items=[
            {"kind": "customer", "remote_id": f"U{n}", "record": {"name": f"Unmanaged {n}"}}
            for n in range(60)
        ],
    )

    client = Client()
    client.force_login(user)
    seed(partner, freespee, surevoip, 0, FIRST_BATCH, now)
    # Customer 0 has a failure at Freespee, a source, a number and their journal.
    customer = Customer.objects.get(partner=partner, custnr="C00000")
    live = ",".join(
        f"account:{pk}"
        for pk in CustomerAccount.objects.filter(customer__partner=partner).values_list(
            "pk", flat=True
        )[:50]
    )
    pages = [
        Page("dashboard", reverse("portal:dashboard")),
        Page("customers: first page", reverse("portal:customer_list")),
        Page("customers: search", reverse("portal:customer_list") + "?q=Customer+0004"),
        Page("customers: failed", reverse("portal:customer_list") + "?sync_state=failed"),
        Page("customers: synced", reverse("portal:customer_list") + "?sync_state=synced"),
        Page("customers: late page", ""),
        Page("customer detail", reverse("portal:customer_detail", args=[customer.pk])),
        Page("customer create form", reverse("portal:customer_create")),
        Page("customer edit form", reverse("portal:customer_edit", args=[customer.pk])),
        Page("source form", reverse("portal:source_create", args=[customer.pk])),
        Page("numbers: first page", reverse("portal:number_list")),
        Page("numbers: search", reverse("portal:number_list") + "?q=01224+9000"),
        Page("numbers: failed", reverse("portal:number_list") + "?sync_state=failed"),
        Page("number search", reverse("portal:number_search")),
        Page("number search: results", reverse("portal:number_search") + "?area=1224"),
        Page("needs attention", reverse("portal:attention")),
        Page("live status of 50 accounts", reverse("portal:sync_status") + "?objects=" + live),
        Page("import", reverse("portal:import_start")),
        Page("settings: staff", reverse("portal:staff_list")),
        Page("settings: API keys", reverse("portal:api_key_list")),
        Page("settings: provider accounts", reverse("portal:provider_account_list")),
        Page(
            "settings: provider account form",
            reverse("portal:provider_account_edit", args=[surevoip.pk]),
        ),
    ]

    def late_page() -> str:
        last = math.ceil(Customer.objects.filter(partner=partner).count() / 25)
        return reverse("portal:customer_list") + f"?page={max(1, last - 1)}"

    def count_queries(page: Page) -> int:
        path = page.path or late_page()
        # Once first, so that one-off work (a provider log-in, a cold cache) is not counted.
        client.get(path)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return len(queries)

    small = {page.label: count_queries(page) for page in pages}
    started = time.monotonic()
    seed(partner, freespee, surevoip, FIRST_BATCH, CUSTOMERS, now)
    if connection.vendor == "postgresql":
        # What autovacuum does after a bulk load; the planner needs the statistics.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"seeded {CUSTOMERS} customers in {time.monotonic() - started:.1f} s")
    print(f"database: {connection.vendor}, {REQUESTS} requests per page, budget {BUDGET_MS:.0f} ms")

    results = []
    for page in pages:
        path = page.path or late_page()
        for _ in range(WARM_UP):
            client.get(path)
        times = []
        for _ in range(REQUESTS):
            begin = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - begin) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        times.sort()
        results.append(
            Result(
                page=page,
                median_ms=statistics.median(times),
                p95_ms=times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)],
                queries_small=small[page.label],
                queries=count_queries(page),
            )
        )

    sandbox.shutdown()
    width = max(len(result.page.label) for result in results)
    print(f"{'page':<{width}} {'median ms':>10} {'p95 ms':>8} {'queries':>12}  result")
    for result in results:
        queries = f"{result.queries_small} → {result.queries}"
        print(
            f"{result.page.label:<{width}} {result.median_ms:>10.1f} {result.p95_ms:>8.1f} "
            f"{queries:>12}  {'PASS' if result.passed else 'FAIL'}"
        )
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
