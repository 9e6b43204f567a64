import pytest

from integrations.contract import AccountConfig
from integrations.sandbox import DEMO_ACCOUNTS, DEMO_SIPGATE_VERSION
from integrations.sipgate.adapter import SipgateAdapter
from integrations.sipgate.client import SipgateClient

USERNAME, PASSWORD = DEMO_ACCOUNTS["sipgate"]


@pytest.fixture
def sipgate(sandbox):
    """The sipgate sandbox itself, for seeding and inspecting state in-process."""
    return sandbox.app.sandboxes["sipgate"]


@pytest.fixture
def base_url(sandbox) -> str:
    return f"{sandbox.url}/sipgate"


@pytest.fixture
def config(base_url) -> AccountConfig:
    return AccountConfig(
        provider="sipgate",
        base_url=base_url,
        username=USERNAME,
        secret=PASSWORD,
        api_version=DEMO_SIPGATE_VERSION,
    )


@pytest.fixture
def exchanges() -> list:
    return []


@pytest.fixture
def client(config, exchanges) -> SipgateClient:
    return SipgateClient(config, recorder=exchanges.append)


@pytest.fixture
def adapter(config, exchanges) -> SipgateAdapter:
    return SipgateAdapter(config, recorder=exchanges.append)


@pytest.fixture
def user_id(sipgate) -> str:
    return sipgate.logins[USERNAME]
