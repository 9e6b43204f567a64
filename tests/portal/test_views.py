import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from provisioning import services
from provisioning.models import Customer, ImportJob, ImportState, StaffRole
from tests.factories import (
    NumberFactory,
    PartnerFactory,
    ProviderAccountFactory,
    SourceFactory,
    StaffMembershipFactory,
    SureVoIPAccountFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    membership = StaffMembershipFactory(role=StaffRole.OPERATOR)
    client.force_login(membership.user)
    client.partner = membership.partner
    return client


@pytest.fixture
def viewer(client):
    membership = StaffMembershipFactory(role=StaffRole.VIEWER)
    client.force_login(membership.user)
    client.partner = membership.partner
    return client


def populate(partner, count: int, start: int = 0) -> None:
    freespee = ProviderAccountFactory(partner=partner)
    surevoip = SureVoIPAccountFactory(partner=partner)
    for n in range(start, start + count):
        customer = services.customer_create(
            partner=partner,
            provider_accounts=[freespee, surevoip],
            requested_by=None,
            name=f"Customer {n}",
            custnr=f"C{n:04d}",
        )
        SourceFactory(customer=customer, provider_account=freespee)
        NumberFactory(customer=customer, provider_account=surevoip)


def test_pages_require_login(client):
    response = client.get(reverse("portal:dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name", ["portal:dashboard", "portal:customer_list", "portal:attention", "portal:import_start"]
)
def test_pages_render_with_a_bounded_number_of_queries(operator, name):
    populate(operator.partner, 3)
    with CaptureQueriesContext(connection) as few:
        assert operator.get(reverse(name)).status_code == 200
    populate(operator.partner, 30, start=3)
    with CaptureQueriesContext(connection) as many:
        assert operator.get(reverse(name)).status_code == 200

    assert len(many) == len(few)
    assert len(many) <= 20


def test_customer_detail_renders_with_a_bounded_number_of_queries(operator):
    populate(operator.partner, 1)
    customer = Customer.objects.get()
    url = reverse("portal:customer_detail", args=[customer.pk])
    with CaptureQueriesContext(connection) as queries:
        response = operator.get(url)

    assert response.status_code == 200
    assert customer.name in response.content.decode()
    assert len(queries) <= 20


def test_customer_create_shows_field_errors_and_saves_nothing(operator):
    response = operator.post(
        reverse("portal:customer_create"), {"name": "", "custnr": "1", "phone": "12"}
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"name", "phone"}
    assert Customer.objects.count() == 0


def test_customer_create_goes_through_the_services(operator):
    account = ProviderAccountFactory(partner=operator.partner)

    response = operator.post(
        reverse("portal:customer_create"),
        {
            "name": "DailyLoans",
            "custnr": "1412",
            "receive_monthly_report": 0,
            "provider_accounts": [account.pk],
        },
    )

    customer = Customer.objects.get()
    assert response.status_code == 302
    assert customer.accounts.get().sync_state == "pending"


def test_viewer_cannot_change_anything(viewer):
    populate(viewer.partner, 1)
    customer = Customer.objects.get()

    assert viewer.get(reverse("portal:customer_list")).status_code == 200
    assert viewer.get(reverse("portal:customer_create")).status_code == 403
    assert viewer.post(reverse("portal:customer_create"), {"name": "X"}).status_code == 403
    assert viewer.post(reverse("portal:customer_delete", args=[customer.pk])).status_code == 403
    assert Customer.objects.filter(deleted_at__isnull=True).count() == 1


def test_another_partners_objects_are_404(operator):
    other = PartnerFactory()
    populate(other, 1)
    customer = Customer.objects.get()
    source = customer.sources.get()
    number = customer.numbers.get()

    for url in [
        reverse("portal:customer_detail", args=[customer.pk]),
        reverse("portal:customer_edit", args=[customer.pk]),
        reverse("portal:customer_delete", args=[customer.pk]),
        reverse("portal:source_edit", args=[source.pk]),
        reverse("portal:number_edit", args=[number.pk]),
        reverse("portal:sync_badge", args=["source", source.pk]),
    ]:
        assert operator.get(url).status_code == 404, url
    assert operator.post(reverse("portal:source_end", args=[source.pk])).status_code == 404


def test_badge_polls_while_pending_and_stops_when_synced(operator):
    populate(operator.partner, 1)
    source = Customer.objects.get().sources.get()
    url = reverse("portal:sync_badge", args=["source", source.pk])

    pending = operator.get(url).content.decode()
    source.sync_state = "synced"
    source.destnr = "+4612345678"
    source.save()
    synced = operator.get(url).content.decode()

    assert 'hx-trigger="every 2s"' in pending
    assert "hx-trigger" not in synced
    assert "+4612345678" in synced
    assert 'id="badge-source-' in synced


def test_csv_import_previews_then_runs(operator, django_capture_on_commit_callbacks):
    csv = "name,custnr,email,phone\nA,1,a@example.com,01224 279484\nB,2,not-an-email,\nC,1,,\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("customers.csv", csv.encode(), content_type="text/csv")
    response = operator.post(reverse("portal:import_start"), {"kind": "customers", "file": upload})
    job = ImportJob.objects.get()

    assert response.status_code == 302
    assert [bool(row["errors"]) for row in job.rows] == [False, True, True]
    assert Customer.objects.count() == 0

    from provisioning import imports

    imports.import_start(job=job)
    imports.import_execute(job_id=job.pk)
    job.refresh_from_db()

    assert job.state == ImportState.DONE
    assert (job.done, job.failed, job.percent) == (1, 0, 100)
    assert Customer.objects.get().phone == "+441224279484"
    report = operator.get(reverse("portal:import_report", args=[job.pk])).content.decode()
    assert "created" in report and "invalid" in report
