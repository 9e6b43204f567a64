"""The Freespee sandbox over real HTTP, spoken to with plain `requests`."""

import re
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta

import requests
from requests.auth import HTTPDigestAuth

from tests.integrations.freespee.conftest import PASSWORD, USERNAME

# The getting-started response to POST /customers name=DailyLoans&custnr=1412.
GETTING_STARTED_CUSTOMER_KEYS = [
    "customer_id",
    "name",
    "custnr",
    "corporateid",
    "email",
    "uuid",
    "dncs_class_name",
    "receive_monthly_report",
    "freespee_caller_id",
]
# The getting-started response to POST /sources.
GETTING_STARTED_SOURCE_KEYS = [
    "source_id",
    "name",
    "email",
    "smsnumber",
    "media",
    "customer_id",
    "phonenr",
    "destnr",
    "timestamp",
    "expire",
    "created",
    "modified",
    "class",
    "status",
    "vm_greeting_id",
    "notify_on_missed_call",
    "vm_divert_all",
    "vm_divert_busy",
    "vm_divert_noanswer",
    "alt_numbers",
]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def create_customer(api, **fields) -> dict:
    data = {"name": "DailyLoans", "custnr": "1412", **fields}
    response = api.post("/customers", data=data)
    assert response.status_code == 200, response.text
    return response.json()["customers"][0]


def create_source(api, customer_id: str, **fields) -> dict:
    data = {
        "customer_id": customer_id,
        "name": "AdWords",
        "media": "Google.com",
        "phonenr": "0890510",
        **fields,
    }
    response = api.post("/sources", data=data)
    assert response.status_code == 200, response.text
    return response.json()["sources"][0]


def in_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def test_ping_answers_ok(api):
    response = api.get("/miscellaneous/ping")

    assert response.status_code == 200
    assert response.json() == {"ping": "ok"}


def test_create_customer_answers_in_the_getting_started_shape(api):
    customer = create_customer(api)

    assert list(customer) == GETTING_STARTED_CUSTOMER_KEYS
    assert all(isinstance(value, str) for value in customer.values())
    assert customer["customer_id"].isdigit()
    assert customer["name"] == "DailyLoans"
    assert customer["custnr"] == "1412"
    assert customer["receive_monthly_report"] == "0"
    assert customer["freespee_caller_id"] == "0"
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", customer["uuid"]
    )


def test_create_source_normalises_phonenr_and_allocates_an_active_destnr(api):
    customer = create_customer(api)

    source = create_source(api, customer["customer_id"])

    assert list(source) == GETTING_STARTED_SOURCE_KEYS
    assert source["phonenr"] == "+46890510"
    assert re.fullmatch(r"\+46\d{9}", source["destnr"])
    assert source["status"] == "active"
    assert source["customer_id"] == customer["customer_id"]
    assert source["email"] is None and source["expire"] is None
    assert source["class"] == "0" and source["alt_numbers"] == []
    assert all(TIMESTAMP.match(source[key]) for key in ("timestamp", "created", "modified"))


def test_request_without_credentials_gets_a_digest_challenge(api_url):
    response = requests.get(f"{api_url}/customers", timeout=10)

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Digest ")
    assert 'realm="' in challenge and 'nonce="' in challenge and 'qop="auth"' in challenge
    assert response.json()["errors"]


def test_wrong_password_is_refused_and_mentions_the_ip_allow_list(api_url):
    response = requests.get(
        f"{api_url}/customers", auth=HTTPDigestAuth(USERNAME, "not-the-password"), timeout=10
    )

    assert response.status_code == 401
    assert "IP address" in response.json()["errors"][0]


def test_basic_auth_is_refused(api_url):
    response = requests.get(f"{api_url}/customers", auth=(USERNAME, PASSWORD), timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Digest ")


def test_a_session_reuses_its_nonce_after_the_first_challenge(api, sandbox):
    for _ in range(3):
        assert api.get("/miscellaneous/ping").status_code == 200

    statuses = [entry["status"] for entry in sandbox.requests_log("freespee")]
    assert statuses == [401, 200, 200, 200]


def test_a_forgotten_nonce_gets_a_stale_challenge_that_the_client_follows(api, freespee, sandbox):
    api.get("/miscellaneous/ping")
    freespee.nonces.clear()

    response = api.get("/miscellaneous/ping")

    assert response.status_code == 200
    assert "stale=true" in response.history[0].headers["WWW-Authenticate"]
    assert [entry["status"] for entry in sandbox.requests_log("freespee")] == [401, 200, 401, 200]


def test_method_override_in_the_query_string_turns_a_post_into_a_put(api):
    customer = create_customer(api)

    response = api.post(
        f"/customers/{customer['customer_id']}?_method=PUT", data={"name": "Daily Loans AB"}
    )

    assert response.status_code == 200
    assert api.get(f"/customers/{customer['customer_id']}").json()["customers"][0]["name"] == (
        "Daily Loans AB"
    )
    assert len(api.get("/customers").json()["customers"]) == 1


def test_method_override_header_turns_a_post_into_a_delete(api):
    customer = create_customer(api)
    source = create_source(api, customer["customer_id"])

    response = api.post(
        f"/sources/{source['source_id']}", headers={"X-HTTP-Method-Override": "DELETE"}
    )

    assert response.status_code == 200
    assert api.get(f"/sources/{source['source_id']}").json()["sources"][0]["status"] == (
        "quarantined"
    )


def test_put_takes_customer_id_as_a_parameter(api):
    customer = create_customer(api)

    response = api.put(
        "/customers", data={"customer_id": customer["customer_id"], "email": "a@b.se"}
    )

    assert response.status_code == 200
    assert response.json()["customers"][0]["email"] == "a@b.se"


def test_xml_suffix_on_the_resource_answers_xml(api):
    customer = create_customer(api)

    single = api.get(f"/customers.xml/{customer['customer_id']}")
    listing = api.get("/customers.xml")

    assert single.headers["Content-Type"].startswith("application/xml")
    assert single.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(single.content)  # noqa: S314 - our own sandbox's answer
    assert root.find("customers/customer/name").text == "DailyLoans"
    root = ElementTree.fromstring(listing.content)  # noqa: S314 - our own sandbox's answer
    assert len(root.findall("customers/customer")) == 1
    assert root.find("total").text == "1"


def test_accept_header_asks_for_xml(api):
    create_customer(api)

    response = api.get("/customers", headers={"Accept": "application/xml"})

    assert response.headers["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own sandbox's answer
    assert root.find("customers/customer/custnr").text == "1412"


def test_json_suffix_is_accepted_and_json_is_the_default(api):
    create_customer(api)

    assert api.get("/customers.json").json()["total"] == 1
    assert api.get("/customers").headers["Content-Type"].startswith("application/json")


def test_errors_come_as_xml_when_xml_was_asked_for(api):
    response = api.post("/customers.xml", data={"custnr": "1"})

    assert response.status_code == 400
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own sandbox's answer
    assert root.find("errors/error").text == "name is mandatory"


def test_customer_lists_are_paged(api, freespee):
    freespee.seed_customers(25)

    response = api.get("/customers", params={"page": 2, "pagesize": 10})

    body = response.json()
    assert (body["total"], body["page"], body["pagesize"], body["numpages"]) == (25, 2, 10, 3)
    assert [c["custnr"] for c in body["customers"]] == [f"seed-{n}" for n in range(20, 25)]


def test_page_size_defaults_to_1000_and_may_not_exceed_it(api, freespee):
    freespee.seed_customers(1001)

    first = api.get("/customers").json()
    too_large = api.get("/customers", params={"pagesize": 1001})

    assert (len(first["customers"]), first["pagesize"], first["numpages"]) == (1000, 1000, 2)
    assert too_large.status_code == 400
    assert too_large.json()["errors"][0].startswith("pagesize")


def test_customers_are_found_by_custnr_and_customer_id(api):
    create_customer(api, custnr="A")
    wanted = create_customer(api, custnr="B")

    by_custnr = api.get("/customers", params={"custnr": "B"}).json()["customers"]
    by_id = api.get("/customers", params={"customer_id": wanted["customer_id"]}).json()["customers"]
    nobody = api.get("/customers", params={"custnr": "C"}).json()

    assert [c["customer_id"] for c in by_custnr] == [wanted["customer_id"]]
    assert [c["customer_id"] for c in by_id] == [wanted["customer_id"]]
    assert (nobody["customers"], nobody["total"]) == ([], 0)


def test_missing_name_is_refused_with_an_explanation(api):
    response = api.post("/customers", data={"custnr": "1412"})

    assert response.status_code == 400
    assert response.json() == {"errors": ["name is mandatory"]}


def test_custnr_longer_than_45_characters_is_refused(api):
    response = api.post("/customers", data={"name": "A", "custnr": "x" * 46})

    assert response.status_code == 400
    assert response.json()["errors"] == ["custnr is longer than 45 characters"]


def test_duplicate_custnr_is_refused(api):
    first = create_customer(api)

    response = api.post("/customers", data={"name": "Other", "custnr": "1412"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        f"custnr 1412 is already used by customer_id {first['customer_id']}"
    ]


def test_every_customer_field_is_validated_at_once(api):
    response = api.post(
        "/customers",
        data={
            "name": "n" * 61,
            "custnr": "1",
            "email": "e" * 151,
            "corporateid": "c" * 41,
            "custom_3": "x" * 256,
            "custom_21": "x",
            "receive_monthly_report": "3",
            "freespee_caller_id": "2",
        },
    )

    assert response.status_code == 400
    fields = {message.split()[0] for message in response.json()["errors"]}
    assert fields == {
        "name",
        "email",
        "corporateid",
        "custom_3",
        "custom_21",
        "receive_monthly_report",
        "freespee_caller_id",
    }


def test_custom_fields_are_stored_and_returned(api):
    customer = create_customer(api, custom_1="Berlin", custom_20="z")

    assert customer["custom_1"] == "Berlin"
    assert customer["custom_20"] == "z"


def test_deleting_a_customer_removes_it_expires_its_sources_and_scrubs_personal_data(api, freespee):
    customer = create_customer(api, email="boss@dailyloans.se", corporateid="SE556")
    source = create_source(api, customer["customer_id"], phonenr="+46812345678")

    response = api.delete(f"/customers/{customer['customer_id']}")

    assert response.status_code == 200
    assert api.get(f"/customers/{customer['customer_id']}").status_code == 404
    assert api.get("/customers").json()["total"] == 0
    stored = freespee.state()["customers"][0]
    assert stored["removed"] is True
    assert (stored["email"], stored["corporateid"]) == ("", "")
    after = api.get(f"/sources/{source['source_id']}").json()["sources"][0]
    assert after["status"] == "archived"
    assert after["expire"] is not None
    # The country code and area code stay; the subscriber number becomes asterisks.
    assert after["phonenr"] == "+468********"


def test_a_removed_customers_custnr_may_be_used_again(api):
    customer = create_customer(api)
    api.delete("/customers", params={"customer_id": customer["customer_id"]})

    again = create_customer(api)

    assert again["customer_id"] != customer["customer_id"]


def test_deleting_a_source_puts_it_in_quarantine(api):
    customer = create_customer(api)
    source = create_source(api, customer["customer_id"])

    response = api.delete(f"/sources/{source['source_id']}")

    assert response.status_code == 200
    assert response.json()["sources"][0]["status"] == "quarantined"
    refused = api.put(f"/sources/{source['source_id']}", data={"name": "Back"})
    assert refused.status_code == 403


def test_a_quarantined_tracking_number_is_not_reused_but_an_archived_one_is(api, freespee):
    freespee.pool_size = 2
    customer = create_customer(api)
    first = create_source(api, customer["customer_id"], name="one")
    second = create_source(api, customer["customer_id"], name="two")
    api.delete(f"/sources/{first['source_id']}")

    exhausted = api.post(
        "/sources",
        data={
            "customer_id": customer["customer_id"],
            "name": "3",
            "media": "m",
            "phonenr": "0890510",
        },
    )
    freespee.set_source_status(first["source_id"], "archived")
    third = create_source(api, customer["customer_id"], name="three")

    assert exhausted.status_code == 403
    assert exhausted.json()["errors"][0].startswith("destnr")
    assert third["destnr"] == first["destnr"] != second["destnr"]


def test_a_source_with_a_future_timestamp_is_upcoming_until_the_time_passes(api, freespee):
    customer = create_customer(api)
    activation = datetime.now(UTC) + timedelta(days=2)

    source = create_source(api, customer["customer_id"], timestamp=in_utc(activation))
    freespee.clock = lambda: activation + timedelta(seconds=1)
    later = api.get(f"/sources/{source['source_id']}").json()["sources"][0]

    assert source["status"] == "upcoming"
    assert source["timestamp"] == in_utc(activation)
    assert later["status"] == "active"


def test_a_source_past_its_expiry_is_archived(api, freespee):
    customer = create_customer(api)
    expire = datetime.now(UTC) + timedelta(days=30)
    source = create_source(api, customer["customer_id"], expire=in_utc(expire))

    freespee.clock = lambda: expire + timedelta(seconds=1)

    assert api.get(f"/sources/{source['source_id']}").json()["sources"][0]["status"] == "archived"


def test_moving_an_expiry_later_makes_the_source_extended(api):
    customer = create_customer(api)
    expire = datetime.now(UTC) + timedelta(days=30)
    source = create_source(api, customer["customer_id"], expire=in_utc(expire))

    response = api.put(
        f"/sources/{source['source_id']}", data={"expire": in_utc(expire + timedelta(days=30))}
    )

    assert response.json()["sources"][0]["status"] == "extended"


def test_reserved_status_can_be_set_directly_and_filtered_on(api, freespee):
    customer = create_customer(api)
    reserved = create_source(api, customer["customer_id"], name="held")
    create_source(api, customer["customer_id"], name="live")

    freespee.set_source_status(reserved["source_id"], "reserved")
    listed = api.get("/sources", params={"status": "reserved"}).json()["sources"]

    assert [s["source_id"] for s in listed] == [reserved["source_id"]]


def test_a_source_update_changes_phonenr_and_options(api):
    customer = create_customer(api)
    source = create_source(api, customer["customer_id"])

    response = api.put(
        f"/sources/{source['source_id']}",
        data={"phonenr": "+442079460000", "vm_divert_busy": "1", "class": "2", "media": "Bing"},
    )

    updated = response.json()["sources"][0]
    assert (updated["phonenr"], updated["vm_divert_busy"], updated["class"]) == (
        "+442079460000",
        "1",
        "2",
    )
    assert updated["media"] == "Bing"
    assert updated["destnr"] == source["destnr"]


def test_sources_are_filtered_by_customer_name_and_media(api):
    first = create_customer(api, custnr="A")
    second = create_customer(api, custnr="B")
    wanted = create_source(api, first["customer_id"], name="AdWords", media="Google.com")
    create_source(api, first["customer_id"], name="AdWords", media="Bing")
    create_source(api, second["customer_id"], name="AdWords", media="Google.com")

    response = api.get(
        "/sources",
        params={"customer_id": first["customer_id"], "name": "AdWords", "media": "Google.com"},
    )
    by_custnr = api.get("/sources", params={"custnr": "B"}).json()

    assert [s["source_id"] for s in response.json()["sources"]] == [wanted["source_id"]]
    assert by_custnr["total"] == 1


def test_source_validation_names_each_field(api):
    customer = create_customer(api)

    missing = api.post("/sources", data={"customer_id": customer["customer_id"]})
    invalid = api.post(
        "/sources",
        data={
            "customer_id": "999",
            "name": "n",
            "media": "m",
            "phonenr": "12",
            "timestamp": "tomorrow",
            "vm_divert_all": "yes",
        },
    )

    assert missing.status_code == 400
    assert missing.json()["errors"] == [
        "name is mandatory",
        "media is mandatory",
        "phonenr is mandatory",
    ]
    fields = [message.split()[0] for message in invalid.json()["errors"]]
    assert fields == ["customer_id", "phonenr", "timestamp", "vm_divert_all"]


def test_unknown_resources_and_ids_are_not_found(api):
    assert api.get("/nothing").status_code == 404
    assert api.get("/customers/12345").status_code == 404
    assert api.get("/sources/12345").status_code == 404
    assert api.get("/customers/12345").json()["errors"][0].startswith("customer_id")


def test_a_method_the_resource_does_not_take_is_not_allowed(api):
    assert api.post("/miscellaneous/ping").status_code == 405
    assert api.post("/customers/1").status_code == 405
    assert api.delete("/statistics/cdrs").status_code == 405


def test_documented_but_unimplemented_resources_answer_501(api):
    assert api.get("/customers/voicemail_greetings", params={"customer_id": 1}).status_code == 501
    assert api.get("/customers/1/voicemail_greetings/2").status_code == 501


def test_any_version_segment_is_accepted(api, sandbox):
    response = requests.get(
        f"{sandbox.url}/freespee/2.5.0/miscellaneous/ping",
        auth=HTTPDigestAuth(USERNAME, PASSWORD),
        timeout=10,
    )

    assert response.json() == {"ping": "ok"}


def test_cdrs_are_generated_the_same_way_each_time_and_paged(api, freespee):
    customer = create_customer(api)
    source = create_source(api, customer["customer_id"])
    freespee.sources[int(source["source_id"])]["timestamp"] = "2024-01-01 00:00:00"
    params = {"customer_id": customer["customer_id"], "start": "2024-01-01", "end": "2024-01-31"}

    everything = api.get("/statistics/cdrs", params=params).json()
    again = api.get("/statistics/cdrs", params=params).json()
    second_page = api.get("/statistics/cdrs", params={**params, "pagesize": 5, "page": 1}).json()

    assert everything == again
    assert everything["total"] > 5
    assert second_page["cdrs"] == everything["cdrs"][5:10]
    assert second_page["numpages"] == -(-everything["total"] // 5)
    call = everything["cdrs"][0]
    assert call["destnr"] == source["destnr"]
    assert "2024-01-01 00:00:00" <= call["start"] <= "2024-01-31 23:59:59"


def test_cdrs_need_a_customer_and_a_period(api):
    response = api.get("/statistics/cdrs")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        "customer_id is mandatory",
        "start is mandatory",
        "end is mandatory",
    ]


def test_state_survives_a_restore(api, freespee):
    customer = create_customer(api)
    create_source(api, customer["customer_id"])
    saved = freespee.state()

    freespee.reset()
    freespee.restore(saved)

    assert api.get(f"/customers/{customer['customer_id']}").status_code == 200
    assert api.get("/sources").json()["total"] == 1
    duplicate = api.post("/customers", data={"name": "x", "custnr": "1412"})
    assert duplicate.status_code == 400
