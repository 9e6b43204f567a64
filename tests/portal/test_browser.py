"""A partner staff member's day, in headless Chromium against the live portal,
a real worker and the sandboxes. Screenshots of the main pages go to
test-artifacts/screenshots/."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from integrations.sandbox import DEMO_ACCOUNTS, DEMO_FREESPEE_VERSION
from provisioning.budget import budget_reset
from provisioning.models import Customer, Number, Source, StaffRole
from tests.factories import (
    ProviderAccountFactory,
    StaffMembershipFactory,
    SureVoIPAccountFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
SYNC_TIMEOUT_MS = 60_000


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM
    # calls are still synchronous, so Django's async guard is lifted for it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        yield page
        browser.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def staff(sandbox, page):
    membership = StaffMembershipFactory(role=StaffRole.OPERATOR)
    membership.user.set_password("correct horse battery")
    membership.user.save()
    partner = membership.partner
    freespee = ProviderAccountFactory(
        partner=partner, name="Freespee", base_url=f"{sandbox.url}/freespee"
    )
    surevoip = SureVoIPAccountFactory(
        partner=partner, name="SureVoIP", base_url=f"{sandbox.url}/surevoip"
    )
    for account in (freespee, surevoip):
        budget_reset(provider_account=account)
    return membership.user, freespee, surevoip


def log_in(page: Page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    shot(page, "login")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")


def test_a_partner_staff_members_day(page, live_server, sandbox, celery_workers, staff):
    user, freespee, surevoip = staff
    celery_workers.start()
    log_in(page, live_server, user)

    # Create a customer at Freespee and SureVoIP; its badges turn synced without a reload.
    page.click("text=Customers")
    page.click("text=New customer")
    page.fill("#id_name", "DailyLoans")
    page.fill("#id_custnr", "1412")
    page.fill("#id_email", "ops@dailyloans.example")
    page.fill("#id_firstname", "Dana")
    page.fill("#id_lastname", "Loan")
    page.fill("#id_phone", "01224 279484")
    page.fill("#id_address", "24 Cormack Park")
    page.fill("#id_city", "Inverurie")
    page.fill("#id_postcode", "AB51 8GL")
    page.fill("#id_country", "GBR")
    page.check(f"input[name=provider_accounts][value='{freespee.pk}']")
    page.check(f"input[name=provider_accounts][value='{surevoip.pk}']")
    shot(page, "customer-form")
    page.click("button[type=submit]")
    customer = Customer.objects.get(custnr="1412")
    for account in customer.accounts.all():
        expect(page.locator(f"#badge-account-{account.pk}")).to_have_text(
            "Synced", timeout=SYNC_TIMEOUT_MS
        )

    # Order a tracking source; the allocated tracking number appears without a reload.
    page.click("text=Order a tracking number")
    page.select_option("#id_provider_account", str(freespee.pk))
    page.fill("#id_name", "AdWords")
    page.fill("#id_media", "Google.com")
    page.fill("#id_phonenr", "+46 8 905 10 00")
    page.click("button[type=submit]")
    source = Source.objects.get(customer=customer)
    expect(page.locator(f"#badge-source-{source.pk}")).to_have_text(
        "Synced", timeout=SYNC_TIMEOUT_MS
    )
    expect(page.locator(f"#tracking-{source.pk}")).to_contain_text("+")
    shot(page, "customer-detail")

    # Search free numbers by vanity letters and provision one.
    page.click("text=Numbers")
    page.click("text=Find new numbers")
    page.fill("#id_number_filter", "Ab")
    page.click("form.inline button[type=submit]")
    first_result = page.locator("#results form").first
    expect(first_result).to_be_visible()
    shot(page, "number-search")
    first_result.locator("select[name=customer]").select_option(str(customer.pk))
    first_result.locator("input[name=destination]").fill("SIP/100@192.0.2.10:5060")
    first_result.locator("button[type=submit]").click()
    number = Number.objects.get(customer=customer)
    expect(page.locator(f"#badge-number-{number.pk}")).to_have_text(
        "Synced", timeout=SYNC_TIMEOUT_MS
    )
    # Back to the search: what was searched is still in its field.
    page.go_back()
    expect(page.locator("#id_number_filter")).to_have_value("Ab")
    page.go_forward()

    # Import 50 customers from a CSV; the progress bar reaches 100 %.
    rows = "\n".join(f"Imported {n},IMP{n:03d},imp{n}@example.com" for n in range(50))
    page.click("text=Import")
    page.select_option("#id_kind", "customers")
    page.set_input_files(
        "#id_file",
        files=[
            {
                "name": "customers.csv",
                "mimeType": "text/csv",
                "buffer": f"name,custnr,email\n{rows}\n".encode(),
            }
        ],
    )
    page.check(f"input[name=provider_accounts][value='{freespee.pk}']")
    page.click("button[type=submit]")
    expect(page.locator("#run-import")).to_contain_text("Import 50 rows")
    shot(page, "import-preview")
    page.click("#run-import")
    expect(page.locator("#import-percent")).to_have_text("100%", timeout=SYNC_TIMEOUT_MS)
    shot(page, "import-done")

    # A provider fault fails an operation; it is retried from "Needs attention".
    sandbox.set_faults("freespee", error_rate=1.0, error_status=400)
    page.goto(f"{live_server.url}/customers/{customer.pk}/edit/")
    page.fill("#id_name", "DailyLoans Group")
    page.click("button[type=submit]")
    freespee_account = customer.accounts.get(provider_account=freespee)
    expect(page.locator(f"#badge-account-{freespee_account.pk}")).to_have_text(
        "Failed", timeout=SYNC_TIMEOUT_MS
    )
    sandbox.clear_faults()
    page.click("text=Needs attention")
    shot(page, "needs-attention")
    page.click("button:has-text('Retry')")
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    expect(page.locator(f"#badge-account-{freespee_account.pk}")).to_have_text(
        "Synced", timeout=SYNC_TIMEOUT_MS
    )
    page.goto(f"{live_server.url}/")
    shot(page, "dashboard")


def test_an_admin_sets_up_a_provider_account_and_an_api_key(page, live_server, sandbox):
    membership = StaffMembershipFactory(role=StaffRole.ADMIN)
    membership.user.set_password("correct horse battery")
    membership.user.save()
    log_in(page, live_server, membership.user)

    page.click("text=Settings")
    page.click("text=Provider accounts")
    page.click("text=Add an account")
    page.select_option("#id_kind", "freespee")
    page.fill("#id_name", "Freespee live")
    page.fill("#id_base_url", f"{sandbox.url}/freespee")
    page.fill("#id_api_version", DEMO_FREESPEE_VERSION)
    page.fill("#id_username", DEMO_ACCOUNTS["freespee"][0])
    page.fill("#id_secret", DEMO_ACCOUNTS["freespee"][1])
    shot(page, "provider-account-form")
    page.click("button[type=submit]")
    page.click("button:has-text('Test connection')")
    expect(page.locator(".flash.success")).to_contain_text("Freespee live answered in")
    shot(page, "provider-accounts")

    page.click("text=API keys")
    page.fill("#id_name", "billing system")
    page.click("button:has-text('Create a key')")
    key = page.locator("#new-key").input_value()
    assert key.startswith("pk_")
    page.click("text=Done")
    expect(page.locator("table")).to_contain_text("billing system")
    expect(page.locator("table")).not_to_contain_text(key)
    shot(page, "api-keys")
