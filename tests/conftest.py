import pytest
import requests

from integrations.sandbox import build_app, serve


class RunningSandbox:
    """The three provider sandboxes served over real HTTP on an ephemeral port."""

    def __init__(self, app, server) -> None:
        self.app = app
        self.server = server
        self.url = f"http://127.0.0.1:{server.port}"

    def control(self, method: str, action: str, **kwargs) -> requests.Response:
        response = requests.request(method, f"{self.url}/_sandbox/{action}", timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def set_faults(self, provider: str, **faults) -> None:
        self.control("POST", "faults", json={"provider": provider, **faults})

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def requests_log(self, provider: str | None = None) -> list[dict]:
        params = {"provider": provider} if provider else {}
        return self.control("GET", "requests", params=params).json()["requests"]

    def state(self) -> dict:
        return self.control("GET", "state").json()


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Tests render pages without running collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(scope="session")
def sandbox_server():
    app = build_app()
    server = serve(app)
    yield RunningSandbox(app, server)
    server.shutdown()


@pytest.fixture
def sandbox(sandbox_server):
    """The sandboxes with empty state, no faults and an empty request log."""
    sandbox_server.control("POST", "reset")
    yield sandbox_server
    sandbox_server.control("POST", "reset")
