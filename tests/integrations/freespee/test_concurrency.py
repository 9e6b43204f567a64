"""Concurrent writes through the client keep the Freespee sandbox consistent."""

from concurrent.futures import ThreadPoolExecutor

from integrations.errors import PermanentError
from integrations.freespee.client import FreespeeClient

WRITES = 200
THREADS = 20


def test_200_concurrent_customer_creates_keep_custnr_unique(config, freespee):
    client = FreespeeClient(config)
    # 150 distinct custnr: the last 50 writes repeat one of the first 50.
    custnrs = [f"c{index % 150}" for index in range(WRITES)]

    def create(custnr: str) -> str:
        try:
            client.customer_create({"name": f"Customer {custnr}", "custnr": custnr})
        except PermanentError as error:
            assert list(error.field_errors) == ["custnr"]
            return "refused"
        return "created"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(create, custnrs))

    customers = freespee.state()["customers"]
    assert outcomes.count("created") == 150
    assert outcomes.count("refused") == 50
    assert len(customers) == 150
    assert len({c["custnr"] for c in customers}) == 150
    assert len({c["customer_id"] for c in customers}) == 150
    assert client.customers_list().total == 150


def test_200_concurrent_source_creates_never_share_a_tracking_number(config, freespee):
    client = FreespeeClient(config)
    customer = client.customer_create({"name": "DailyLoans", "custnr": "1412"})

    def create(index: int) -> dict:
        return client.source_create(
            {
                "customer_id": customer["customer_id"],
                "name": f"Campaign {index}",
                "media": "Google.com",
                "phonenr": "+46812345678",
            }
        )

    with ThreadPoolExecutor(THREADS) as pool:
        sources = list(pool.map(create, range(WRITES)))

    stored = freespee.state()["sources"]
    assert len(stored) == WRITES
    assert len({s["destnr"] for s in sources}) == WRITES
    assert len({s["destnr"] for s in stored}) == WRITES
    assert len({s["source_id"] for s in stored}) == WRITES
    assert client.sources_list(customer_id=customer["customer_id"]).total == WRITES
