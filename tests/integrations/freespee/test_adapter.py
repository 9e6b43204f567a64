"""The Freespee adapter's contract, over real HTTP against the sandbox."""

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import pytest

from integrations.contract import CustomerRecord, NumberRecord, SourceRecord
from integrations.errors import NotFoundError, NotSupportedError, PermanentError
from integrations.freespee.adapter import CallRecord, FreespeeAdapter

LARGEST_PAGE = 1000


@pytest.fixture
def adapter(config):
    return FreespeeAdapter(config)


@pytest.fixture
def customer(adapter) -> CustomerRecord:
    return adapter.customer_create(CustomerRecord(custnr="1412", name="DailyLoans"))


def source_record(customer: CustomerRecord, **fields) -> SourceRecord:
    values = {
        "customer_remote_id": customer.remote_id,
        "name": "AdWords",
        "media": "Google.com",
        "phonenr": "+46812345678",
        **fields,
    }
    return SourceRecord(**values)


def list_requests(sandbox, path: str) -> list[dict]:
    return [
        entry
        for entry in sandbox.requests_log("freespee")
        if entry["method"] == "GET" and entry["path"].endswith(path)
    ]


def test_ping_reports_ok(adapter):
    ping = adapter.ping()

    assert ping.ok
    assert ping.latency_ms >= 0


def test_a_created_customer_reads_back_with_every_field(adapter):
    record = CustomerRecord(
        custnr="1412",
        name="DailyLoans",
        email="boss@dailyloans.se",
        corporateid="SE556677",
        custom_fields={1: "one", 20: "twenty"},
        receive_monthly_report=2,
        freespee_caller_id=True,
    )

    created = adapter.customer_create(record)
    read = adapter.customer_get(created.remote_id)

    assert created.remote_id.isdigit()
    assert read == created
    assert (read.custnr, read.name, read.email, read.corporateid) == (
        "1412",
        "DailyLoans",
        "boss@dailyloans.se",
        "SE556677",
    )
    assert read.custom_fields == {1: "one", 20: "twenty"}
    assert (read.receive_monthly_report, read.freespee_caller_id) == (2, True)


def test_an_update_pushes_the_whole_desired_state(adapter):
    created = adapter.customer_create(
        CustomerRecord(custnr="1412", name="DailyLoans", custom_fields={1: "one", 2: "two"})
    )

    updated = adapter.customer_update(
        dataclasses.replace(created, name="Daily Loans AB", custom_fields={2: "zwei"})
    )

    assert updated.name == "Daily Loans AB"
    # A custom field the portal emptied is emptied at Freespee too.
    assert adapter.customer_get(created.remote_id).custom_fields == {2: "zwei"}


def test_customers_are_found_by_custnr(adapter, customer):
    assert adapter.customer_find("1412") == customer
    assert adapter.customer_find("nobody") is None


def test_a_deleted_customer_is_gone(adapter, customer):
    adapter.customer_delete(customer.remote_id)

    assert adapter.customer_find("1412") is None
    with pytest.raises(NotFoundError):
        adapter.customer_get(customer.remote_id)
    with pytest.raises(NotFoundError):
        adapter.customer_delete(customer.remote_id)


def test_freespee_field_errors_are_mapped_to_fields(adapter, customer):
    with pytest.raises(PermanentError) as raised:
        adapter.customer_create(CustomerRecord(custnr="1412", name="x" * 61))

    assert set(raised.value.field_errors) == {"name", "custnr"}
    assert raised.value.field_errors["name"] == ["name is longer than 60 characters"]


def test_a_german_customer_without_custom_fields_1_to_6_is_refused_before_any_request(
    adapter, sandbox
):
    record = CustomerRecord(
        custnr="de-1", name="Berlin GmbH", country="DEU", custom_fields={1: "x"}
    )

    with pytest.raises(PermanentError) as raised:
        adapter.customer_create(record)

    assert sorted(raised.value.field_errors) == [f"custom_{n}" for n in range(2, 7)]
    assert sandbox.requests_log("freespee") == []


def test_a_german_customer_with_custom_fields_1_to_6_is_created(adapter):
    record = CustomerRecord(
        custnr="de-1",
        name="Berlin GmbH",
        country="DE",
        custom_fields={n: f"value {n}" for n in range(1, 7)},
    )

    created = adapter.customer_create(record)

    assert created.custom_fields == record.custom_fields


def test_customer_list_pages_at_1000_with_one_request_per_page(adapter, freespee, sandbox):
    count = 2_500
    seeded = freespee.seed_customers(count)

    listed = [record.remote_id for record in adapter.customer_list()]

    assert listed == seeded
    # Only the list requests that got an answer count: the client's first
    # request of a session also meets one digest challenge (401), after which
    # requests reuses the nonce, so there is at most one.
    requests = list_requests(sandbox, "/customers")
    answered = [entry for entry in requests if entry["status"] == 200]
    assert len(answered) == math.ceil(count / LARGEST_PAGE)
    assert len(requests) - len(answered) <= 1
    assert all("pagesize=1000" in entry["query"] for entry in answered)


def test_customer_list_is_lazy(adapter, freespee, sandbox):
    freespee.seed_customers(2_500)

    first = next(iter(adapter.customer_list()))

    assert first.custnr == "seed-0"
    assert len([e for e in list_requests(sandbox, "/customers") if e["status"] == 200]) == 1


def test_a_created_source_reads_back_with_destnr_and_status(adapter, customer):
    expire = datetime(2040, 1, 1, 12, tzinfo=UTC)
    record = source_record(
        customer,
        expire=expire,
        source_class=3,
        notify_on_missed_call=True,
        vm_divert_noanswer=True,
    )

    created = adapter.source_create(record)
    read = adapter.source_get(created.remote_id)

    assert read == created
    assert created.phonenr == "+46812345678"
    assert created.destnr.startswith("+46") and created.destnr != created.phonenr
    assert created.status == "active"
    assert created.expire == expire
    assert created.activation is not None
    assert (created.source_class, created.notify_on_missed_call, created.vm_divert_noanswer) == (
        3,
        True,
        True,
    )


def test_a_source_with_a_future_activation_is_upcoming(adapter, customer):
    activation = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)

    created = adapter.source_create(source_record(customer, activation=activation))

    assert created.status == "upcoming"
    assert created.activation == activation


def test_a_source_update_changes_the_answering_number_and_keeps_the_tracking_number(
    adapter, customer
):
    created = adapter.source_create(source_record(customer))

    updated = adapter.source_update(
        dataclasses.replace(created, phonenr="+442079460000", vm_divert_all=True, media="Bing")
    )

    assert updated.phonenr == "+442079460000"
    assert updated.vm_divert_all and updated.media == "Bing"
    assert updated.destnr == created.destnr


def test_sources_are_found_by_name_and_media_within_their_customer(adapter, customer):
    other = adapter.customer_create(CustomerRecord(custnr="2", name="Other"))
    wanted = adapter.source_create(source_record(customer))
    adapter.source_create(source_record(other))
    adapter.source_create(source_record(customer, media="Bing"))

    assert adapter.source_find(customer.remote_id, "AdWords", "Google.com") == wanted
    assert adapter.source_find(customer.remote_id, "AdWords", "Yahoo") is None


def test_a_deleted_source_is_quarantined_and_no_longer_found(adapter, customer):
    created = adapter.source_create(source_record(customer))

    adapter.source_delete(created.remote_id)

    assert adapter.source_get(created.remote_id).status == "quarantined"
    assert adapter.source_find(customer.remote_id, "AdWords", "Google.com") is None


def test_sources_are_listed_per_customer_or_all_in_pages(adapter, customer, freespee, sandbox):
    other = adapter.customer_create(CustomerRecord(custnr="2", name="Other"))
    freespee.seed_sources(int(customer.remote_id), 1_200)
    freespee.seed_sources(int(other.remote_id), 3)

    mine = list(adapter.source_list(customer.remote_id))
    everything = list(adapter.source_list())

    assert len(mine) == 1_200
    assert {s.customer_remote_id for s in mine} == {customer.remote_id}
    assert len(everything) == 1_203
    assert len({s.remote_id for s in everything}) == 1_203
    answered = [e for e in list_requests(sandbox, "/sources") if e["status"] == 200]
    assert len(answered) == 4


def test_sources_of_a_removed_customer_still_list_with_scrubbed_numbers(adapter, customer):
    adapter.source_create(source_record(customer))
    adapter.customer_delete(customer.remote_id)

    (source,) = adapter.source_list()

    assert source.status == "archived"
    assert source.phonenr == "+468********"


def test_cdrs_come_as_call_records(adapter, customer, freespee):
    created = adapter.source_create(source_record(customer))
    freespee.sources[int(created.remote_id)]["timestamp"] = "2024-01-01 00:00:00"

    calls = list(
        adapter.cdrs(customer.remote_id, datetime(2024, 1, 1), datetime(2024, 1, 10, 23, 59, 59))
    )

    assert calls
    assert all(isinstance(call, CallRecord) for call in calls)
    assert {call.destnr for call in calls} == {created.destnr}
    assert all(call.answered == (call.duration_seconds > 0) for call in calls)
    assert all(datetime(2024, 1, 1, tzinfo=UTC) <= call.start for call in calls)


def test_number_operations_are_not_freespees(adapter, customer):
    with pytest.raises(NotSupportedError):
        adapter.number_create(
            NumberRecord(customer_remote_id=customer.remote_id, e164="+46812345678")
        )
    with pytest.raises(NotSupportedError):
        list(adapter.number_list(customer.remote_id))
