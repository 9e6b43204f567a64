"""The Freespee client against the sandbox: typed values, error mapping, faults, redaction."""

import dataclasses
from datetime import UTC, datetime

import pytest

from integrations.errors import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    PermanentError,
    TransientError,
)
from integrations.freespee.client import FreespeeClient
from tests.integrations.freespee.conftest import PASSWORD


@pytest.fixture
def client(config):
    return FreespeeClient(config)


def test_ping_answers_ok(client):
    assert client.ping() == {"ping": "ok"}


def test_customer_values_come_back_typed(client):
    customer = client.customer_create(
        {"name": "DailyLoans", "custnr": "1412", "freespee_caller_id": True}
    )

    assert isinstance(customer["customer_id"], int)
    assert customer["freespee_caller_id"] is True
    assert customer["receive_monthly_report"] == 0
    assert client.customer_get(customer["customer_id"]) == customer


def test_source_values_come_back_typed(client):
    customer = client.customer_create({"name": "DailyLoans", "custnr": "1412"})
    activation = datetime(2031, 5, 1, 12, 30, tzinfo=UTC)

    source = client.source_create(
        {
            "customer_id": customer["customer_id"],
            "name": "AdWords",
            "media": "Google.com",
            "phonenr": "0890510",
            "timestamp": activation,
            "vm_divert_all": True,
        }
    )

    assert source["timestamp"] == activation
    assert source["expire"] is None
    assert isinstance(source["created"], datetime)
    assert source["vm_divert_all"] is True and source["notify_on_missed_call"] is False
    assert source["class"] == 0 and source["vm_greeting_id"] is None
    assert source["status"] == "upcoming"


def test_lists_carry_the_paging_properties(client, freespee):
    freespee.seed_customers(7)

    page = client.customers_list(page=1, pagesize=3)

    assert (page.total, page.page, page.pagesize, page.numpages) == (7, 1, 3, 3)
    assert [c["custnr"] for c in page.records] == ["seed-3", "seed-4", "seed-5"]
    assert not page.is_last


def test_a_400_maps_each_message_to_its_field(client):
    client.customer_create({"name": "DailyLoans", "custnr": "1412"})

    with pytest.raises(PermanentError) as raised:
        client.customer_create({"name": "", "custnr": "1412", "email": "nope"})

    assert raised.value.status == 400
    assert set(raised.value.field_errors) == {"name", "custnr", "email"}
    assert raised.value.field_errors["name"] == ["name is mandatory"]
    assert "custnr 1412 is already used" in raised.value.message


def test_an_unknown_id_raises_not_found(client):
    with pytest.raises(NotFoundError):
        client.customer_get(1)


def test_wrong_credentials_raise_authentication_error_naming_the_allow_list(config):
    client = FreespeeClient(dataclasses.replace(config, secret="wrong"))

    with pytest.raises(AuthenticationError) as raised:
        client.ping()

    assert raised.value.status == 401
    assert "allow list" in raised.value.message
    assert "password" in raised.value.message


def test_a_lost_response_on_create_raises_outcome_unknown_but_the_customer_exists(
    client, sandbox, freespee
):
    client.ping()  # the digest handshake, so the create is the only request faulted
    sandbox.set_faults("freespee", lost_response_rate=1.0)

    with pytest.raises(OutcomeUnknownError):
        client.customer_create({"name": "DailyLoans", "custnr": "1412"})

    assert [c["custnr"] for c in freespee.state()["customers"]] == ["1412"]


def test_a_read_timeout_is_transient(config, sandbox):
    client = FreespeeClient(dataclasses.replace(config, read_timeout=1.0))
    sandbox.set_faults("freespee", timeout_rate=1.0, timeout_seconds=2)

    with pytest.raises(TransientError) as raised:
        client.customers_list()

    assert not isinstance(raised.value, OutcomeUnknownError)


def test_a_503_is_transient_with_freespees_message(client, sandbox):
    sandbox.set_faults("freespee", error_rate=1.0, error_status=503)

    with pytest.raises(TransientError) as raised:
        client.ping()

    assert raised.value.status == 503
    assert "Please try again later" in raised.value.message


def test_no_secret_appears_in_recorded_exchanges(config, sandbox):
    exchanges = []
    client = FreespeeClient(config, recorder=exchanges.append)

    client.ping()
    customer = client.customer_create({"name": "DailyLoans", "custnr": "1412"})
    client.customer_update(customer["customer_id"], {"email": "a@dailyloans.se"})
    with pytest.raises(PermanentError):
        client.customer_create({"name": "DailyLoans", "custnr": "1412"})
    sandbox.set_faults("freespee", lost_response_rate=1.0)
    with pytest.raises(OutcomeUnknownError):
        client.customer_create({"name": "Other", "custnr": "2"})

    assert len(exchanges) == 5
    assert [e.status for e in exchanges] == [200, 200, 200, 400, None]
    for exchange in exchanges:
        assert PASSWORD not in repr(exchange)
