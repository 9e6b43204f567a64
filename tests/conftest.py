import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from integrations.sandbox import build_app, serve

ROOT = Path(__file__).resolve().parent.parent
# Tests and the worker processes they start share their own broker folder, away
# from the one `make run` uses (with REDIS_URL the broker is Redis and this is unused).
TEST_BROKER_DIR = ROOT / "var" / "test-broker"
os.environ["BROKER_DIR"] = str(TEST_BROKER_DIR)
# Passwords are hashed the slow, safe way in production; tests create many users.
django_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if not django_settings.REDIS_URL:
    TEST_BROKER_DIR.mkdir(parents=True, exist_ok=True)
    django_settings.CELERY_BROKER_TRANSPORT_OPTIONS.update(
        data_folder_in=str(TEST_BROKER_DIR),
        data_folder_out=str(TEST_BROKER_DIR),
        control_folder=str(TEST_BROKER_DIR / "control"),
    )


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


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, message: str = ""):
    """Poll until `predicate()` is truthy and return its value, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message or predicate}")
        time.sleep(interval)


def test_database_url() -> str:
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


test_database_url.__test__ = False


class WorkerProcesses:
    """Real Celery worker processes on the test database and broker."""

    def __init__(self, concurrency: int, log_dir: Path) -> None:
        self.concurrency = concurrency
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def start(self, count: int = 1) -> None:
        env = {**os.environ, "DATABASE_URL": test_database_url()}
        for _ in range(count):
            index = len(self.processes)
            log = open(self.log_dir / f"worker-{index}.log", "ab")  # noqa: SIM115 - closed in stop
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "--app",
                    "portal",
                    "worker",
                    "--queues",
                    "provider,reconciliation",
                    "--concurrency",
                    str(self.concurrency),
                    "--pool",
                    "prefork",
                    "--loglevel",
                    "INFO",
                    "--hostname",
                    f"test{index}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            process.log = log
            self.processes.append(process)

    def kill(self) -> None:
        """SIGKILL every worker process group: no chance to finish or acknowledge."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            process.log.close()
        self.processes = []

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            process.log.close()
        self.processes = []


@pytest.fixture
def celery_workers(transactional_db, tmp_path):
    """Start real worker processes with `celery_workers.start()`; stopped at the end."""
    from portal.celery import app

    with app.connection_for_write() as connection:
        for queue in ("provider", "reconciliation"):
            # A queue that does not exist yet is empty already.
            with contextlib.suppress(Exception):
                connection.default_channel.queue_purge(queue)
    workers = WorkerProcesses(concurrency=4, log_dir=tmp_path)
    yield workers
    workers.stop()
