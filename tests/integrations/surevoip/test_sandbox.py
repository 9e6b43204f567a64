"""The SureVoIP sandbox over real HTTP, checked against the doc's wire format."""

import phonenumbers
import pytest
import requests

from integrations.sandbox import SandboxApp, serve
from integrations.surevoip.sandbox import POOL, SureVoIPSandbox

from .conftest import DOC_CUSTOMER, PARTNER, PASSWORD, USERNAME

ENVELOPE_KEYS = [
    "entries_per_page",
    "last_page",
    "current_page",
    "page_links",
    "next_page",
    "previous_page",
    "total_entries",
    "first_page",
    "limit",
    "offset",
    "list",
]
RATE_HEADERS = (
    "X-SureVoIP-API-RateLimit-Limit",
    "X-SureVoIP-API-RateLimit-Remaining",
    "X-SureVoIP-API-RateLimit-TimeToReset",
    "X-SureVoIP-API-RateLimit-TimeToResetSecs",
)
# The doc's PUT example (Customer numbers).
DOC_NUMBER_PUT = {
    "numbers": [
        {
            "number": "441224900999",
            "destination": "sip:01224900999@pbx.example.com:5060",
            "activated": "1",
            "voip_call": "1",
        }
    ]
}


def seed_customers(sandbox, count: int) -> None:
    surevoip = sandbox.app.sandboxes["surevoip"]
    with surevoip.lock:
        for n in range(count):
            account = f"sv{surevoip.next_account:06d}"
            surevoip.next_account += 1
            surevoip.customers[account] = {
                **{k: str(v) for k, v in DOC_CUSTOMER.items()},
                "lastname": f"Henry{n}",
                "username": account,
                "balance": "0.00000",
                "creditlimit": "0",
                "partner": PARTNER,
                "created_date": "2017-01-18T10:43:25+00:00",
                "sip_password": "x",
            }


# -- authentication -----------------------------------------------------------


def test_customers_without_credentials_are_refused_with_basic_challenge(base_url):
    response = requests.get(f"{base_url}/customers", timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json() == {"error": "Authorization required"}


def test_wrong_password_is_refused(base_url):
    response = requests.get(f"{base_url}/customers", auth=(USERNAME, "wrong"), timeout=10)

    assert response.status_code == 401


def test_number_search_areacodes_and_ip_address_need_no_credentials(base_url):
    for path in ("/numbers", "/numbers/areacodes", "/support/ip-address"):
        assert requests.get(f"{base_url}{path}", timeout=10).status_code == 200


def test_echo_with_wrong_credentials_is_refused(base_url):
    response = requests.put(
        f"{base_url}/support/echo", json={"message": "x"}, auth=(USERNAME, "no"), timeout=10
    )

    assert response.status_code == 401


# -- support --------------------------------------------------------------------


def test_echo_sends_back_what_was_sent(http):
    # The doc's test.json and answer (Support: echo).
    response = http("PUT", "/support/echo?hypermedia=no", json={"message": "This is what you sent"})

    assert response.status_code == 200
    assert response.json() == {"echoed": {"message": "This is what you sent"}}


def test_ip_address_is_the_callers(http):
    response = http("GET", "/support/ip-address")

    assert response.json() == {"ip-address": "127.0.0.1"}


def test_options_lists_the_allowed_methods(http):
    response = http("OPTIONS", "/customers")

    assert response.status_code == 200
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_unknown_resource_is_the_docs_404(http):
    response = http("GET", "/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error": "Cannot find what you were looking for!"}


# -- customers ------------------------------------------------------------------


def test_post_customer_with_missing_fields_gives_the_errors_shape(http):
    response = http("POST", "/customers", json={"firstname": "Gavin", "email": "not-an-email"})

    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["errors"]
    assert all(set(item) == {"field", "message"} for item in body["errors"])
    assert all(isinstance(item["message"], list) for item in body["errors"])
    fields = {item["field"]: item["message"] for item in body["errors"]}
    assert set(fields) == {"lastname", "email", "phone", "address", "city", "postcode", "country"}
    assert fields["lastname"] == ["Lastname field is required"]
    assert fields["email"] == ["Must be a valid e-mail address"]


def test_post_customer_creates_it_under_the_partner_with_location(http, base_url):
    response = http("POST", "/customers", json=DOC_CUSTOMER)

    assert response.status_code == 201
    location = response.headers["Location"]
    assert location.startswith(f"{base_url}/partners/{PARTNER}/customers/")
    account = location.rsplit("/", 1)[-1]
    customer = http("GET", f"/partners/{PARTNER}/customers/{account}?hypermedia=no").json()
    assert {key: customer[key] for key in DOC_CUSTOMER} == DOC_CUSTOMER
    assert customer["username"] == account
    assert set(customer) == {*DOC_CUSTOMER, "username", "balance", "creditlimit"}


def test_customer_is_served_at_top_level_and_partner_paths(http, account):
    top = http("GET", f"/customers/{account}").json()
    partner = http("GET", f"/partners/{PARTNER}/customers/{account}").json()

    assert top == partner
    assert top["resources"]["customers"].endswith("/surevoip/customers")
    titles = {url["title"] for url in top["customer_resources"]["urls"]}
    assert {"numbers", "sip", "calls", "call stats"} <= titles


def test_other_partners_path_is_not_found(http, account):
    response = http("GET", f"/partners/someone-else/customers/{account}")

    assert response.status_code == 404


def test_put_customer_updates_allowed_fields_and_refuses_read_only_ones(http, account):
    updated = http("PUT", f"/customers/{account}?hypermedia=no", json={"email": "new@example.com"})
    refused = http("PUT", f"/customers/{account}", json={"username": "other", "city": ""})

    assert updated.status_code == 200
    assert updated.json()["email"] == "new@example.com"
    assert updated.json()["city"] == "Inverurie"
    assert refused.status_code == 400
    fields = {item["field"] for item in refused.json()["errors"]}
    assert fields == {"username", "city"}


def test_delete_customer_releases_its_numbers(http, account):
    http("PUT", f"/customers/{account}/numbers/441224900005", json={"numbers": [{}]})

    deleted = http("DELETE", f"/customers/{account}")

    assert deleted.status_code == 200
    assert http("GET", f"/customers/{account}").status_code == 404
    search = http("GET", "/numbers?hypermedia=no&number_range=01224900005").json()
    assert search["total_entries"] == "1"


# -- list envelope and hypermedia ----------------------------------------------


def test_customer_list_has_the_documented_envelope(http, sandbox):
    seed_customers(sandbox, 3)

    body = http("GET", "/customers?hypermedia=no").json()

    assert list(body) == ENVELOPE_KEYS
    assert body["entries_per_page"] == 50 and body["limit"] == 50
    assert body["current_page"] == 1 and body["first_page"] == 1 and body["last_page"] == 1
    assert body["total_entries"] == "3"
    assert body["next_page"] is None and body["previous_page"] is None
    assert body["page_links"] is None
    assert body["offset"] == 0
    assert [entry["username"] for entry in body["list"]] == ["sv000001", "sv000002", "sv000003"]


def test_list_pages_with_page_limit_and_offset(http, sandbox):
    seed_customers(sandbox, 12)

    second = http("GET", "/customers?hypermedia=no&page=2&limit=5").json()
    last = http("GET", "/customers?hypermedia=no&page=3&limit=5").json()
    shifted = http("GET", "/customers?hypermedia=no&limit=5&offset=4").json()

    # Values asked for come back as the strings they were sent as, as in the doc.
    assert second["limit"] == "5" and second["entries_per_page"] == "5"
    assert second["current_page"] == "2"
    assert second["last_page"] == 3 and second["next_page"] == 3 and second["previous_page"] == 1
    assert [e["username"] for e in second["list"]] == [f"sv{n:06d}" for n in range(6, 11)]
    assert [e["username"] for e in last["list"]] == ["sv000011", "sv000012"]
    assert last["next_page"] is None
    assert shifted["offset"] == 4
    assert [e["username"] for e in shifted["list"]] == [f"sv{n:06d}" for n in range(5, 10)]


def test_list_limit_is_capped_at_1000(http, sandbox):
    seed_customers(sandbox, 1001)

    body = http("GET", "/customers?hypermedia=no&limit=5000").json()

    assert body["limit"] == "1000"
    assert len(body["list"]) == 1000
    assert body["last_page"] == 2


def test_invalid_limit_is_a_field_error(http):
    response = http("GET", "/customers?limit=zero")

    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"field": "limit", "message": ["Must be a positive whole number"]}]
    }


def test_hypermedia_is_on_by_default_and_off_with_hypermedia_no(http, sandbox, base_url):
    seed_customers(sandbox, 3)

    with_links = http("GET", "/customers?limit=1&page=2").json()
    without = http("GET", "/customers?limit=1&page=2&hypermedia=no&content-type=application/json")

    assert with_links["resources"]["areacodes"] == f"{base_url}/numbers/areacodes"
    links = {link["title"]: link["href"] for link in with_links["page_links"]}
    assert links["next_page"] == f"{base_url}/customers?page=3&limit=1&offset=0"
    assert links["previous_page"] == f"{base_url}/customers?page=1&limit=1&offset=0"
    assert links["last_page"] == f"{base_url}/customers?page=3&limit=1&offset=0"
    assert without.status_code == 200
    assert "resources" not in without.json() and without.json()["page_links"] is None


def test_other_content_types_are_not_served(http):
    response = http("GET", "/customers?content-type=application/xml")

    assert response.status_code == 415


# -- customer numbers -------------------------------------------------------------


def test_put_number_is_the_docs_example(http, base_url, account):
    response = http(
        "PUT", f"/customers/{account}/numbers/441224900999?hypermedia=no", json=DOC_NUMBER_PUT
    )

    location = f"{base_url}/customers/{account}/numbers/441224900999"
    assert response.status_code == 201
    assert response.headers["Location"] == location
    assert response.json() == {"location": location, "number": "441224900999"}


def test_put_existing_number_updates_it(http, account):
    path = f"/customers/{account}/numbers/441224900999"
    http("PUT", path, json=DOC_NUMBER_PUT)

    # The doc's second numbers.json: forward to a number instead.
    second = {"numbers": [{"number": "441224900999", "destination": "441224824887"}]}
    response = http("PUT", path, json=second)

    assert response.status_code == 200
    number = http("GET", f"{path}?hypermedia=no").json()["numbers"][0]
    assert number["destination"] == "441224824887"
    assert number["activated"] == "1"


def test_get_one_number_has_the_documented_fields(http, account):
    path = f"/partners/{PARTNER}/customers/{account}/numbers/441224900999"
    http("PUT", path, json=DOC_NUMBER_PUT)

    body = http("GET", f"{path}?hypermedia=no").json()

    assert list(body) == ["numbers"]
    (number,) = body["numbers"]
    assert set(number) == {
        "priority",
        "country",
        "activated",
        "number",
        "destination",
        "country_code",
        "number_created_date",
        "sent_via_sip",
        "destination_created_date",
        "country_prefix",
        "total_call_time_secs",
        "ported",
    }
    assert number["number"] == "441224900999"
    assert number["destination"] == "sip:01224900999@pbx.example.com:5060"
    assert number["country_code"] == "GBR" and number["country_prefix"] == "44"
    assert number["sent_via_sip"] == "1" and number["ported"] == "0"


def test_post_several_numbers_then_list_them(http, account):
    numbers = {
        "numbers": [
            {"number": "441224900101", "destination": "SIP/01224900101@192.0.2.1:5060"},
            {"number": "441224900102", "destination": "441224824887", "activated": 0},
            {"number": "442035159999", "destination": "sip:100@pbx.example.com", "ported": "1"},
        ]
    }

    created = http("POST", f"/customers/{account}/numbers", json=numbers)
    listed = http("GET", f"/customers/{account}/numbers?hypermedia=no&limit=5").json()

    assert created.status_code == 201
    assert [n["number"] for n in created.json()["numbers"]] == [
        "441224900101",
        "441224900102",
        "442035159999",
    ]
    assert list(listed) == ENVELOPE_KEYS
    assert listed["total_entries"] == "3"
    entry = listed["list"][1]
    assert set(entry) == {"country", "activated", "number", "url", "created_date"}
    assert entry["activated"] == "0" and entry["country"] == "United Kingdom"
    assert entry["url"]["title"] == "441224900102"
    assert entry["url"]["href"].endswith(f"/customers/{account}/numbers/441224900102")


def test_post_several_with_one_bad_destination_creates_none(http, account):
    numbers = {
        "numbers": [
            {"number": "441224900101", "destination": "SIP/101@192.0.2.1:5060"},
            {"number": "441224900102", "destination": "+441224824887"},
        ]
    }

    response = http("POST", f"/customers/{account}/numbers", json=numbers)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "field": "destination",
                "message": ["441224900102: Format is 447123123456. No + allowed"],
            }
        ]
    }
    listed = http("GET", f"/customers/{account}/numbers?hypermedia=no").json()
    assert listed["total_entries"] == "0"


@pytest.mark.parametrize(
    "destination",
    ["SIP/01224900123@192.0.2.10:5060", "sip:01224900999@pbx.example.com:5060", "441224824887"],
)
def test_documented_destinations_are_accepted(http, account, destination):
    body = {"numbers": [{"number": "441224900111", "destination": destination}]}

    response = http("PUT", f"/customers/{account}/numbers/441224900111", json=body)

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("destination", "pbx.example.com"),
        ("destination", "sip:no-host"),
        ("destination", "+441224824887"),
        ("activated", "yes"),
        ("ported", 2),
    ],
)
def test_invalid_number_fields_are_field_errors(http, account, field, value):
    body = {"numbers": [{"number": "441224900111", field: value}]}

    response = http("PUT", f"/customers/{account}/numbers/441224900111", json=body)

    assert response.status_code == 400
    assert [item["field"] for item in response.json()["errors"]] == [field]


def test_number_with_plus_is_refused_with_the_docs_message(http, account):
    response = http("PUT", f"/customers/{account}/numbers/+441224900111", json={"numbers": [{}]})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "number", "message": ["Format is 447123123456. No + allowed"]}
    ]


def test_number_on_another_account_is_refused(http, account):
    other = http("POST", "/customers", json=DOC_CUSTOMER).headers["Location"].rsplit("/", 1)[-1]
    http("PUT", f"/customers/{account}/numbers/441224900999", json=DOC_NUMBER_PUT)

    put = http("PUT", f"/customers/{other}/numbers/441224900999", json=DOC_NUMBER_PUT)
    post = http("POST", f"/customers/{other}/numbers", json=DOC_NUMBER_PUT)

    assert put.status_code == post.status_code == 400
    assert put.json()["errors"][0]["field"] == "number"
    assert http("GET", f"/customers/{other}/numbers/441224900999").status_code == 404


def test_delete_number_returns_it_to_the_free_pool(http, account):
    path = f"/customers/{account}/numbers/441224900007"
    http("PUT", path, json={"numbers": [{"destination": "441224824887"}]})
    taken = http("GET", "/numbers?hypermedia=no&number_range=01224900007").json()

    deleted = http("DELETE", path)

    free = http("GET", "/numbers?hypermedia=no&number_range=01224900007").json()
    assert taken["total_entries"] == "0"
    assert deleted.status_code == 200
    assert http("GET", path).status_code == 404
    assert free["total_entries"] == "1"


# -- number search and area codes -------------------------------------------------


def test_every_pool_number_is_a_valid_uk_number():
    for digits in POOL:
        parsed = phonenumbers.parse(f"+{digits}")
        assert phonenumbers.is_valid_number(parsed), digits
        assert phonenumbers.region_code_for_number(parsed) == "GB"


def test_number_filter_letters_are_keypad_digits(http):
    by_letters = http("GET", "/numbers?hypermedia=no&areacode=01224&number_filter=Ab&limit=50")
    by_digits = http("GET", "/numbers?hypermedia=no&areacode=1224&number_filter=22&limit=50")

    assert by_letters.json() == by_digits.json()
    entries = by_letters.json()["list"]
    assert entries and all("22" in str(entry["number"]) for entry in entries)
    assert all(entry["number_areacode"] == "01224" for entry in entries)
    assert set(entries[0]) == {
        "number_complete",
        "number",
        "number_areacode",
        "number_one_off_price",
        "number_detail",
        "number_quality",
    }


def test_search_by_areacode_defaults_to_10_and_returns_at_most_50(http):
    default = http("GET", "/numbers?hypermedia=no&areacode=020").json()
    most = http("GET", "/numbers?hypermedia=no&areacode=020&limit=500").json()

    assert len(default["list"]) == 10 and default["limit"] == 10
    assert len(most["list"]) == 50 and most["limit"] == "50"
    assert int(most["total_entries"]) > 50
    assert all(entry["number_complete"].startswith("020") for entry in most["list"])


def test_search_by_range_of_complete_numbers_matches_the_doc(http, account):
    # The doc's example leaves out 01224900100, which someone owns.
    http("PUT", f"/customers/{account}/numbers/441224900100", json={"numbers": [{}]})

    body = http("GET", "/numbers?hypermedia=no&number_range=01224900100-01224900109").json()

    assert body["total_entries"] == "9"
    assert [e["number_complete"] for e in body["list"]] == [f"0122490010{n}" for n in range(1, 10)]
    assert body["list"][0]["number_quality"] == "platinum"
    assert body["list"][0]["number_one_off_price"] == 500


def test_search_by_mixed_ranges_and_single_numbers(http):
    body = http(
        "GET", "/numbers?hypermedia=no&areacode=01224&number_range=0120-0129,0250&limit=50"
    ).json()

    assert [entry["number"] for entry in body["list"]] == [*range(900120, 900130), 900250]


def test_search_with_a_bad_range_is_a_field_error(http):
    response = http("GET", "/numbers?number_range=19-1")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "number_range"


def test_provisioned_numbers_leave_the_free_pool(http, account):
    http("PUT", f"/customers/{account}/numbers/441224900224", json={"numbers": [{}]})

    body = http("GET", "/numbers?hypermedia=no&areacode=01224&number_filter=224&limit=50").json()

    assert "01224900224" not in [entry["number_complete"] for entry in body["list"]]


def test_areacodes_by_name_as_in_the_doc(http):
    body = http("GET", "/numbers/areacodes?hypermedia=no&area_filter=Ab&limit=5&page=1").json()

    # The doc's own answer to area_filter=Ab.
    assert body["list"] == [
        {"areacode": "01224", "areaname": "Aberdeen (01224)"},
        {"areacode": "01235", "areaname": "Abingdon (01235)"},
        {"areacode": "01271", "areaname": "Barnstable (01271)"},
        {"areacode": "01300", "areaname": "Cerne Abbas (01300)"},
        {"areacode": "013393", "areaname": "Aboyne (013393)"},
    ]


def test_areacodes_by_code_and_by_areaname(http):
    by_code = http("GET", "/numbers/areacodes?hypermedia=no&area_filter=0141").json()
    by_name = http("GET", "/numbers/areacodes?hypermedia=no&areaname=Lon").json()

    assert by_code["list"] == [{"areacode": "0141", "areaname": "Glasgow (0141)"}]
    assert [entry["areaname"] for entry in by_name["list"]] == [
        "Ellon (01358)",
        "Colonsay (01951)",
        "London (020)",
        "Londonderry (02871)",
    ]


# -- SIP and calls ----------------------------------------------------------------


def test_sip_trunk_state_is_a_one_entry_list(http, account):
    body = http("GET", f"/customers/{account}/sip?hypermedia=no").json()

    assert list(body) == ENVELOPE_KEYS
    (trunk,) = body["list"]
    assert set(trunk) == {
        "caller_id_name",
        "sip_password",
        "caller_id_number",
        "dtmf",
        "sip_username",
        "sip_codecs",
    }
    assert trunk["sip_username"] == account


def test_calls_and_call_stats_are_served(http, account):
    calls = http("GET", f"/customers/{account}/calls?hypermedia=no&status=all")
    stats = http("GET", f"/customers/{account}/calls/stats?hypermedia=no")
    bad = http("GET", f"/customers/{account}/calls?status=sideways")

    assert calls.status_code == 200 and calls.json()["total_entries"] == "0"
    assert stats.json()["stats"]["account"] == account
    assert bad.status_code == 400


# -- rate limit -------------------------------------------------------------------


def test_rate_limit_headers_are_present_and_count_down(http):
    first = http("GET", "/customers")
    second = http("GET", "/customers")

    for header in RATE_HEADERS:
        assert header in first.headers
    assert first.headers["X-SureVoIP-API-RateLimit-Limit"] == "5000"
    remaining = int(first.headers["X-SureVoIP-API-RateLimit-Remaining"])
    assert int(second.headers["X-SureVoIP-API-RateLimit-Remaining"]) == remaining - 1
    assert 0 < int(first.headers["X-SureVoIP-API-RateLimit-TimeToResetSecs"]) <= 3600
    assert first.headers["X-SureVoIP-API-RateLimit-TimeToReset"].endswith(" secs")
    assert first.headers["X-SureVoIP-API-Auth-User"] == USERNAME


@pytest.fixture
def tiny_limit_url():
    server = serve(SandboxApp([SureVoIPSandbox({USERNAME: PASSWORD}, rate_limit_per_hour=3)]))
    yield f"http://127.0.0.1:{server.port}/surevoip"
    server.shutdown()


def test_requests_past_the_hourly_limit_get_429(tiny_limit_url):
    auth = (USERNAME, PASSWORD)
    answers = [requests.get(f"{tiny_limit_url}/customers", auth=auth, timeout=10) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-SureVoIP-API-RateLimit-Remaining"] for a in answers] == [
        "2",
        "1",
        "0",
        "0",
    ]
    assert answers[3].json()["error"].startswith("Rate limit exceeded")


def test_rate_limit_window_resets_after_an_hour():
    now = [1_000_000.0]
    surevoip = SureVoIPSandbox({USERNAME: PASSWORD}, rate_limit_per_hour=1, clock=lambda: now[0])
    server = serve(SandboxApp([surevoip]))
    url = f"http://127.0.0.1:{server.port}/surevoip/customers"
    try:
        auth = (USERNAME, PASSWORD)
        first = requests.get(url, auth=auth, timeout=10)
        refused = requests.get(url, auth=auth, timeout=10)
        now[0] += 3600
        again = requests.get(url, auth=auth, timeout=10)
    finally:
        server.shutdown()

    assert (first.status_code, refused.status_code, again.status_code) == (200, 429, 200)


def test_injected_fault_looks_like_a_surevoip_error(sandbox, http):
    sandbox.set_faults("surevoip", error_rate=1.0, error_status=503)

    response = http("GET", "/customers")

    assert response.status_code == 503
    assert response.json() == {"error": "Service temporarily unavailable"}


def test_state_survives_save_and_restore(http, account, sandbox):
    http("PUT", f"/customers/{account}/numbers/441224900999", json=DOC_NUMBER_PUT)
    saved = sandbox.state()["surevoip"]
    fresh = SureVoIPSandbox({USERNAME: PASSWORD})

    fresh.restore(saved)

    assert fresh.state() == saved
    assert fresh.numbers["441224900999"]["account"] == account
