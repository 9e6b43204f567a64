import pytest
import requests
from requests.auth import HTTPDigestAuth

from integrations.contract import AccountConfig
from integrations.sandbox import DEMO_ACCOUNTS, DEMO_FREESPEE_VERSION

USERNAME, PASSWORD = DEMO_ACCOUNTS["freespee"]


@pytest.fixture
def freespee(sandbox):
    """The in-process Freespee sandbox, for seeding and inspecting state directly."""
    return sandbox.app.sandboxes["freespee"]


@pytest.fixture
def api_url(sandbox) -> str:
    return f"{sandbox.url}/freespee/{DEMO_FREESPEE_VERSION}"


@pytest.fixture
def api(api_url):
    """A plain `requests` session with digest auth against the sandbox: `api.get("/customers")`."""

    class Api(requests.Session):
        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", 10)
            return super().request(method, f"{api_url}{url}", *args, **kwargs)

    session = Api()
    session.auth = HTTPDigestAuth(USERNAME, PASSWORD)
    yield session
    session.close()


@pytest.fixture
def config(sandbox) -> AccountConfig:
    return AccountConfig(
        provider="freespee",
        base_url=f"{sandbox.url}/freespee",
        username=USERNAME,
        secret=PASSWORD,
        api_version=DEMO_FREESPEE_VERSION,
    )
