import pytest
import requests

from integrations.contract import AccountConfig, Exchange
from integrations.sandbox import DEMO_ACCOUNTS, DEMO_SUREVOIP_PARTNER
from integrations.surevoip.adapter import SureVoIPAdapter
from integrations.surevoip.client import SureVoIPClient

USERNAME, PASSWORD = DEMO_ACCOUNTS["surevoip"]
PARTNER = DEMO_SUREVOIP_PARTNER

# The doc's own new_customer.json (Partners and customers).
DOC_CUSTOMER = {
    "country": "GBR",
    "firstname": "Gavin",
    "company_name": "Suretec Systems Ltd. - API Test",
    "lastname": "Henry",
    "phone": "01224 279484",
    "state": "Aberdeenshire",
    "email": "user@example.com",
    "city": "Inverurie",
    "fax": "",
    "address": "24 Cormack Park, Rothienorman",
    "company_website": "www.example.com",
    "postcode": "AB51 8GL",
}


@pytest.fixture
def base_url(sandbox) -> str:
    return f"{sandbox.url}/surevoip"


@pytest.fixture
def http(base_url):
    """A plain authenticated session on the sandbox, for checking the wire format."""
    session = requests.Session()
    session.auth = (USERNAME, PASSWORD)

    def call(method: str, path: str, **kwargs) -> requests.Response:
        return session.request(method, f"{base_url}{path}", timeout=10, **kwargs)

    yield call
    session.close()


def make_config(base_url: str, **overrides) -> AccountConfig:
    values = {
        "provider": "surevoip",
        "base_url": base_url,
        "username": USERNAME,
        "secret": PASSWORD,
        "partner_name": PARTNER,
        **overrides,
    }
    return AccountConfig(**values)


@pytest.fixture
def config(base_url) -> AccountConfig:
    return make_config(base_url)


@pytest.fixture
def exchanges() -> list[Exchange]:
    return []


@pytest.fixture
def client(config, exchanges) -> SureVoIPClient:
    return SureVoIPClient(config, recorder=exchanges.append)


@pytest.fixture
def adapter(config, exchanges) -> SureVoIPAdapter:
    return SureVoIPAdapter(config, recorder=exchanges.append)


@pytest.fixture
def account(http) -> str:
    """A customer account made with the doc's example, by its account name."""
    response = http("POST", "/customers", json=DOC_CUSTOMER)
    assert response.status_code == 201
    return response.headers["Location"].rsplit("/", 1)[-1]
