"""Many requests at once: the sandbox keeps its counts straight and a number on one account."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from integrations.errors import PermanentError
from integrations.surevoip.client import SureVoIPClient

from .conftest import DOC_CUSTOMER

THREADS = 20


def test_200_concurrent_customer_creates_make_200_accounts(config, sandbox):
    clients = [SureVoIPClient(config) for _ in range(THREADS)]

    def create(n: int) -> str:
        return clients[n % THREADS].customer_create({**DOC_CUSTOMER, "lastname": f"Henry{n}"})

    with ThreadPoolExecutor(THREADS) as pool:
        accounts = list(pool.map(create, range(200)))

    customers = sandbox.state()["surevoip"]["customers"]
    assert len(set(accounts)) == 200
    assert set(customers) == set(accounts)
    assert sorted(c["lastname"] for c in customers.values()) == sorted(
        f"Henry{n}" for n in range(200)
    )
    assert clients[0].customers_list()["total_entries"] == "200"


def test_concurrent_puts_and_posts_of_the_same_numbers_leave_each_on_one_account(config, sandbox):
    clients = [SureVoIPClient(config) for _ in range(THREADS)]
    accounts = [clients[0].customer_create(DOC_CUSTOMER) for _ in range(5)]
    numbers = [f"4412249002{n:02d}" for n in range(20)]

    def provision(n: int) -> tuple[str, str, str]:
        client = clients[n % THREADS]
        # Each number is asked for by every account, from several threads at once.
        account = accounts[(n // len(numbers)) % len(accounts)]
        number = numbers[n % len(numbers)]
        try:
            if n % 2:
                client.number_put(account, number, destination="441224824887")
            else:
                client.numbers_create(account, [{"number": number, "destination": "SIP/1@h"}])
        except PermanentError as error:
            assert error.status == 400 and "number" in error.field_errors
            return number, account, "refused"
        return number, account, "ok"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(provision, range(200)))

    stored = sandbox.state()["surevoip"]["numbers"]
    assert set(stored) == set(numbers)
    # Every number ended on exactly one account: the one every accepted request named.
    for number in numbers:
        accepted = {account for n, account, result in outcomes if n == number and result == "ok"}
        assert accepted == {stored[number]["account"]}
    listed = Counter()
    for account in accounts:
        for entry in clients[0].numbers_list(account)["list"]:
            listed[entry["number"]] += 1
    assert listed == Counter(numbers)
    accepted_count = sum(result == "ok" for _, _, result in outcomes)
    assert 20 <= accepted_count < 200
