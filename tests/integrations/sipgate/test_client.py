"""SipgateClient against the sandbox over real HTTP: paths, formats, errors, faults, threads."""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from integrations.errors import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    PermanentError,
    TransientError,
)
from integrations.sipgate.client import SipgateClient
from tests.integrations.sipgate.conftest import PASSWORD

RECIPIENT = "+4915199999999"


def test_every_request_carries_version_and_asks_for_json(sandbox, client):
    client.balance()
    client.dnd_set("e0", True)

    log = sandbox.requests_log("sipgate")
    assert [entry["path"] for entry in log] == [
        "/my/billing/balance/",
        "/my/settings/extensions/e0/dnd/",
    ]
    assert all("version=2.41.0" in entry["query"] for entry in log)


def test_configured_user_id_replaces_the_my_alias_in_every_path(sandbox, config, user_id):
    client = SipgateClient(dataclasses.replace(config, user_id=user_id))

    assert client.base_product_type() == "team"
    assert sandbox.requests_log("sipgate")[0]["path"] == f"/{user_id}/settings/baseproducttype/"


def test_user_id_behind_my_is_resolved_from_a_resource_link(client, user_id):
    assert client.user_id_resolve() == user_id


def test_numbers_and_extensions_are_read_in_sipgate_terms(client):
    numbers = client.numbers()
    extensions = client.extensions()
    extension = client.extension("e0")

    assert numbers["allowAdd"] is False
    assert [e["extensionId"] for e in extensions] == ["e0", "e1", "f0", "v0", "s0"]
    assert extension["outgoingNumber"]["numberE164"] == extension["incomingNumbers"][0]


def test_outgoing_number_set_is_read_back(client):
    spare = next(n["numberE164"] for n in client.numbers_list() if not n["extensionId"])

    client.outgoing_number_set("e1", spare)

    outgoing = {o["extensionId"]: o["numberE164"] for o in client.outgoing_numbers()}
    assert outgoing["e1"] == spare


def test_dnd_set_is_read_back(client):
    assert client.dnd_set("e1", True) is True
    assert client.dnd("e1") is True
    assert client.dnd_set("e1", False) is False
    assert client.dnd("e1") is False


def test_sms_send_returns_one_event_per_part_and_is_listed(client):
    events = client.sms_send(RECIPIENT, "x" * 200)
    listed = client.sms_list()

    assert len(events) == 2
    assert listed["overallCount"] == 2
    assert client.sms(events[0]["id"])["targets"][0]["numberE164"] == RECIPIENT


def test_too_long_sms_is_a_permanent_error_naming_content(client):
    with pytest.raises(PermanentError) as raised:
        client.sms_send(RECIPIENT, "x" * 461)

    assert raised.value.status == 400
    assert "content" in raised.value.field_errors


def test_unknown_extension_is_not_found(client):
    with pytest.raises(NotFoundError):
        client.extension("e99")


def test_another_users_id_is_a_permanent_error(client, sipgate):
    other = sipgate.account_add("other-customer", "other-secret")

    with pytest.raises(PermanentError) as raised:
        client.as_user(other).balance()

    assert raised.value.status == 403


def test_wrong_password_is_an_authentication_error(config):
    client = SipgateClient(dataclasses.replace(config, secret="wrong"))

    with pytest.raises(AuthenticationError):
        client.balance()


def test_injected_401_is_an_authentication_error(sandbox, client):
    sandbox.set_faults("sipgate", error_rate=1.0, error_status=401)

    with pytest.raises(AuthenticationError):
        client.balance()


def test_injected_400_is_a_permanent_error_with_sipgates_xml_message(sandbox, client):
    sandbox.set_faults("sipgate", error_rate=1.0, error_status=400)

    with pytest.raises(PermanentError) as raised:
        client.balance()

    assert raised.value.status == 400
    assert raised.value.message == "HTTP error 400."


def test_503_is_transient_with_retry_after(sandbox, client):
    sandbox.set_faults("sipgate", error_rate=1.0, error_status=503)

    with pytest.raises(TransientError) as raised:
        client.balance()

    assert not isinstance(raised.value, OutcomeUnknownError)
    assert raised.value.status == 503
    assert raised.value.retry_after == 1.0


def test_read_timeout_is_transient(sandbox, config):
    client = SipgateClient(dataclasses.replace(config, read_timeout=1.0))
    sandbox.set_faults("sipgate", timeout_rate=1.0, timeout_seconds=2.0)

    with pytest.raises(TransientError) as raised:
        client.balance()

    assert not isinstance(raised.value, OutcomeUnknownError)


def test_lost_response_on_sms_send_is_outcome_unknown_but_the_sms_was_sent(
    sandbox, client, sipgate, user_id
):
    sandbox.set_faults("sipgate", lost_response_rate=1.0)

    with pytest.raises(OutcomeUnknownError):
        client.sms_send(RECIPIENT, "did it go?")

    assert [sms["text"] for sms in sipgate.users[user_id]["sms"]] == ["did it go?"]


def test_lost_response_on_dnd_set_is_transient_since_setting_a_value_repeats_safely(
    sandbox, client, sipgate, user_id
):
    sandbox.set_faults("sipgate", lost_response_rate=1.0)

    with pytest.raises(TransientError) as raised:
        client.dnd_set("e1", True)

    assert not isinstance(raised.value, OutcomeUnknownError)
    assert sipgate.users[user_id]["extensions"]["e1"]["dnd"] is True


def test_200_concurrent_sms_sends_are_all_stored_and_billed(client, sipgate, user_id):
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda i: client.sms_send(RECIPIENT, f"sms {i}"), range(200)))

    user = sipgate.users[user_id]
    ids = [event["id"] for events in results for event in events]
    assert len(ids) == len(set(ids)) == 200
    assert sorted(sms["text"] for sms in user["sms"]) == sorted(f"sms {i}" for i in range(200))
    assert client.sms_list(limit=1)["overallCount"] == 200
    # 100 voucher credits first, then 9 cents a message from 50.00 EUR.
    assert user["smsCredits"] == 0
    assert client.balance()["totalIncludingVat"] == 41.0


def test_200_concurrent_outgoing_number_sets_leave_each_extension_consistent(client):
    numbers = [n["numberE164"] for n in client.numbers_list()]
    extensions = ["e0", "e1", "f0", "s0"]
    # Each extension always receives the same number, so the end state is known.
    wanted = {extension: numbers[index] for index, extension in enumerate(extensions)}

    def set_outgoing(index: int) -> None:
        extension = extensions[index % len(extensions)]
        client.outgoing_number_set(extension, wanted[extension])

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(set_outgoing, range(200)))

    outgoing = {o["extensionId"]: o["numberE164"] for o in client.outgoing_numbers()}
    assert {extension: outgoing[extension] for extension in extensions} == wanted


def test_200_concurrent_dnd_toggles_leave_each_extension_consistent(sandbox, client):
    extensions = ["e0", "e1", "f0", "v0", "s0"]
    wanted = {extension: index % 2 == 0 for index, extension in enumerate(extensions)}

    def toggle(index: int) -> bool:
        extension = extensions[index % len(extensions)]
        # Half the calls set the wanted value, half read it: reads never see a torn state.
        if index % 2:
            return client.dnd(extension) in (True, False)
        return client.dnd_set(extension, wanted[extension]) == wanted[extension]

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(toggle, range(200)))

    assert all(results)
    assert {extension: client.dnd(extension) for extension in extensions} == wanted
    posts = [e for e in sandbox.requests_log("sipgate") if e["method"] == "POST"]
    assert len(posts) == 100
    assert all(entry["status"] == 200 for entry in posts)


def test_recorded_exchanges_hold_no_secret(client, exchanges, config):
    client.extensions()
    client.extension("e0")
    client.sms_send(RECIPIENT, "hello")

    assert len(exchanges) == 3
    recorded = " ".join(f"{e.url} {e.request_body} {e.response_body}" for e in exchanges)
    assert PASSWORD not in recorded
    assert config.secret not in recorded
    assert "7Hq2x9Lm" not in recorded  # the seeded SIP passwords
    assert '"sipPassword": "***"' in recorded
    assert "content=hello" in exchanges[2].request_body
