"""The SureVoIP client against the sandbox: error mapping, faults, rate limit, recording."""

from datetime import UTC, datetime

import pytest

from integrations.errors import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    PermanentError,
    TransientError,
)
from integrations.sandbox import SandboxApp, serve
from integrations.surevoip.client import SureVoIPClient
from integrations.surevoip.sandbox import SureVoIPSandbox

from .conftest import DOC_CUSTOMER, PASSWORD, USERNAME, make_config


def test_customer_create_returns_the_account_name_from_location(client, sandbox):
    account = client.customer_create(DOC_CUSTOMER)

    assert account == "sv000001"
    assert client.customer_get(account)["company_name"] == DOC_CUSTOMER["company_name"]
    assert list(sandbox.state()["surevoip"]["customers"]) == [account]


def test_every_call_asks_for_no_hypermedia(client, sandbox):
    account = client.customer_create(DOC_CUSTOMER)
    client.customer_get(account)
    client.customers_list()
    client.numbers_search(areacode="01224")

    log = sandbox.requests_log("surevoip")
    assert len(log) == 4
    assert all("hypermedia=no" in entry["query"] for entry in log)


def test_customer_update_and_delete(client):
    account = client.customer_create(DOC_CUSTOMER)

    updated = client.customer_update(account, {"city": "Aberdeen"})
    client.customer_delete(account)

    assert updated["city"] == "Aberdeen"
    with pytest.raises(NotFoundError):
        client.customer_get(account)


def test_numbers_put_post_get_list_and_delete(client):
    account = client.customer_create(DOC_CUSTOMER)

    put = client.number_put(
        account, "441224900999", destination="sip:01224900999@pbx.example.com:5060"
    )
    posted = client.numbers_create(
        account,
        [
            {"number": "441224900101", "destination": "441224824887", "activated": "1"},
            {"number": "441224900102", "destination": "SIP/102@192.0.2.1:5060", "ported": "1"},
        ],
    )
    one = client.number_get(account, "441224900102")
    listed = client.numbers_list(account, page=1, limit=2)
    client.number_delete(account, "441224900101")

    assert put["number"] == "441224900999"
    assert posted == ["441224900101", "441224900102"]
    assert one["ported"] == "1" and one["destination"] == "SIP/102@192.0.2.1:5060"
    assert listed["total_entries"] == "3" and listed["next_page"] == 2
    assert [n["number"] for n in client.numbers_list(account)["list"]] == [
        "441224900999",
        "441224900102",
    ]


def test_search_areacodes_echo_ip_sip_and_call_stats(client):
    account = client.customer_create(DOC_CUSTOMER)

    search = client.numbers_search(areacode="01224", number_filter="Ab")
    areas = client.areacodes("Aberdeen")
    echoed = client.echo({"message": "This is what you sent"})

    assert search["list"] and all("22" in str(e["number"]) for e in search["list"])
    assert areas["list"] == [{"areacode": "01224", "areaname": "Aberdeen (01224)"}]
    assert echoed == {"message": "This is what you sent"}
    assert client.ip_address() == "127.0.0.1"
    assert client.sip(account)[0]["sip_username"] == account
    assert client.call_stats(account)["calls"] == "0"


def test_rate_limit_is_read_from_every_response(client):
    assert client.rate_limit.remaining is None

    client.customers_list()
    first = client.rate_limit
    client.customers_list()
    second = client.rate_limit

    assert first.limit == 5000
    assert second.remaining == first.remaining - 1
    assert first.reset_at is not None
    assert 0 < (first.reset_at - datetime.now(UTC)).total_seconds() <= 3600


# -- errors -----------------------------------------------------------------------


def test_field_errors_become_permanent_error_keyed_by_field(client):
    with pytest.raises(PermanentError) as caught:
        client.customer_create({"firstname": "Gavin", "email": "nope"})

    error = caught.value
    assert error.status == 400
    assert error.field_errors["email"] == ["Must be a valid e-mail address"]
    assert error.field_errors["lastname"] == ["Lastname field is required"]
    assert "email: Must be a valid e-mail address" in error.message


def test_bad_destination_is_a_field_error_on_destination(client):
    account = client.customer_create(DOC_CUSTOMER)

    with pytest.raises(PermanentError) as caught:
        client.number_put(account, "441224900999", destination="+441224824887")

    assert caught.value.field_errors == {"destination": ["Format is 447123123456. No + allowed"]}


def test_wrong_password_is_an_authentication_error(base_url):
    client = SureVoIPClient(make_config(base_url, secret="wrong"))

    with pytest.raises(AuthenticationError) as caught:
        client.customers_list()

    assert caught.value.status == 401


def test_unknown_customer_is_not_found(client):
    with pytest.raises(NotFoundError) as caught:
        client.customer_get("sv999999")

    assert caught.value.message == "Cannot find what you were looking for!"


def test_503_is_transient(client, sandbox):
    sandbox.set_faults("surevoip", error_rate=1.0, error_status=503)

    with pytest.raises(TransientError) as caught:
        client.customers_list()

    assert caught.value.status == 503
    assert not isinstance(caught.value, OutcomeUnknownError)


def test_timeout_is_transient(base_url, sandbox):
    client = SureVoIPClient(make_config(base_url, read_timeout=1.0))
    sandbox.set_faults("surevoip", timeout_rate=1.0, timeout_seconds=2)

    with pytest.raises(TransientError) as caught:
        client.customers_list()

    assert not isinstance(caught.value, OutcomeUnknownError)


def test_lost_response_on_customer_create_is_outcome_unknown_but_applied(client, sandbox):
    sandbox.set_faults("surevoip", lost_response_rate=1.0)

    with pytest.raises(OutcomeUnknownError):
        client.customer_create(DOC_CUSTOMER)

    sandbox.clear_faults()
    customers = sandbox.state()["surevoip"]["customers"]
    assert len(customers) == 1
    assert client.customers_list()["total_entries"] == "1"


def test_lost_response_on_number_put_is_plain_transient(client, sandbox):
    # PUT is SureVoIP's create-or-update: sending it again is safe.
    account = client.customer_create(DOC_CUSTOMER)
    sandbox.set_faults("surevoip", lost_response_rate=1.0)

    with pytest.raises(TransientError) as caught:
        client.number_put(account, "441224900999", destination="441224824887")

    assert not isinstance(caught.value, OutcomeUnknownError)
    sandbox.clear_faults()
    assert client.number_get(account, "441224900999")["destination"] == "441224824887"


@pytest.fixture
def tiny_limit_client():
    server = serve(SandboxApp([SureVoIPSandbox({USERNAME: PASSWORD}, rate_limit_per_hour=2)]))
    yield SureVoIPClient(make_config(f"http://127.0.0.1:{server.port}/surevoip"))
    server.shutdown()


def test_429_is_transient_with_retry_after_from_the_reset_header(tiny_limit_client):
    tiny_limit_client.customers_list()
    tiny_limit_client.customers_list()

    with pytest.raises(TransientError) as caught:
        tiny_limit_client.customers_list()

    assert caught.value.status == 429
    assert 3590 <= caught.value.retry_after <= 3600
    assert tiny_limit_client.rate_limit.remaining == 0


# -- recording --------------------------------------------------------------------


def test_recorded_exchanges_hold_no_secret(client, exchanges):
    account = client.customer_create(DOC_CUSTOMER)
    trunk = client.sip(account)[0]
    with pytest.raises(PermanentError):
        client.customer_create({"firstname": "x"})

    assert trunk["sip_password"]
    assert len(exchanges) == 3
    for exchange in exchanges:
        text = f"{exchange.url} {exchange.request_body} {exchange.response_body} {exchange.error}"
        assert PASSWORD not in text
        assert trunk["sip_password"] not in text
    assert exchanges[0].method == "POST" and exchanges[0].status == 201
    assert '"sip_password": "***"' in exchanges[1].response_body


def test_injected_401_is_an_authentication_error(client, sandbox):
    sandbox.set_faults("surevoip", error_rate=1.0, error_status=401)

    with pytest.raises(AuthenticationError):
        client.customers_list()
