"""The SureVoIP adapter's contract, over HTTP against the sandbox."""

import math

import pytest

from integrations.contract import CustomerRecord, NumberRecord
from integrations.errors import (
    NotFoundError,
    NotSupportedError,
    OutcomeUnknownError,
    PermanentError,
)
from integrations.surevoip.adapter import (
    AreaCode,
    AvailableNumber,
    company_name_tagged,
    company_name_untagged,
)
from integrations.surevoip.client import LARGEST_PAGE
from integrations.surevoip.sandbox import POOL

from .test_sandbox import seed_customers

CUSTOMER = CustomerRecord(
    custnr="1412",
    name="DailyLoans",
    email="ops@dailyloans.example",
    firstname="Dana",
    lastname="Loan",
    phone="+441224279484",
    address="24 Cormack Park",
    city="Inverurie",
    state="Aberdeenshire",
    postcode="AB51 8GL",
    country="GBR",
)


@pytest.fixture
def customer(adapter) -> CustomerRecord:
    return adapter.customer_create(CUSTOMER)


def surevoip_requests(sandbox) -> list[dict]:
    return sandbox.requests_log("surevoip")


def test_custnr_tag_round_trips_through_the_company_name():
    assert company_name_tagged("Acme Ltd", "1412") == "Acme Ltd [custnr 1412]"
    assert company_name_untagged("Acme Ltd [custnr 1412]") == ("Acme Ltd", "1412")
    assert company_name_untagged("Suretec Systems Ltd.") == ("Suretec Systems Ltd.", "")


def test_customer_create_then_read_back(adapter, sandbox):
    created = adapter.customer_create(CUSTOMER)

    remote = adapter.customer_get(created.remote_id)
    stored = sandbox.state()["surevoip"]["customers"][created.remote_id]
    assert created.remote_id == "sv000001"
    assert remote.custnr == "1412"
    assert remote.name == "DailyLoans" and remote.company_name == "DailyLoans"
    assert remote.phone == "+441224279484"
    assert (remote.email, remote.firstname, remote.lastname) == (
        CUSTOMER.email,
        CUSTOMER.firstname,
        CUSTOMER.lastname,
    )
    assert (remote.address, remote.city, remote.state, remote.postcode, remote.country) == (
        CUSTOMER.address,
        CUSTOMER.city,
        CUSTOMER.state,
        CUSTOMER.postcode,
        CUSTOMER.country,
    )
    # On the wire: SureVoIP's digits for the phone, the custnr tag on the company name.
    assert stored["phone"] == "441224279484"
    assert stored["company_name"] == "DailyLoans [custnr 1412]"


def test_company_name_is_sent_when_the_customer_has_one(adapter):
    record = CustomerRecord(**{**CUSTOMER.__dict__, "company_name": "Daily Loans Ltd"})

    created = adapter.customer_create(record)

    remote = adapter.customer_get(created.remote_id)
    assert remote.company_name == "Daily Loans Ltd" and remote.custnr == "1412"


def test_customer_update_writes_the_fields(adapter, customer):
    changed = CustomerRecord(**{**customer.__dict__, "email": "new@dailyloans.example"})

    returned = adapter.customer_update(changed)

    assert returned.email == "new@dailyloans.example"
    assert adapter.customer_get(customer.remote_id).email == "new@dailyloans.example"
    assert returned.custnr == "1412"


def test_customer_create_with_a_missing_field_is_a_field_error(adapter):
    record = CustomerRecord(**{**CUSTOMER.__dict__, "postcode": ""})

    with pytest.raises(PermanentError) as caught:
        adapter.customer_create(record)

    assert caught.value.field_errors == {"postcode": ["Postcode field is required"]}


def test_customer_delete_then_get_is_not_found(adapter, customer):
    adapter.customer_delete(customer.remote_id)

    with pytest.raises(NotFoundError):
        adapter.customer_get(customer.remote_id)


def test_customer_find_by_custnr(adapter, customer):
    adapter.customer_create(CustomerRecord(**{**CUSTOMER.__dict__, "custnr": "1413"}))

    found = adapter.customer_find("1412")

    assert found is not None and found.remote_id == customer.remote_id
    assert adapter.customer_find("9999") is None


def test_customer_create_with_lost_answer_is_found_by_custnr(adapter, sandbox):
    sandbox.set_faults("surevoip", lost_response_rate=1.0)
    with pytest.raises(OutcomeUnknownError):
        adapter.customer_create(CUSTOMER)
    sandbox.clear_faults()

    found = adapter.customer_find("1412")

    assert found is not None and found.remote_id == "sv000001"


def test_customer_list_pages_at_the_largest_limit(adapter, sandbox):
    count = 2 * LARGEST_PAGE + 500
    seed_customers(sandbox, count)
    before = len(surevoip_requests(sandbox))

    listed = list(adapter.customer_list())

    requests_made = surevoip_requests(sandbox)[before:]
    assert len(listed) == count
    assert len({c.remote_id for c in listed}) == count
    assert len(requests_made) == math.ceil(count / LARGEST_PAGE)
    assert all(f"limit={LARGEST_PAGE}" in entry["query"] for entry in requests_made)


def test_customer_list_is_lazy(adapter, sandbox):
    seed_customers(sandbox, LARGEST_PAGE + 1)
    before = len(surevoip_requests(sandbox))

    first = next(iter(adapter.customer_list()))

    assert first.remote_id == "sv000001"
    assert len(surevoip_requests(sandbox)) - before == 1


# -- numbers ----------------------------------------------------------------------


def test_number_create_get_update_find_delete(adapter, customer, sandbox):
    record = NumberRecord(
        customer_remote_id=customer.remote_id,
        e164="+441224900999",
        destination="SIP/01224900999@192.0.2.10:5060",
    )

    created = adapter.number_create(record)
    got = adapter.number_get(customer.remote_id, "+441224900999")
    adapter.number_update(
        NumberRecord(**{**record.__dict__, "destination": "+441224279484", "activated": False})
    )
    updated = adapter.number_find(customer.remote_id, "+441224900999")
    stored = sandbox.state()["surevoip"]["numbers"]["441224900999"]
    adapter.number_delete(customer.remote_id, "+441224900999")

    assert created.remote_id == "441224900999"
    assert got.e164 == "+441224900999"
    assert got.destination == "SIP/01224900999@192.0.2.10:5060"
    assert got.activated and not got.ported
    assert updated.destination == "+441224279484" and not updated.activated
    # The wire form: a number destination in digits without "+".
    assert stored["destination"] == "441224279484"
    assert adapter.number_find(customer.remote_id, "+441224900999") is None
    with pytest.raises(NotFoundError):
        adapter.number_delete(customer.remote_id, "+441224900999")


def test_number_create_keeps_ported(adapter, customer):
    adapter.number_create(
        NumberRecord(customer_remote_id=customer.remote_id, e164="+442035159999", ported=True)
    )

    assert adapter.number_get(customer.remote_id, "+442035159999").ported


def test_number_create_many_is_one_post(adapter, customer, sandbox):
    records = [
        NumberRecord(
            customer_remote_id=customer.remote_id,
            e164=f"+44122490010{n}",
            destination=f"SIP/10{n}@192.0.2.10:5060",
        )
        for n in range(5)
    ]
    before = len(surevoip_requests(sandbox))

    created = adapter.number_create_many(records)

    made = surevoip_requests(sandbox)[before:]
    assert [(r["method"], r["status"]) for r in made] == [("POST", 201)]
    assert [r.remote_id for r in created] == [f"44122490010{n}" for n in range(5)]
    listed = {r.e164 for r in adapter.number_list(customer.remote_id)}
    assert listed == {r.e164 for r in records}


def test_number_list_pages_at_the_largest_limit(adapter, customer, sandbox):
    surevoip = sandbox.app.sandboxes["surevoip"]
    numbers = list(POOL)[:2100]
    with surevoip.lock:
        for number in numbers:
            surevoip._number_save(customer.remote_id, {"number": number, "activated": "0"})
    before = len(surevoip_requests(sandbox))

    listed = list(adapter.number_list(customer.remote_id))

    assert len(surevoip_requests(sandbox)) - before == math.ceil(len(numbers) / LARGEST_PAGE)
    assert [r.remote_id for r in listed] == numbers
    assert all(r.e164 == f"+{r.remote_id}" and not r.activated for r in listed)


# -- search, ping, rate limit, unsupported --------------------------------------------


def test_numbers_search_returns_e164_with_area(adapter):
    found = adapter.numbers_search(areacode="01224", number_filter="Ab")

    assert found
    assert all(isinstance(n, AvailableNumber) for n in found)
    assert all(n.e164.startswith("+441224") and "22" in n.e164[7:] for n in found)
    assert {(n.areacode, n.area) for n in found} == {("01224", "Aberdeen")}


def test_numbers_search_by_place_name_looks_up_the_area_code_first(adapter):
    found = adapter.numbers_search(area_name="glasgow", number_range="0000-0004")

    assert [n.e164 for n in found] == [f"+44141496000{n}" for n in range(5)]
    assert {n.area for n in found} == {"Glasgow"}


def test_numbers_search_returns_at_most_50(adapter):
    assert len(adapter.numbers_search(areacode="020")) == 50


def test_areacodes_by_name_and_code(adapter):
    assert adapter.areacodes("Edinburgh") == [AreaCode(areacode="0131", area="Edinburgh")]
    assert adapter.areacodes("020") == [AreaCode(areacode="020", area="London")]


def test_ping_is_an_authenticated_echo(adapter, sandbox):
    ping = adapter.ping()

    assert ping.ok and ping.latency_ms >= 0
    (request,) = surevoip_requests(sandbox)
    assert (request["method"], request["path"]) == ("PUT", "/support/echo")


def test_rate_limit_remaining_is_exposed_after_each_call(adapter, customer):
    first = adapter.rate_limit.remaining
    adapter.customer_get(customer.remote_id)
    second = adapter.rate_limit.remaining

    assert adapter.rate_limit.limit == 5000
    assert first is not None and second == first - 1


def test_sources_are_not_supported(adapter):
    with pytest.raises(NotSupportedError):
        list(adapter.source_list())


def test_number_list_reads_the_older_number_forms_of_the_docs_example(adapter, customer, sandbox):
    # The doc's list holds "01224900123" and "00441224900123" beside 441269849575.
    surevoip = sandbox.app.sandboxes["surevoip"]
    with surevoip.lock:
        for number in ("441269849575", "01224900123", "00441224900123"):
            surevoip._number_save(customer.remote_id, {"number": number})

    listed = [r.e164 for r in adapter.number_list(customer.remote_id)]

    assert listed == ["+441269849575", "+441224900123", "+441224900123"]
