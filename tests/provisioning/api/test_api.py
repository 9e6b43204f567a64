import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from provisioning import services
from provisioning.models import (
    ApiKey,
    Customer,
    Number,
    OperationState,
    ProviderAccount,
    Source,
    StaffRole,
    SyncOperation,
)
from tests.factories import StaffMembershipFactory

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/customers/"


def test_requests_without_a_key_are_refused_as_problem_details():
    response = APIClient().get(CUSTOMERS)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_and_revoked_keys_are_refused(tenant):
    unknown = APIClient()
    unknown.credentials(HTTP_AUTHORIZATION="Bearer pk_not-a-key")
    services.api_key_revoke(api_key=tenant.api_key)

    assert unknown.get(CUSTOMERS).status_code == 401
    assert tenant.client.get(CUSTOMERS).status_code == 401


def test_a_valid_key_works_and_records_its_last_use(tenant):
    response = tenant.client.get(CUSTOMERS)

    assert response.status_code == 200
    assert ApiKey.objects.get(pk=tenant.api_key.pk).last_used_at is not None


def test_create_api_key_command_prints_the_key_once_and_stores_its_hash(tenant, capsys):
    call_command("create_api_key", partner=tenant.partner.slug, name="CRM")

    key = capsys.readouterr().out.strip()
    stored = ApiKey.objects.get(name="CRM")
    assert key.startswith("pk_")
    assert stored.key_hash == ApiKey.hash(key)
    assert key not in (stored.key_hash, stored.prefix)


def test_customer_create_answers_202_with_pending_accounts(tenant):
    response = tenant.client.post(
        CUSTOMERS,
        {
            "name": "DailyLoans",
            "custnr": "1412",
            "phone": "01224 279484",
            "provider_accounts": [tenant.freespee.pk, tenant.surevoip.pk],
        },
        format="json",
    )

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["phone"] == "+441224279484"
    assert sorted(a["provider"] for a in body["accounts"]) == ["freespee", "surevoip"]
    assert {a["sync_state"] for a in body["accounts"]} == {"pending"}


def test_customer_validation_errors_name_the_field_and_change_nothing(tenant):
    tenant.customer(custnr="1412")

    duplicate = tenant.client.post(CUSTOMERS, {"name": "X", "custnr": "1412"}, format="json")
    too_long = tenant.client.post(CUSTOMERS, {"name": "x" * 61, "custnr": "9"}, format="json")
    bad_phone = tenant.client.post(
        CUSTOMERS, {"name": "Y", "custnr": "10", "phone": "12"}, format="json"
    )

    assert duplicate.status_code == 400
    assert duplicate.json()["errors"] == {
        "custnr": ["You already have a customer with this customer number."]
    }
    assert list(too_long.json()["errors"]) == ["name"]
    assert list(bad_phone.json()["errors"]) == ["phone"]
    assert Customer.objects.count() == 1


def test_provider_account_of_another_partner_cannot_be_used(tenant, other):
    response = tenant.client.post(
        CUSTOMERS,
        {"name": "X", "custnr": "1", "provider_accounts": [other.freespee.pk]},
        format="json",
    )

    assert response.status_code == 400
    assert "provider_accounts" in response.json()["errors"]


@pytest.mark.parametrize("page_size", [10, 100])
def test_customer_list_runs_a_constant_number_of_queries(tenant, page_size):
    for n in range(page_size):
        tenant.customer(custnr=f"C{n}", name=f"Customer {n}")

    with CaptureQueriesContext(connection) as queries:
        response = tenant.client.get(CUSTOMERS, {"page_size": page_size})

    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    assert len(queries) <= 6


def test_lists_filter_search_and_paginate(tenant):
    for n in range(12):
        tenant.customer(custnr=f"C{n:02d}", name=f"Customer {n:02d}")
    tenant.customer(custnr="Z1", name="Zebra Telecom")

    first = tenant.client.get(CUSTOMERS, {"page_size": 5}).json()
    second = tenant.client.get(CUSTOMERS, {"page_size": 5, "page": 2}).json()
    found = tenant.client.get(CUSTOMERS, {"search": "zebra"}).json()
    pending = tenant.client.get(CUSTOMERS, {"sync_state": "pending", "provider": "freespee"})
    synced = tenant.client.get(CUSTOMERS, {"sync_state": "synced"}).json()
    bad = tenant.client.get(CUSTOMERS, {"sync_state": "sideways"})

    assert first["count"] == 13
    assert not {c["id"] for c in first["results"]} & {c["id"] for c in second["results"]}
    assert [c["custnr"] for c in found["results"]] == ["Z1"]
    assert pending.json()["count"] == 13
    assert synced["count"] == 0
    assert bad.status_code == 400
    assert "sync_state" in bad.json()["errors"]


def test_customer_state_and_provider_filters_match_the_same_account(tenant):
    customer = tenant.customer()
    customer.accounts.filter(provider_account=tenant.surevoip).update(sync_state="failed")
    customer.accounts.filter(provider_account=tenant.freespee).update(sync_state="synced")

    at_surevoip = tenant.client.get(CUSTOMERS, {"sync_state": "failed", "provider": "surevoip"})
    at_freespee = tenant.client.get(CUSTOMERS, {"sync_state": "failed", "provider": "freespee"})

    assert [c["id"] for c in at_surevoip.json()["results"]] == [customer.pk]
    assert at_freespee.json()["count"] == 0


def test_customer_update_and_delete_are_queued(tenant):
    customer = tenant.customer()
    url = f"{CUSTOMERS}{customer.pk}/"

    updated = tenant.client.patch(url, {"name": "DL Group"}, format="json")
    deleted = tenant.client.delete(url)

    assert updated.status_code == 202
    assert updated.json()["name"] == "DL Group"
    assert deleted.status_code == 202
    assert tenant.client.get(url).status_code == 404


def test_idempotency_key_replays_the_first_answer(tenant):
    body = {"name": "DailyLoans", "custnr": "1412", "provider_accounts": [tenant.freespee.pk]}

    first = tenant.client.post(CUSTOMERS, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = tenant.client.post(CUSTOMERS, body, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    changed = tenant.client.post(
        CUSTOMERS, {**body, "name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="abc"
    )

    assert first.status_code == 202
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert changed.status_code == 422
    assert Customer.objects.count() == 1


def test_bulk_create_is_all_or_nothing(tenant):
    url = f"{CUSTOMERS}bulk/"
    good = {"name": "A", "custnr": "A1", "provider_accounts": [tenant.freespee.pk]}

    refused = tenant.client.post(
        url, {"items": [good, {"name": "B", "custnr": "B1", "phone": "12"}]}, format="json"
    )

    assert refused.status_code == 400
    assert list(refused.json()["errors"]["items"]) == ["1"]
    assert Customer.objects.count() == 0

    accepted = tenant.client.post(
        url, {"items": [good, {"name": "B", "custnr": "B1"}]}, format="json"
    )

    assert accepted.status_code == 202
    items = accepted.json()["items"]
    assert [item["created"] for item in items] == [True, True]
    assert len(items[0]["operations"]) == 1
    assert Customer.objects.count() == 2


def test_bulk_refuses_more_than_the_limit(tenant):
    items = [{"name": f"C{n}", "custnr": f"C{n}"} for n in range(101)]

    response = tenant.client.post(f"{CUSTOMERS}bulk/", {"items": items}, format="json")

    assert response.status_code == 400
    assert "items" in response.json()["errors"]


def test_source_and_number_creates_are_queued(tenant):
    customer = tenant.customer()

    source = tenant.client.post(
        "/api/v1/sources/",
        {
            "customer": customer.pk,
            "provider_account": tenant.freespee.pk,
            "name": "AdWords",
            "media": "Google.com",
            "phonenr": "+4689051000",
        },
        format="json",
    )
    number = tenant.client.post(
        "/api/v1/numbers/",
        {
            "customer": customer.pk,
            "provider_account": tenant.surevoip.pk,
            "e164": "01224 900999",
            "destination": "SIP/01224900999@192.0.2.10:5060",
        },
        format="json",
    )
    wrong_provider = tenant.client.post(
        "/api/v1/sources/",
        {
            "customer": customer.pk,
            "provider_account": tenant.surevoip.pk,
            "name": "X",
            "media": "Y",
            "phonenr": "+4689051000",
        },
        format="json",
    )

    assert source.status_code == 202, source.json()
    assert source.json()["sync_state"] == "pending"
    assert number.status_code == 202, number.json()
    assert number.json()["e164"] == "+441224900999"
    assert wrong_provider.status_code == 400
    assert "provider_account" in wrong_provider.json()["errors"]


def test_provider_account_secret_is_write_only(tenant):
    response = tenant.client.post(
        "/api/v1/provider-accounts/",
        {
            "kind": "freespee",
            "name": "Freespee live",
            "base_url": "https://api.example.com",
            "api_version": "2.4.9",
            "username": "partner",
            "secret": "s3cret-Pa55word",
        },
        format="json",
    )
    listing = tenant.client.get("/api/v1/provider-accounts/")

    assert response.status_code == 201, response.json()
    assert "secret" not in response.json()
    assert "s3cret-Pa55word" not in listing.content.decode()
    missing = tenant.client.post(
        "/api/v1/provider-accounts/",
        {"kind": "freespee", "name": "No secret", "base_url": "https://x.example", "username": "u"},
        format="json",
    )
    assert missing.status_code == 400
    assert "secret" in missing.json()["errors"]


def test_failed_operation_can_be_retried(tenant):
    tenant.customer()
    operation = SyncOperation.objects.first()
    SyncOperation.objects.filter(pk=operation.pk).update(state=OperationState.FAILED, error="x")

    retried = tenant.client.post(f"/api/v1/operations/{operation.pk}/retry/")
    again = tenant.client.post(f"/api/v1/operations/{operation.pk}/retry/")

    assert retried.status_code == 202
    assert retried.json()["state"] == "pending"
    assert again.status_code == 400


def test_reconcile_is_queued(tenant):
    response = tenant.client.post(
        f"/api/v1/provider-accounts/{tenant.freespee.pk}/reconcile/", {"dry_run": True}
    )

    assert response.status_code == 202
    assert response.json()["dry_run"] is True
    assert response.json()["state"] == "queued"


def test_viewer_staff_can_read_but_not_change(tenant):
    membership = StaffMembershipFactory(partner=tenant.partner, role=StaffRole.VIEWER)
    client = APIClient()
    client.force_login(membership.user)

    assert client.get(CUSTOMERS).status_code == 200
    response = client.post(CUSTOMERS, {"name": "X", "custnr": "1"}, format="json")
    assert response.status_code == 403
    assert Customer.objects.count() == 0


def test_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))

    assert (tmp_path / "s.yaml").read_text().startswith("openapi: 3")


def test_the_api_docs_are_served_by_the_portal_itself(client):
    from django.contrib.staticfiles import finders

    page = client.get("/api/docs/").content.decode()

    scripts = re.findall(r'src="([^"]+)"', page)
    assert scripts and all(src.startswith("/static/") for src in scripts), scripts
    assert "cdn." not in page
    for src in scripts:
        assert finders.find(src.removeprefix("/static/")), src


class TestTenantIsolation:
    """Every endpoint and method, with another partner's ids: 404, never 403."""

    @pytest.fixture
    def foreign(self, other):
        customer = other.customer()
        source = Source.objects.create(
            customer=customer,
            provider_account=other.freespee,
            name="S",
            media="M",
            phonenr="+4689051000",
        )
        number = Number.objects.create(
            customer=customer, provider_account=other.surevoip, e164="+441224900999"
        )
        operation = SyncOperation.objects.filter(partner=other.partner).first()
        return {
            "customers": customer.pk,
            "sources": source.pk,
            "numbers": number.pk,
            "provider-accounts": other.freespee.pk,
            "operations": operation.pk,
        }

    @pytest.mark.parametrize(
        ("resource", "method", "suffix"),
        [
            (resource, method, "")
            for resource in ["customers", "sources", "numbers"]
            for method in ["get", "put", "patch", "delete"]
        ]
        + [("provider-accounts", method, "") for method in ["get", "put", "patch"]]
        + [("provider-accounts", "post", "reconcile/"), ("operations", "get", "")]
        + [("operations", "post", "retry/")],
    )
    def test_another_partners_object_is_404(self, tenant, foreign, resource, method, suffix):
        url = f"/api/v1/{resource}/{foreign[resource]}/{suffix}"

        response = getattr(tenant.client, method)(url, {}, format="json")

        assert response.status_code == 404

    @pytest.mark.parametrize(
        "resource", ["customers", "sources", "numbers", "provider-accounts", "operations"]
    )
    def test_lists_never_include_another_partners_rows(self, tenant, foreign, resource):
        response = tenant.client.get(f"/api/v1/{resource}/")

        assert response.status_code == 200
        assert foreign[resource] not in {row["id"] for row in response.json()["results"]}
        assert response.json()["count"] == 0 or resource in ("provider-accounts",)


def test_number_search_finds_free_numbers_by_vanity_letters(tenant, sandbox):
    ProviderAccount.objects.filter(pk=tenant.surevoip.pk).update(base_url=f"{sandbox.url}/surevoip")

    response = tenant.client.get("/api/v1/number-search/", {"number_filter": "Ab"})

    assert response.status_code == 200, response.json()
    numbers = [row["e164"] for row in response.json()]
    assert numbers and all(n.startswith("+44") and "22" in n for n in numbers)


def test_number_search_refuses_malformed_input_naming_the_field(tenant):
    response = tenant.client.get(
        "/api/v1/number-search/", {"areacode": "12a", "number_range": "10--20"}
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"areacode", "number_range"}
