"""The sipgate sandbox over real HTTP, spoken to with plain `requests`."""

from xml.etree import ElementTree

import pytest
import requests

from tests.integrations.sipgate.conftest import PASSWORD, USERNAME

VERSION = {"version": "2.41.0"}
JSON = {"Accept": "application/json"}
AUTH = (USERNAME, PASSWORD)


def get(base_url: str, path: str, **kwargs) -> requests.Response:
    kwargs.setdefault("auth", AUTH)
    kwargs.setdefault("params", VERSION)
    return requests.get(f"{base_url}{path}", timeout=10, **kwargs)


def post(base_url: str, path: str, data: dict, **kwargs) -> requests.Response:
    kwargs.setdefault("auth", AUTH)
    kwargs.setdefault("headers", JSON)
    return requests.post(f"{base_url}{path}", params=VERSION, data=data, timeout=10, **kwargs)


def xml(response: requests.Response) -> ElementTree.Element:
    return ElementTree.fromstring(response.content)  # noqa: S314 - our own sandbox's answer


def test_request_without_credentials_is_refused_with_basic_challenge(base_url):
    response = get(base_url, "/my/billing/balance/", auth=None)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert xml(response).findtext("code") == "401"


def test_request_with_wrong_password_is_refused(base_url):
    response = get(base_url, "/my/billing/balance/", auth=(USERNAME, "wrong"))

    assert response.status_code == 401


def test_request_without_version_is_a_bad_request_naming_the_parameter(base_url):
    response = get(base_url, "/my/billing/balance/", params={})

    assert response.status_code == 400
    assert xml(response).findtext("parameter") == "version"


def test_unknown_complexity_is_a_bad_request(base_url):
    response = get(base_url, "/my/billing/balance/", params={**VERSION, "complexity": "huge"})

    assert response.status_code == 400
    assert xml(response).findtext("parameter") == "complexity"


def test_answers_xml_by_default_with_the_struct_as_root(base_url):
    response = get(base_url, "/my/settings/extensions/e0/dnd/")

    assert response.headers["Content-Type"].startswith("application/xml")
    root = xml(response)
    assert root.tag == "dnd"
    assert root.findtext("value") == "false"


def test_answers_json_when_accept_asks_for_it(base_url):
    response = get(base_url, "/my/settings/extensions/e0/dnd/", headers=JSON)

    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"value": False}


def test_my_alias_and_own_user_id_address_the_same_account(base_url, user_id):
    by_alias = get(base_url, "/my/settings/numbers/list/", headers=JSON).json()
    by_id = get(base_url, f"/{user_id}/settings/numbers/list/", headers=JSON).json()

    assert by_alias == by_id
    assert len(by_alias["numbers"]) == 5


def test_another_users_id_is_forbidden_and_an_unknown_one_not_found(base_url, sipgate):
    other = sipgate.account_add("other-customer", "other-secret")

    assert get(base_url, f"/{other}/settings/numbers/list/").status_code == 403
    assert get(base_url, "/9999999w0/settings/numbers/list/").status_code == 404


def test_each_login_sees_its_own_numbers(base_url, sipgate):
    sipgate.account_add("other-customer", "other-secret")

    mine = get(base_url, "/my/settings/numbers/list/", headers=JSON).json()["numbers"]
    theirs = get(
        base_url,
        "/my/settings/numbers/list/",
        headers=JSON,
        auth=("other-customer", "other-secret"),
    ).json()["numbers"]

    assert {n["numberE164"] for n in mine}.isdisjoint({n["numberE164"] for n in theirs})


def test_numbers_lists_routed_numbers_and_list_form_every_number(base_url):
    numbers = get(base_url, "/my/settings/numbers/", headers=JSON).json()
    every = get(base_url, "/my/settings/numbers/list/", headers=JSON).json()["numbers"]

    assert numbers["allowEmptyOadc"] is True
    assert {n["extensionId"] for n in numbers["phonenumbers"]} == {"e0", "e1", "f0"}
    unrouted = [n for n in every if n["extensionId"] == ""]
    assert len(unrouted) == 1
    assert unrouted[0]["numberE164"] not in {n["numberE164"] for n in numbers["phonenumbers"]}
    assert all(n["numberE164"].startswith("+49") for n in every)


def test_numbers_xml_repeats_each_phonenumber_element(base_url):
    root = xml(get(base_url, "/my/settings/numbers/"))

    assert root.tag == "Numbers"
    assert len(root.findall("phonenumbers/phonenumber")) == 4
    assert root.findtext("phonenumbers/phonenumber/numberPretty").startswith("+49 211 ")


def test_extension_list_has_the_doc_fields_and_simple_fields_only_at_full(base_url):
    plain = get(base_url, "/my/settings/extensions/", headers=JSON).json()["extensions"]
    full = get(
        base_url, "/my/settings/extensions/", headers=JSON, params={**VERSION, "complexity": "full"}
    ).json()["extensions"]

    assert [e["extensionId"] for e in plain] == ["e0", "e1", "f0", "v0", "s0"]
    assert {"alias", "type", "resource", "incomingNumbers", "dnd", "outgoingNumber"} <= set(
        plain[0]
    )
    assert "sipPassword" not in plain[0]
    assert full[0]["registerUrl"] == "sipgate.de"


def test_single_extension_carries_the_real_user_id_in_its_resource_link(base_url, user_id):
    extension = get(base_url, "/my/settings/extensions/e0/", headers=JSON).json()

    assert extension["extensionId"] == "e0"
    assert f"/sipgate/{user_id}/settings/extensions/e0/" in extension["resource"]["get"]


def test_unknown_extension_is_not_found(base_url):
    assert get(base_url, "/my/settings/extensions/e99/").status_code == 404
    assert get(base_url, "/my/settings/extensions/e99/dnd/").status_code == 404


def test_path_without_trailing_slash_redirects_to_the_documented_one(base_url):
    response = get(base_url, "/my/settings/extensions", allow_redirects=False)

    assert response.status_code == 308
    assert response.headers["Location"].split("?")[0].endswith("/my/settings/extensions/")


def test_outgoing_number_is_set_for_an_extension_and_read_back(base_url):
    numbers = get(base_url, "/my/settings/numbers/list/", headers=JSON).json()["numbers"]
    spare = next(n["numberE164"] for n in numbers if n["extensionId"] == "")

    response = post(
        base_url, "/my/settings/numbers/outgoing/", {"extensionId": "e1", "value": spare}
    )
    outgoing = get(base_url, "/my/settings/numbers/outgoing/", headers=JSON).json()

    assert response.status_code == 200
    by_extension = {o["extensionId"]: o["numberE164"] for o in outgoing["outgoingNumbers"]}
    assert by_extension["e1"] == spare


def test_outgoing_number_must_belong_to_the_account(base_url):
    response = post(
        base_url, "/my/settings/numbers/outgoing/", {"extensionId": "e0", "value": "+4930120034567"}
    )

    assert response.status_code == 400
    assert response.json()["parameter"] == "value"


def test_outgoing_number_may_be_emptied_as_allow_empty_oadc_says(base_url):
    post(base_url, "/my/settings/numbers/outgoing/", {"extensionId": "e0", "value": ""})

    extension = get(base_url, "/my/settings/extensions/e0/", headers=JSON).json()
    assert extension["outgoingNumber"]["numberE164"] == ""


def test_dnd_is_set_with_value_and_read_back(base_url):
    response = post(base_url, "/my/settings/extensions/e1/dnd/", {"value": "true"})

    assert response.json() == {"value": True}
    assert get(base_url, "/my/settings/extensions/e1/dnd/", headers=JSON).json() == {"value": True}
    assert get(base_url, "/my/settings/extensions/e0/dnd/", headers=JSON).json() == {"value": False}


def test_dnd_value_other_than_true_or_false_is_refused(base_url):
    response = post(base_url, "/my/settings/extensions/e1/dnd/", {"value": "maybe"})

    assert response.status_code == 400


def test_base_product_type_is_returned(base_url):
    assert get(base_url, "/my/settings/baseproducttype/", headers=JSON).json() == {"value": "team"}


def test_balance_has_currency_total_and_vat_and_vouchers_only_with_complexity(base_url):
    plain = get(base_url, "/my/billing/balance/", headers=JSON).json()
    full = get(
        base_url, "/my/billing/balance/", headers=JSON, params={**VERSION, "complexity": "full"}
    ).json()

    assert plain == {"currency": "EUR", "totalIncludingVat": 50.0, "vatPercent": 19.0}
    assert full["smsVouchers"][0]["creditsLeft"] == "100"


def test_sms_of_160_characters_is_one_message(base_url):
    response = post(base_url, "/my/events/sms/", {"target": "+4915199999999", "content": "a" * 160})

    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("length", [161, 320])
def test_sms_of_161_to_320_characters_is_split_into_two_parts(base_url, length):
    content = "".join(chr(ord("a") + i % 26) for i in range(length))

    events = post(base_url, "/my/events/sms/", {"target": "+4915199999999", "content": content})
    listed = get(base_url, "/my/events/sms/", headers=JSON).json()

    texts = [event["text"] for event in events.json()["events"]]
    assert [len(text) for text in texts] == [160, length - 160]
    assert "".join(texts) == content
    assert listed["overallCount"] == 2


def test_sms_of_460_characters_is_three_messages_and_461_is_refused(base_url):
    accepted = post(base_url, "/my/events/sms/", {"target": "+4915199999999", "content": "a" * 460})
    refused = post(base_url, "/my/events/sms/", {"target": "+4915199999999", "content": "a" * 461})

    assert accepted.json()["count"] == 3
    assert refused.status_code == 400
    assert refused.json()["parameter"] == "content"


def test_sms_to_an_invalid_recipient_is_refused(base_url):
    response = post(base_url, "/my/events/sms/", {"target": "12", "content": "hello"})

    assert response.status_code == 400
    assert response.json()["parameter"] == "target"


def test_sms_to_several_targets_makes_one_event_each(base_url):
    response = post(
        base_url,
        "/my/events/sms/",
        {"target": ["+4915199999999", "tel:+4915188888888"], "content": "hello"},
    )

    targets = [e["targets"][0]["numberE164"] for e in response.json()["events"]]
    assert targets == ["+4915199999999", "+4915188888888"]


def test_sms_from_an_unverified_source_is_refused(base_url):
    response = post(
        base_url,
        "/my/events/sms/",
        {"target": "+4915199999999", "content": "hi", "source": "+4915177777777"},
    )

    assert response.status_code == 400
    assert response.json()["parameter"] == "source"


def test_sent_sms_are_listed_paged_with_limit_and_offset(base_url):
    for index in range(5):
        post(base_url, "/my/events/sms/", {"target": "+4915199999999", "content": f"sms {index}"})

    page = get(
        base_url, "/my/events/sms/", headers=JSON, params={**VERSION, "limit": 2, "offset": 3}
    ).json()

    assert page["overallCount"] == 5
    assert page["count"] == 2
    assert [e["text"] for e in page["events"]] == ["sms 3", "sms 4"]


def test_single_sms_event_is_found_by_id_and_unknown_one_is_not(base_url):
    sent = post(base_url, "/my/events/sms/", {"target": "+4915199999999", "content": "hi"}).json()
    sms_id = sent["events"][0]["id"]

    assert get(base_url, f"/my/events/sms/{sms_id}/", headers=JSON).json()["text"] == "hi"
    assert get(base_url, "/my/events/sms/424242/").status_code == 404


def test_injected_error_is_shaped_like_sipgates_error_body(sandbox, base_url):
    sandbox.set_faults("sipgate", error_rate=1.0, error_status=503)

    response = get(base_url, "/my/billing/balance/")

    assert response.status_code == 503
    assert xml(response).tag == "error"
    assert xml(response).findtext("code") == "503"


def test_state_survives_save_and_restore(sipgate, base_url):
    post(base_url, "/my/settings/extensions/e1/dnd/", {"value": "true"})
    saved = sipgate.state()

    sipgate.reset()
    sipgate.restore(saved)

    assert get(base_url, "/my/settings/extensions/e1/dnd/", headers=JSON).json() == {"value": True}


def test_extensions_added_in_process_are_served(base_url, sipgate, user_id):
    sipgate.extension_add(user_id, "x0", "external", alias="Handy Chefin")

    extension = get(base_url, "/my/settings/extensions/x0/", headers=JSON).json()

    assert (extension["type"], extension["alias"]) == ("external", "Handy Chefin")
