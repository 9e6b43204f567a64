"""SipgateAdapter's contract against the sandbox over real HTTP."""

import dataclasses
from decimal import Decimal

import pytest

from integrations.contract import CustomerRecord, NumberRecord
from integrations.errors import NotFoundError, NotSupportedError, PermanentError


def numbers_by_extension(adapter) -> dict[str, list[NumberRecord]]:
    grouped: dict[str, list[NumberRecord]] = {}
    for record in adapter.number_list("my"):
        grouped.setdefault(record.extension, []).append(record)
    return grouped


def test_ping_is_ok_with_latency_and_the_balance(adapter):
    ping = adapter.ping()

    assert ping.ok
    assert ping.latency_ms >= 0
    assert ping.detail == "balance 50.0 EUR"


def test_customer_get_resolves_my_to_the_sipgate_user_id(adapter, user_id):
    customer = adapter.customer_get("my")

    assert customer.remote_id == user_id
    assert customer.status == "team"


def test_customer_get_of_another_users_id_is_refused(adapter, sipgate):
    other = sipgate.account_add("other-customer", "other-secret")

    with pytest.raises(PermanentError):
        adapter.customer_get(other)


@pytest.mark.parametrize(
    "operation",
    [
        lambda adapter: adapter.customer_create(CustomerRecord(custnr="1", name="A")),
        lambda adapter: adapter.customer_update(CustomerRecord(custnr="1", name="A")),
        lambda adapter: adapter.customer_delete("my"),
        lambda adapter: adapter.number_create(NumberRecord("my", "+492115800999")),
        lambda adapter: adapter.number_delete("my", "+492115800100"),
    ],
    ids=["customer_create", "customer_update", "customer_delete", "number_create", "number_delete"],
)
def test_what_sipgates_api_cannot_do_is_not_supported_with_a_reason(sandbox, adapter, operation):
    with pytest.raises(NotSupportedError) as raised:
        operation(adapter)

    assert "at sipgate" in raised.value.message
    assert sandbox.requests_log("sipgate") == []


def test_number_list_gives_every_number_with_extension_outgoing_and_dnd(sandbox, adapter):
    records = list(adapter.number_list("my"))

    assert len(records) == 5
    assert all(record.e164.startswith("+49211") for record in records)
    main = records[0]
    assert (main.extension, main.outgoing, main.dnd) == ("e0", True, False)
    assert main.remote_id == main.e164
    assert [(r.extension, r.outgoing) for r in records[1:]] == [
        ("e0", False),
        ("e1", False),
        ("f0", True),
        ("", False),
    ]
    # One listing of numbers and one of extensions, whatever the count.
    assert len(sandbox.requests_log("sipgate")) == 2


def test_number_list_reads_numbers_tests_added(adapter, sipgate, user_id):
    sipgate.number_add(user_id, "+4930120034567", extension_id="e1")

    record = adapter.number_get("my", "+4930120034567")

    assert record.extension == "e1"


def test_number_get_and_find_match_by_digits_whatever_the_format(adapter):
    main = next(adapter.number_list("my"))
    national = "0" + main.e164.removeprefix("+49")

    assert adapter.number_get("my", main.e164) == main
    assert adapter.number_find("my", national) == main
    assert adapter.number_find("my", "00" + main.e164.removeprefix("+")) == main


def test_number_find_of_a_number_not_on_the_account_is_none_and_get_not_found(adapter):
    assert adapter.number_find("my", "+4930999999") is None
    with pytest.raises(NotFoundError):
        adapter.number_get("my", "+4930999999")


def test_number_update_makes_the_number_outgoing_and_sets_dnd_read_back(adapter, client):
    sales = numbers_by_extension(adapter)["e1"][0]

    updated = adapter.number_update(dataclasses.replace(sales, outgoing=True, dnd=True))

    assert (updated.outgoing, updated.dnd) == (True, True)
    assert client.extension("e1")["outgoingNumber"]["numberE164"] == sales.e164
    assert client.dnd("e1") is True


def test_number_update_moves_outgoing_between_numbers_of_one_extension(adapter):
    main, second = numbers_by_extension(adapter)["e0"]

    adapter.number_update(dataclasses.replace(second, outgoing=True))

    main_after, second_after = numbers_by_extension(adapter)["e0"]
    assert (main_after.outgoing, second_after.outgoing) == (False, True)


def test_number_update_without_outgoing_empties_the_extensions_outgoing_number(adapter, client):
    main = numbers_by_extension(adapter)["e0"][0]

    updated = adapter.number_update(dataclasses.replace(main, outgoing=False))

    assert updated.outgoing is False
    assert client.extension("e0")["outgoingNumber"]["numberE164"] == ""


def test_number_update_with_nothing_changed_sends_no_write(sandbox, adapter):
    main = numbers_by_extension(adapter)["e0"][0]

    adapter.number_update(main)

    assert all(entry["method"] == "GET" for entry in sandbox.requests_log("sipgate"))


def test_number_update_cannot_reroute_a_number_to_another_extension(adapter):
    main = numbers_by_extension(adapter)["e0"][0]

    with pytest.raises(PermanentError) as raised:
        adapter.number_update(dataclasses.replace(main, extension="e1"))

    assert "extension" in raised.value.field_errors


def test_number_update_of_an_unrouted_number_cannot_set_dnd(adapter):
    spare = numbers_by_extension(adapter)[""][0]

    with pytest.raises(PermanentError):
        adapter.number_update(dataclasses.replace(spare, dnd=True))


def test_number_update_of_an_unknown_number_is_not_found(adapter):
    with pytest.raises(NotFoundError):
        adapter.number_update(NumberRecord("my", "+4930999999", dnd=True))


def test_extensions_are_frozen_records_in_e164(adapter):
    extensions = {extension.extension_id: extension for extension in adapter.extensions()}

    assert extensions["e0"].type == "register"
    assert extensions["e0"].outgoing == extensions["e0"].incoming[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        extensions["e0"].dnd = True


def test_balance_is_a_decimal_amount(adapter):
    balance = adapter.balance()

    assert (balance.currency, balance.total_including_vat) == ("EUR", Decimal("50.0"))
    assert balance.vat_percent == Decimal("19.0")


def test_dnd_set_switches_one_extension(adapter):
    assert adapter.dnd_set("e0", True).enabled is True
    assert {e.extension_id: e.dnd for e in adapter.extensions()}["e0"] is True


def test_sms_send_of_161_characters_goes_out_in_two_parts(adapter, sipgate, user_id):
    sms = adapter.sms_send("0151 99999999", "y" * 161)

    assert sms.recipient == "+4915199999999"
    assert sms.parts == 2
    assert len(sipgate.users[user_id]["sms"]) == 2


def test_sms_send_longer_than_460_characters_is_refused_before_any_request(sandbox, adapter):
    with pytest.raises(PermanentError) as raised:
        adapter.sms_send("+4915199999999", "y" * 461)

    assert "content" in raised.value.field_errors
    assert sandbox.requests_log("sipgate") == []


def test_sms_send_to_an_invalid_recipient_is_refused_before_any_request(sandbox, adapter):
    with pytest.raises(PermanentError) as raised:
        adapter.sms_send("12", "hello")

    assert "recipient" in raised.value.field_errors
    assert sandbox.requests_log("sipgate") == []
