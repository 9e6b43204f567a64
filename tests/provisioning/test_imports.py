"""CSV imports: every row is checked before anything is saved, then the valid
ones are created through the services and reported line by line."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning import imports
from provisioning.models import (
    Customer,
    ImportKind,
    ImportState,
    Number,
    SyncAction,
    SyncOperation,
)
from tests.factories import (
    CustomerAccountFactory,
    CustomerFactory,
    NumberFactory,
    PartnerFactory,
    ProviderAccountFactory,
    SureVoIPAccountFactory,
)

pytestmark = pytest.mark.django_db


def preview(partner, kind, text, accounts=()):
    return imports.import_preview(
        partner=partner,
        kind=kind,
        filename=f"{kind}.csv",
        content=text.encode(),
        provider_accounts=list(accounts),
        requested_by=None,
    )


def run(job):
    imports.import_start(job=job)
    imports.import_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"name,email\nA,a@example.com\n", "lacks: custnr"),
        (b"name,custnr\n", "no rows"),
    ],
)
def test_an_unreadable_file_says_why_and_creates_nothing(content, message):
    with pytest.raises(imports.ImportFileError, match=message):
        imports.import_preview(
            partner=PartnerFactory(),
            kind=ImportKind.CUSTOMERS,
            filename="customers.csv",
            content=content,
            provider_accounts=[],
            requested_by=None,
        )


def test_customer_rows_name_the_field_in_error_including_a_number_already_taken():
    partner = PartnerFactory()
    CustomerFactory(partner=partner, custnr="TAKEN")

    job = preview(
        partner,
        ImportKind.CUSTOMERS,
        "Name,CUSTNR,country\nA,1,gbr\nB,TAKEN,\n,3,\nD,1,\nE,5,Sweden\n",
    )

    errors = [sorted(row["errors"]) for row in job.rows]
    assert errors == [[], ["custnr"], ["name"], ["custnr"], ["country"]]
    assert job.rows[0]["values"]["country"] == "GBR"
    assert [row["line"] for row in job.rows] == [2, 3, 4, 5, 6]
    assert Customer.objects.filter(partner=partner).count() == 1


def test_customers_are_created_at_the_chosen_providers_with_a_report():
    partner = PartnerFactory()
    freespee = ProviderAccountFactory(partner=partner)
    rows = "\n".join(f"Imported {n},IMP{n:03d}" for n in range(30))
    job = preview(partner, ImportKind.CUSTOMERS, f"name,custnr\n{rows}\nBad,\n", [freespee])

    job = run(job)

    assert (job.state, job.total, job.done, job.failed, job.percent) == ("done", 30, 30, 0, 100)
    assert Customer.objects.filter(partner=partner).count() == 30
    assert SyncOperation.objects.filter(action=SyncAction.CREATE).count() == 30
    report = imports.import_report(job=job).splitlines()
    assert report[0] == "line,result,id,message"
    assert report[-1].startswith("32,invalid,,custnr:")
    assert sum(line.split(",")[1] == "created" for line in report[1:]) == 30


def test_number_rows_are_checked_against_customers_and_numbers_in_one_pass():
    partner = PartnerFactory()
    surevoip = SureVoIPAccountFactory(partner=partner)
    customer = CustomerFactory(partner=partner, custnr="1412")
    CustomerAccountFactory(customer=customer, provider_account=surevoip)
    CustomerFactory(partner=partner, custnr="NOACCOUNT")
    CustomerFactory(custnr="OTHER")  # another partner's
    NumberFactory(customer=customer, provider_account=surevoip, e164="+441224000001")
    text = (
        "custnr,e164,destination\n"
        "1412,01224 279484,SIP/100@192.0.2.10:5060\n"
        "OTHER,01224 279485,\n"
        "1412,not a number,\n"
        "1412,+441224000001,\n"
        "1412,+44 1224 279484,\n"
        "NOACCOUNT,01224 279486,\n"
    )

    with CaptureQueriesContext(connection) as queries:
        job = preview(partner, ImportKind.NUMBERS, text, [surevoip])

    errors = [sorted(row["errors"]) for row in job.rows]
    assert errors == [[], ["custnr"], ["e164"], ["e164"], ["e164"], ["custnr"]]
    assert job.rows[0]["values"]["e164"] == "+441224279484"
    assert "already holds" in job.rows[3]["errors"]["e164"][0]
    assert len(queries) <= 6

    job = run(job)

    number = Number.objects.get(e164="+441224279484")
    assert (number.customer, number.provider_account, number.activated) == (
        customer,
        surevoip,
        True,
    )
    assert (job.done, job.failed) == (1, 0)


def test_a_number_import_needs_a_surevoip_account_before_anything_is_read():
    partner = PartnerFactory()

    with pytest.raises(ValidationError) as raised:
        preview(partner, ImportKind.NUMBERS, "custnr,e164\n1,+441224279484\n")

    assert "provider_accounts" in raised.value.message_dict


def test_an_import_runs_once():
    partner = PartnerFactory()
    job = run(preview(partner, ImportKind.CUSTOMERS, "name,custnr\nA,1\n"))

    with pytest.raises(ValidationError, match="already been started"):
        imports.import_start(job=job)
    assert job.state == ImportState.DONE


def test_a_restarted_run_continues_where_it_stopped():
    partner = PartnerFactory()
    job = preview(partner, ImportKind.CUSTOMERS, "name,custnr\nA,1\nB,2\nC,3\n")
    job = imports.import_start(job=job)
    CustomerFactory(partner=partner, name="A", custnr="1")
    job.results = [{"line": 2, "result": "created", "id": 0, "message": ""}]
    job.done = 1
    job.save()

    imports.import_execute(job_id=job.pk)

    job.refresh_from_db()
    assert (job.done, job.failed) == (3, 0)
    assert sorted(Customer.objects.values_list("custnr", flat=True)) == ["1", "2", "3"]
