import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse

from provisioning import imports, services
from provisioning.budget import Purpose, budget_reset, budget_take
from provisioning.models import (
    Customer,
    CustomerAccount,
    ImportJob,
    ImportState,
    Number,
    ProviderKind,
    ReconciliationRun,
    Source,
    StaffMembership,
    StaffRole,
    SyncOperation,
    SyncState,
)
from tests.factories import (
    CustomerFactory,
    PartnerFactory,
    ProviderAccountFactory,
    StaffMembershipFactory,
    SureVoIPAccountFactory,
    populate,
)

pytestmark = pytest.mark.django_db


def test_pages_require_login(client):
    response = client.get(reverse("portal:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# Routes that only take a POST: each redirects, and renders nothing.
POST_ONLY = {
    "source_end",
    "number_provision",
    "number_dnd",
    "number_release",
    "operation_retry",
    "drift_push",
    "run_adopt",
    "api_key_revoke",
    "provider_account_resume",
    "provider_account_ping",
    "provider_account_reconcile",
}


def page_urls(partner) -> dict[str, str]:
    """A URL of every page of the UI, on the partner's first objects."""
    customer = Customer.objects.filter(partner=partner).order_by("pk").first()
    source, number = customer.sources.get(), customer.numbers.get()
    account = customer.accounts.first()
    job = imports.import_preview(
        partner=partner,
        kind="customers",
        filename="customers.csv",
        content=b"name,custnr\nA,NEW1\n",
        provider_accounts=[],
        requested_by=None,
    )
    staff = StaffMembership.objects.filter(partner=partner, role=StaffRole.VIEWER).first()
    args = {
        "customer_detail": [customer.pk],
        "customer_edit": [customer.pk],
        "customer_delete": [customer.pk],
        "source_create": [customer.pk],
        "source_edit": [source.pk],
        "number_edit": [number.pk],
        "import_detail": [job.pk],
        "import_progress": [job.pk],
        "import_report": [job.pk],
        "staff_edit": [staff.pk],
        "provider_account_edit": [account.provider_account_id],
        "provider_account_pause": [account.provider_account_id],
    }
    names = {pattern.name for pattern in get_resolver().namespace_dict["portal"][1].url_patterns}
    urls = {
        name: reverse(f"portal:{name}", args=args.get(name, []))
        for name in sorted(names - POST_ONLY - {"api_key_created"})
    }
    urls["sync_status"] += f"?objects=account:{account.pk},source-row:{source.pk}"
    return urls


def action_urls(partner) -> dict[str, str]:
    """A URL of every POST-only route, on the partner's first objects."""
    customer = Customer.objects.filter(partner=partner).order_by("pk").first()
    source, number = customer.sources.get(), customer.numbers.get()
    account = customer.accounts.first()
    run = ReconciliationRun.objects.create(provider_account=account.provider_account)
    api_key, _ = services.api_key_create(partner=partner, name="theirs")
    urls = {
        "source_end": reverse("portal:source_end", args=[source.pk]),
        "number_provision": reverse("portal:number_provision"),
        "number_dnd": reverse("portal:number_dnd", args=[number.pk]),
        "number_release": reverse("portal:number_release", args=[number.pk]),
        "operation_retry": reverse("portal:operation_retry", args=[account.operations.get().pk]),
        "drift_push": reverse("portal:drift_push", args=["account", account.pk]),
        "run_adopt": reverse("portal:run_adopt", args=[run.pk]),
        "api_key_revoke": reverse("portal:api_key_revoke", args=[api_key.pk]),
    }
    for action in ("resume", "ping", "reconcile"):
        urls[f"provider_account_{action}"] = reverse(
            f"portal:provider_account_{action}", args=[account.provider_account_id]
        )
    assert set(urls) == POST_ONLY
    return urls


def test_every_page_renders_with_a_number_of_queries_that_does_not_grow(partner_admin):
    def grow(start: int, count: int) -> None:
        populate(partner_admin.partner, count, start=start)
        for n in range(start, start + count):
            StaffMembershipFactory(partner=partner_admin.partner, role=StaffRole.VIEWER)
            services.api_key_create(partner=partner_admin.partner, name=f"key {n}")

    def queries_per_page() -> dict[str, int]:
        counts = {}
        for name, url in page_urls(partner_admin.partner).items():
            with CaptureQueriesContext(connection) as queries:
                response = partner_admin.get(url)
            assert response.status_code == 200, (name, response.status_code)
            counts[name] = len(queries)
        return counts

    grow(0, 3)
    few = queries_per_page()
    grow(3, 30)
    many = queries_per_page()

    assert many == few
    assert max(many.values()) <= 20, many


def test_customer_create_shows_field_errors_and_saves_nothing(operator):
    response = operator.post(
        reverse("portal:customer_create"), {"name": "", "custnr": "1", "phone": "12"}
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"name", "phone"}
    assert Customer.objects.count() == 0


def test_customer_create_goes_through_the_services(operator):
    account = ProviderAccountFactory(partner=operator.partner)

    response = operator.post(
        reverse("portal:customer_create"),
        {
            "name": "DailyLoans",
            "custnr": "1412",
            "receive_monthly_report": 0,
            "provider_accounts": [account.pk],
        },
    )

    customer = Customer.objects.get()
    assert response.status_code == 302
    assert customer.accounts.get().sync_state == "pending"


def test_viewer_cannot_change_anything(viewer):
    populate(viewer.partner, 1)
    StaffMembershipFactory(partner=viewer.partner, role=StaffRole.VIEWER)
    urls = {**page_urls(viewer.partner), **action_urls(viewer.partner)}
    operations, customers = SyncOperation.objects.count(), Customer.objects.count()

    refused = {
        name for name, url in urls.items() if viewer.post(url, {"name": "X"}).status_code == 403
    }

    # Every POST is refused, and every form: a viewer reads the pages that show things.
    assert refused == set(urls)
    assert (SyncOperation.objects.count(), Customer.objects.count()) == (operations, customers)
    readable = {name for name in urls if viewer.get(urls[name]).status_code == 200}
    assert readable == {
        "dashboard",
        "customer_list",
        "customer_detail",
        "number_list",
        "number_search",
        "attention",
        "import_detail",
        "import_progress",
        "import_report",
        "sync_status",
    }


def test_another_partners_objects_are_404(partner_admin):
    other = PartnerFactory()
    populate(other, 1)
    StaffMembershipFactory(partner=other, role=StaffRole.VIEWER)
    pages, actions = page_urls(other), action_urls(other)
    operations = SyncOperation.objects.count()

    # Every route that names an object: an admin of another partner finds none of them.
    for name, url in pages.items():
        if any(part.isdigit() for part in url.split("?")[0].split("/")):
            assert partner_admin.get(url).status_code == 404, name
    for name, url in actions.items():
        if name != "number_provision":
            assert partner_admin.post(url).status_code == 404, name
    provision = partner_admin.post(
        actions["number_provision"],
        {"customer": Customer.objects.get().pk, "e164": "+441224000999"},
    )
    assert provision.status_code == 404
    assert SyncOperation.objects.count() == operations
    source, number = Source.objects.get(), Number.objects.get()
    status = partner_admin.get(
        reverse("portal:sync_status"), {"objects": f"source-row:{source.pk},number:{number.pk}"}
    )
    assert status.status_code == 200
    assert f"source-{source.pk}" not in status.content.decode()
    assert f"badge-number-{number.pk}" not in status.content.decode()
    timeline = partner_admin.get(
        reverse("portal:sync_status"), {"objects": f"timeline:{Customer.objects.get().pk}"}
    )
    assert "timeline-" not in timeline.content.decode()


def test_live_objects_are_marked_and_refreshed_in_one_request(operator):
    populate(operator.partner, 2)
    first, second = Customer.objects.order_by("name")
    source = first.sources.get()
    page = operator.get(reverse("portal:customer_detail", args=[first.pk])).content.decode()
    assert f'data-live="source-row:{source.pk}"' in page
    accounts = list(CustomerAccount.objects.values_list("pk", flat=True))
    asked = ",".join(
        [f"source-row:{source.pk}", *(f"account:{pk}" for pk in accounts), "bogus:1", "number:x"]
    )

    source.sync_state = "synced"
    source.destnr = "+4612345678"
    source.save()
    with CaptureQueriesContext(connection) as queries:
        response = operator.get(reverse("portal:sync_status"), {"objects": asked})

    fresh = response.content.decode()
    assert f'<template><tr id="source-{source.pk}"' in fresh.replace("\n", "")
    assert "+4612345678" in fresh
    assert f'data-live="source-row:{source.pk}"' not in fresh  # synced: no longer polled
    for pk in accounts:
        assert f'id="badge-account-{pk}"' in fresh
        assert f'data-live="account:{pk}"' in fresh  # still pending
    assert fresh.count('hx-swap-oob="true"') == len(accounts) + 1
    assert len(queries) <= 6


def test_the_timeline_is_live_while_an_operation_is_open(operator):
    populate(operator.partner, 1)
    customer = Customer.objects.get()
    page = operator.get(reverse("portal:customer_detail", args=[customer.pk])).content.decode()
    assert f'data-live="timeline:{customer.pk}"' in page
    url = reverse("portal:sync_status")

    open_ = operator.get(url, {"objects": f"timeline:{customer.pk}"}).content.decode()
    SyncOperation.objects.update(state="succeeded")
    done = operator.get(url, {"objects": f"timeline:{customer.pk}"}).content.decode()

    assert f'<section id="timeline-{customer.pk}"' in open_
    assert 'hx-swap-oob="true"' in open_ and "data-live" in open_
    assert "Succeeded" in done and "data-live" not in done


def test_csv_import_previews_then_runs(operator, django_capture_on_commit_callbacks):
    csv = "name,custnr,email,phone\nA,1,a@example.com,01224 279484\nB,2,not-an-email,\nC,1,,\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("customers.csv", csv.encode(), content_type="text/csv")
    response = operator.post(reverse("portal:import_start"), {"kind": "customers", "file": upload})
    job = ImportJob.objects.get()

    assert response.status_code == 302
    assert [bool(row["errors"]) for row in job.rows] == [False, True, True]
    assert Customer.objects.count() == 0
    preview = operator.get(response["Location"]).content.decode()
    assert "Import 1 row" in preview and "not-an-email" not in preview.split("<table")[0]

    from provisioning import imports

    imports.import_start(job=job)
    imports.import_execute(job_id=job.pk)
    job.refresh_from_db()

    assert job.state == ImportState.DONE
    assert (job.done, job.failed, job.percent) == (1, 0, 100)
    assert Customer.objects.get().phone == "+441224279484"
    report = operator.get(reverse("portal:import_report", args=[job.pk])).content.decode()
    assert "created" in report and "invalid" in report


def test_dashboard_shows_each_accounts_remaining_request_budget(operator):
    surevoip = SureVoIPAccountFactory(partner=operator.partner, request_budget=5000)
    budget_reset(provider_account=surevoip)
    for _ in range(3):
        budget_take(
            provider_account_id=surevoip.pk,
            budget=surevoip.request_budget,
            window=surevoip.request_budget_window,
            purpose=Purpose.WRITE,
        )

    try:
        page = operator.get(reverse("portal:dashboard")).content.decode()
    finally:
        budget_reset(provider_account=surevoip)

    assert "4997 of 5000</span> left this hour" in page


def test_edit_form_shows_the_providers_complaint_on_its_field(operator):
    populate(operator.partner, 1)
    account = Customer.objects.get().accounts.first()
    CustomerAccount.objects.filter(pk=account.pk).update(
        sync_state=SyncState.FAILED, sync_error="Email address is taken.", sync_error_field="email"
    )

    response = operator.get(reverse("portal:customer_edit", args=[account.customer_id]))

    assert response.status_code == 200
    assert response.context["form"]["email"].errors == [
        f"{account.provider_account}: Email address is taken."
    ]


def test_customer_filter_lists_each_customer_once(operator):
    populate(operator.partner, 3)
    first = Customer.objects.order_by("name").first()
    CustomerAccount.objects.filter(customer=first).update(sync_state=SyncState.FAILED)
    url = reverse("portal:customer_list")

    failed = operator.get(url, {"sync_state": "failed"}).context["page"]
    failed_at_surevoip = operator.get(url, {"sync_state": "failed", "provider": "surevoip"})
    synced = operator.get(url, {"sync_state": "synced"}).context["page"]

    assert [customer.pk for customer in failed] == [first.pk]
    assert failed.paginator.count == 1
    assert [customer.pk for customer in failed_at_surevoip.context["page"]] == [first.pk]
    assert synced.paginator.count == 0


def test_customer_filter_matches_state_and_provider_on_the_same_account(operator):
    populate(operator.partner, 1)
    customer = Customer.objects.get()
    CustomerAccount.objects.filter(
        customer=customer, provider_account__kind=ProviderKind.FREESPEE
    ).update(sync_state=SyncState.FAILED)
    url = reverse("portal:customer_list")

    at_freespee = operator.get(url, {"sync_state": "failed", "provider": "freespee"})
    at_surevoip = operator.get(url, {"sync_state": "failed", "provider": "surevoip"})

    assert at_freespee.context["page"].paginator.count == 1
    assert at_surevoip.context["page"].paginator.count == 0


def test_customer_timeline_shows_only_that_customers_operations(operator):
    populate(operator.partner, 2)
    first, second = Customer.objects.order_by("name")

    response = operator.get(reverse("portal:customer_detail", args=[first.pk]))

    operations = list(response.context["operations"])
    assert {operation.customer_account.customer_id for operation in operations} == {first.pk}
    assert len(operations) == first.accounts.count()
    assert second.name not in response.content.decode()


def test_needs_attention_pages_each_list(operator):
    populate(operator.partner, 30)
    CustomerAccount.objects.filter(provider_account__kind=ProviderKind.FREESPEE).update(
        sync_state=SyncState.FAILED, sync_error="Rejected."
    )
    url = reverse("portal:attention")

    first = operator.get(url)
    second = operator.get(url, {"customer_accounts_page": 2})

    assert len(first.context["customer_accounts"]["page"]) == 25
    assert len(second.context["customer_accounts"]["page"]) == 5
    assert "customer_accounts_page=2" in first.content.decode()
    assert "(30)" in first.content.decode()


def test_needs_attention_lists_unmanaged_customers_and_numbers(operator):
    account = ProviderAccountFactory(partner=operator.partner)
    ReconciliationRun.objects.create(
        provider_account=account,
        unmanaged=2,
        unmanaged_items=[
            {"kind": "customer", "remote_id": "77", "record": {"name": "Found customer"}},
            {"kind": "number", "remote_id": "+441224900999", "record": {"e164": "+441224900999"}},
        ],
    )

    response = operator.get(reverse("portal:attention"))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'customer Found customer <span class="muted">77</span>' in page
    assert "number +441224900999</label>" in page


def test_needs_attention_says_what_is_still_on_its_way(operator):
    populate(operator.partner, 1)

    page = operator.get(reverse("portal:attention")).content.decode()

    assert "Nothing needs you. 2 changes are on the way to the providers." in page


def test_number_search_offers_the_linked_customer_and_the_newest_ones(operator, sandbox):
    account = SureVoIPAccountFactory(partner=operator.partner, base_url=f"{sandbox.url}/surevoip")
    budget_reset(provider_account=account)
    oldest, second, *_, newest = [CustomerFactory(partner=operator.partner) for _ in range(55)]

    url = reverse("portal:number_search")
    response = operator.get(url, {"area": "1224", "customer": oldest.pk})

    options = response.context["customer_options"]
    assert response.context["results"]
    assert "HX-Request" in response["Vary"]  # the page and its results share a URL
    assert f'<option value="{oldest.pk}" selected>' in options
    assert f'<option value="{newest.pk}">' in options
    assert f'<option value="{second.pk}">' not in options
    # The placeholder, the 50 newest and the linked one.
    assert options.count("<option") == 52
    assert response.content.decode().count(str(options)) == len(response.context["results"])


def test_dashboard_shows_troubled_accounts_first_and_counts_the_rest(operator):
    accounts = [ProviderAccountFactory(partner=operator.partner) for _ in range(14)]
    services.provider_account_pause(provider_account=accounts[-1], reason="Maintenance")

    response = operator.get(reverse("portal:dashboard"))

    shown = [account for account, _ in response.context["accounts"]]
    assert shown[0] == accounts[-1]
    assert len(shown) == 10
    assert response.context["more_accounts"] == 4
    assert "And 4 more" in response.content.decode()


def test_a_number_import_without_a_surevoip_account_is_refused_on_that_field(operator):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("numbers.csv", b"custnr,e164\n1,+441224279484\n")
    response = operator.post(reverse("portal:import_start"), {"kind": "numbers", "file": upload})

    assert response.status_code == 200
    assert "provider_accounts" in response.context["form"].errors
    assert not ImportJob.objects.exists()


def test_a_source_is_offered_only_at_freespee_accounts_the_customer_is_at(operator):
    populate(operator.partner, 1)
    customer = Customer.objects.get()
    elsewhere = ProviderAccountFactory(partner=operator.partner, name="Freespee two")
    lonely = CustomerFactory(partner=operator.partner)

    offered = operator.get(reverse("portal:source_create", args=[customer.pk]))
    none = operator.get(reverse("portal:source_create", args=[lonely.pk])).content.decode()

    accounts = list(offered.context["form"].fields["provider_account"].queryset)
    assert elsewhere not in accounts and len(accounts) == 1
    assert "needs the customer at Freespee first" in none
    assert 'id="id_media"' not in none


def test_number_search_uses_an_account_that_works_and_hides_numbers_already_held(operator, sandbox):
    broken = SureVoIPAccountFactory(
        partner=operator.partner, name="A broken", base_url=f"{sandbox.url}/surevoip"
    )
    services.provider_account_pause(provider_account=broken, reason="401")
    working = SureVoIPAccountFactory(
        partner=operator.partner, name="B working", base_url=f"{sandbox.url}/surevoip"
    )
    budget_reset(provider_account=working)
    url = reverse("portal:number_search")
    first = operator.get(url, {"area": "1224"}).context["results"]
    customer = services.customer_create(
        partner=operator.partner,
        provider_accounts=[working],
        requested_by=None,
        name="A",
        custnr="1",
    )
    services.number_create(
        customer=customer, provider_account=working, requested_by=None, e164=first[0].e164
    )

    response = operator.get(url, {"area": "1224"})

    assert response.context["account"] == working
    assert "account" in response.context["form"].fields  # two to choose from
    assert first[0].e164 not in [number.e164 for number in response.context["results"]]
    assert len(response.context["results"]) == len(first) - 1


def test_a_number_being_released_loses_its_actions_live(operator):
    populate(operator.partner, 1)
    number = Number.objects.get()
    page = operator.get(reverse("portal:customer_detail", args=[number.customer_id]))
    assert f'data-live="number-row:{number.pk}"' in page.content.decode()

    operator.post(reverse("portal:number_release", args=[number.pk]))
    row = operator.get(reverse("portal:sync_status"), {"objects": f"number-row:{number.pk}"})

    fresh = row.content.decode()
    number.refresh_from_db()
    assert "<template>" in fresh and f'<tr id="number-{number.pk}" ' in fresh
    assert number.get_sync_state_display() in fresh and "Release" not in fresh
