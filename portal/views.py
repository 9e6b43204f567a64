"""The partner staff's web UI: thin views over the provisioning selectors and
services, every query scoped to the user's partner."""

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from integrations.errors import IntegrationError, TransientError
from portal import forms
from provisioning import budget, imports, selectors, services
from provisioning.models import (
    OPEN_OPERATION_STATES,
    ApiKey,
    Customer,
    CustomerAccount,
    ImportJob,
    Number,
    OperationState,
    Partner,
    ProviderKind,
    Source,
    StaffMembership,
    StaffRole,
    SyncOperation,
    SyncState,
)

PAGE_SIZE = 25
NEW_API_KEY = "new_api_key"  # session key: a created API key, until its one showing
DASHBOARD_ACCOUNTS = 10
LIVE_STATES = (SyncState.PENDING, SyncState.SYNCING, SyncState.DELETING)
ROLE_RANK = {StaffRole.VIEWER: 0, StaffRole.OPERATOR: 1, StaffRole.ADMIN: 2}


def staff_view(role: str = StaffRole.VIEWER) -> Callable:
    """Log-in required, a partner membership, and at least `role` (viewers only read)."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            membership = getattr(request.user, "membership", None)
            if membership is None:
                raise PermissionDenied("Your login belongs to no partner.")
            needed = (
                role
                if request.method in ("GET", "HEAD")
                else max(role, StaffRole.OPERATOR, key=ROLE_RANK.get)
            )
            if ROLE_RANK[membership.role] < ROLE_RANK[needed]:
                raise PermissionDenied("Your role does not allow this.")
            request.partner = membership.partner
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _fail_form(form: Any, error: ValidationError) -> None:
    """Put a service's validation errors on the form's fields."""
    renamed = getattr(form, "service_error_fields", {})
    for field, messages_ in error.message_dict.items():
        field = renamed.get(field, field)
        form.add_error(field if field in form.fields else None, messages_)


def _customer(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.customer_list(partner=request.partner), pk=pk)


@staff_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    partner: Partner = request.partner
    since = timezone.now() - timedelta(hours=24)
    hours = selectors.operations_per_hour(partner=partner, since=since)
    peak = max([h["succeeded"] + h["failed"] for h in hours] or [1])
    # With a sipgate account per customer there can be thousands: the troubled first.
    by_health = selectors.provider_accounts_by_health(partner=partner)
    accounts = list(by_health[:DASHBOARD_ACCOUNTS])
    more = by_health.count() - len(accounts) if len(accounts) == DASHBOARD_ACCOUNTS else 0
    left = budget.budget_remaining(provider_accounts=accounts)
    return render(
        request,
        "portal/dashboard.html",
        {
            "counts": selectors.sync_state_counts(partner=partner),
            "states": SyncState,
            "accounts": [(account, left[account.pk]) for account in accounts],
            "more_accounts": more,
            "operations": selectors.operations_since(partner=partner, since=since, limit=20),
            "hours": hours,
            "peak": peak,
        },
    )


@staff_view()
def customer_list(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, selectors.customer_list, "portal/customer_list.html")


def _filtered_list(request: HttpRequest, select: Callable, template: str) -> HttpResponse:
    """A page of the partner's objects that `select` finds for the list's filters."""
    form = forms.ListFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    objects = select(
        partner=request.partner,
        search=filters.get("q", ""),
        sync_state=filters.get("sync_state", ""),
        provider_kind=filters.get("provider", ""),
    )
    page, query = _page_with_query(request, objects)
    return render(request, template, {"form": form, "page": page, "query": query})


@staff_view(StaffRole.OPERATOR)
def customer_create(request: HttpRequest) -> HttpResponse:
    form = forms.CustomerForm(request.POST or None, partner=request.partner)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(
                partner=request.partner,
                provider_accounts=list(form.cleaned_data["provider_accounts"]),
                requested_by=request.user,
                **form.service_fields(),
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(
                request, f"{customer.name} was created; the providers are being updated."
            )
            return redirect("portal:customer_detail", pk=customer.pk)
    return render(request, "portal/customer_form.html", {"form": form})


@staff_view(StaffRole.OPERATOR)
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    form = forms.CustomerForm(request.POST or None, instance=customer, partner=request.partner)
    if request.method == "POST" and form.is_valid():
        try:
            for provider_account in form.cleaned_data.get("provider_accounts", []):
                services.customer_account_create(
                    customer=customer, provider_account=provider_account, requested_by=request.user
                )
            services.customer_update(
                customer=customer, requested_by=request.user, **form.service_fields()
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(request, "Saved; the providers are being updated.")
            return redirect("portal:customer_detail", pk=customer.pk)
    if request.method == "GET":
        # Show the provider's own complaints on the fields they concern. The form is
        # unbound, so they go straight into its errors: add_error needs cleaned data.
        for account in customer.accounts.all():
            if account.sync_error_field in form.fields:
                form.errors.setdefault(account.sync_error_field, form.error_class()).append(
                    f"{account.provider_account}: {account.sync_error}"
                )
    return render(request, "portal/customer_form.html", {"form": form, "customer": customer})


@staff_view()
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    return render(
        request,
        "portal/customer_detail.html",
        {
            "customer": customer,
            "sources": selectors.source_list(partner=request.partner).filter(customer=customer),
            "numbers": selectors.number_list(partner=request.partner).filter(customer=customer),
            **_timeline(request, customer),
        },
    )


def _timeline(request: HttpRequest, customer: Customer) -> dict:
    """A customer's 50 latest operations with their exchanges, and whether any is open."""
    operations = list(
        selectors.operation_list(partner=request.partner, customer=customer).prefetch_related(
            "exchanges"
        )[:50]
    )
    live = any(operation.state in OPEN_OPERATION_STATES for operation in operations)
    return {"operations": operations, "timeline_live": live}


@staff_view(StaffRole.OPERATOR)
def customer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    customer = _customer(request, pk)
    if request.method == "POST":
        services.customer_delete(customer=customer, requested_by=request.user)
        messages.success(request, f"{customer.name} is being deleted at every provider.")
        return redirect("portal:customer_list")
    return render(
        request,
        "portal/customer_delete.html",
        {
            "customer": customer,
            "sources": customer.sources.exclude(sync_state=SyncState.DELETED),
            "numbers": customer.numbers.exclude(sync_state=SyncState.DELETED),
        },
    )


@staff_view(StaffRole.OPERATOR)
def source_create(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = _customer(request, customer_pk)
    form = forms.SourceForm(request.POST or None, customer=customer)
    if request.method == "POST" and form.is_valid():
        try:
            services.source_create(
                customer=customer,
                provider_account=form.cleaned_data["provider_account"],
                requested_by=request.user,
                **form.service_fields(),
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(request, "The tracking number is being ordered.")
            return redirect("portal:customer_detail", pk=customer.pk)
    return render(request, "portal/source_form.html", {"form": form, "customer": customer})


@staff_view(StaffRole.OPERATOR)
def source_edit(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(_changeable(selectors.source_list(partner=request.partner)), pk=pk)
    form = forms.SourceForm(request.POST or None, instance=source, customer=source.customer)
    if request.method == "POST" and form.is_valid():
        try:
            services.source_update(
                source=source, requested_by=request.user, **form.service_fields()
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(request, "Saved; Freespee is being updated.")
            return redirect("portal:customer_detail", pk=source.customer_id)
    return render(
        request,
        "portal/source_form.html",
        {"form": form, "customer": source.customer, "source": source},
    )


@staff_view(StaffRole.OPERATOR)
@require_POST
def source_end(request: HttpRequest, pk: int) -> HttpResponse:
    source = get_object_or_404(_changeable(selectors.source_list(partner=request.partner)), pk=pk)
    services.source_delete(source=source, requested_by=request.user)
    messages.success(request, f"The source “{source.name}” is being ended.")
    return redirect("portal:customer_detail", pk=source.customer_id)


# Every search result has its own list of customers to provision to: all of a large
# partner's customers in each would make the page megabytes long and take seconds.
NUMBER_CUSTOMER_CHOICES = 50


def _number_customer_chosen(request: HttpRequest) -> Customer | None:
    """The customer whose page led here ("Add a number"), if any."""
    customer_id = request.GET.get("customer", "")
    # A hand-edited link is simply ignored, including ids too large for the column.
    if not (customer_id.isdecimal() and len(customer_id) <= 18):
        return None
    return (
        selectors.customer_list(partner=request.partner)
        .prefetch_related(None)
        .only("id", "name", "custnr")
        .filter(pk=int(customer_id))
        .first()
    )


def _number_customer_choices(request: HttpRequest, chosen: Customer | None) -> list[Customer]:
    """The customers a found number can go to: the chosen one and the newest, by name."""
    newest = list(
        selectors.customer_list(partner=request.partner)
        .prefetch_related(None)
        .only("id", "name", "custnr")
        .order_by("-created_at", "-id")[:NUMBER_CUSTOMER_CHOICES]
    )
    if chosen is not None and chosen not in newest:
        newest.append(chosen)
    return sorted(newest, key=lambda customer: (customer.name.casefold(), customer.pk))


def _page_with_query(request: HttpRequest, objects, parameter: str = "page") -> tuple[Any, str]:
    """A page of `objects` and the query string that keeps the filters across pages."""
    page = Paginator(objects, PAGE_SIZE).get_page(request.GET.get(parameter))
    query = request.GET.copy()
    query.pop(parameter, None)
    return page, query.urlencode()


@staff_view()
def number_list(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, selectors.number_list, "portal/number_list.html")


@staff_view(StaffRole.OPERATOR)
@require_POST
def number_dnd(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn a sipgate extension's do-not-disturb on or off."""
    number = get_object_or_404(
        _changeable(selectors.number_list(partner=request.partner)).filter(
            provider_account__kind=ProviderKind.SIPGATE
        ),
        pk=pk,
    )
    dnd = request.POST.get("dnd") == "on"
    try:
        services.number_update(number=number, requested_by=request.user, dnd=dnd)
    except ValidationError as error:
        messages.error(request, f"{number.e164}: {' '.join(error.messages)}")
    else:
        state = "on" if dnd else "off"
        messages.success(
            request, f"{number.e164}: do not disturb {state}; sipgate is being updated."
        )
    return redirect(_next_url(request, "portal:number_list"))


def _changeable(objects):
    """The objects that can still be changed: not being deleted (released, ended), nor gone."""
    return objects.exclude(sync_state__in=[SyncState.DELETING, SyncState.DELETED])


def _next_url(request: HttpRequest, default: str) -> str:
    """Where a form asks to go back to: a path on this site, or `default`."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse(default)


@staff_view()
def number_search(request: HttpRequest) -> HttpResponse:
    accounts = selectors.surevoip_accounts(partner=request.partner)
    form = forms.NumberSearchForm(request.GET or None, accounts=accounts)
    results, error = [], ""
    searched = form.is_valid() and form.has_search()
    account = (form.cleaned_data.get("account") if searched else None) or accounts.first()
    if searched:
        if account is None:
            error = "Add a SureVoIP account to search for numbers."
        else:
            area = form.cleaned_data["area"].strip()
            try:
                results = services.number_search(
                    provider_account=account,
                    areacode=area if area.isdigit() else "",
                    area_name="" if area.isdigit() else area,
                    number_filter=form.cleaned_data["number_filter"],
                    number_range=form.cleaned_data["number_range"],
                )
            except TransientError as exc:
                error = f"SureVoIP could not be reached ({account}): {exc.message}"
            except IntegrationError as exc:
                error = f"SureVoIP refused the search ({account}): {exc.message}"
    chosen = _number_customer_chosen(request)
    customer_options = ""
    if results:
        # Rendered once and repeated in every result's form.
        customer_options = render_to_string(
            "portal/_customer_options.html",
            {"customers": _number_customer_choices(request, chosen), "chosen": chosen},
        )
    context = {
        "form": form,
        "results": results,
        "error": error,
        "customer_options": customer_options,
        "chosen": chosen,
        "account": account,
    }
    # A search answers with its results only; going back in history needs the whole page.
    partial = (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )
    template = "portal/_number_results.html" if partial else "portal/number_search.html"
    response = render(request, template, context)
    # One URL, two answers: the browser must not serve the results alone from its
    # cache when Back asks for the page.
    patch_vary_headers(response, ["HX-Request", "HX-History-Restore-Request"])
    return response


@staff_view(StaffRole.OPERATOR)
@require_POST
def number_provision(request: HttpRequest) -> HttpResponse:
    customer = _customer(request, int(request.POST.get("customer") or 0))
    form = forms.NumberForm(request.POST, customer=customer)
    if form.is_valid():
        try:
            number = services.number_create(
                customer=customer,
                provider_account=form.cleaned_data["provider_account"],
                requested_by=request.user,
                **form.service_fields(),
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(request, f"{number.e164} is being provisioned for {customer.name}.")
            return redirect("portal:customer_detail", pk=customer.pk)
    messages.error(request, _errors_in_words(form))
    return redirect("portal:number_search")


def _errors_in_words(form: Any) -> str:
    """A form's errors as one sentence per field, each named by its label."""
    sentences = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        label = f"{field.label or name.capitalize()}: " if field else ""
        sentences.append(label + " ".join(errors))
    return " ".join(sentences)


@staff_view(StaffRole.OPERATOR)
def number_edit(request: HttpRequest, pk: int) -> HttpResponse:
    number = get_object_or_404(_changeable(selectors.number_list(partner=request.partner)), pk=pk)
    form = forms.NumberRoutingForm(request.POST or None, instance=number)
    if request.method == "POST" and form.is_valid():
        try:
            services.number_update(
                number=number, requested_by=request.user, **form.service_fields()
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(request, f"{number.e164}: saved; the provider is being updated.")
            return redirect("portal:customer_detail", pk=number.customer_id)
    return render(request, "portal/number_form.html", {"form": form, "number": number})


@staff_view(StaffRole.OPERATOR)
@require_POST
def number_release(request: HttpRequest, pk: int) -> HttpResponse:
    number = get_object_or_404(_changeable(selectors.number_list(partner=request.partner)), pk=pk)
    services.number_delete(number=number, requested_by=request.user)
    messages.success(request, f"{number.e164} is being released.")
    return redirect("portal:customer_detail", pk=number.customer_id)


SYNCED_KINDS = {"account": CustomerAccount, "source": Source, "number": Number}
LIVE_KINDS = {*SYNCED_KINDS, "source-row", "number-row", "timeline"}
# The most objects one page asks about at once (a page shows 25 rows of a few each).
LIVE_LIMIT = 200


@staff_view()
def sync_status(request: HttpRequest) -> HttpResponse:
    """The fresh badges, and source rows, of the objects a page shows in flux.

    The page sends `objects=account:1,source-row:7,timeline:3,…` every two seconds
    while any is in flux, and swaps each answer in by its id: one request, at most a
    query per kind, however many objects the page shows."""
    wanted: dict[str, set[int]] = {}
    for item in request.GET.get("objects", "").split(",")[:LIVE_LIMIT]:
        kind, _, pk = item.partition(":")
        if kind in LIVE_KINDS and pk.isdecimal() and len(pk) <= 18:
            wanted.setdefault(kind, set()).add(int(pk))

    def fresh(kind: str, model: type) -> list:
        if kind not in wanted:
            return []
        return list(
            selectors.synced_objects(partner=request.partner, model=model, ids=wanted[kind])
        )

    badges = [(kind, fresh(kind, model)) for kind, model in SYNCED_KINDS.items()]
    # A customer page shows one timeline.
    timeline_of = next(iter(wanted.get("timeline", ())), None)
    customer = (
        selectors.customer_list(partner=request.partner).filter(pk=timeline_of).first()
        if timeline_of
        else None
    )
    return render(
        request,
        "portal/_sync_status.html",
        {
            "badges": badges,
            "source_rows": fresh("source-row", Source),
            "number_rows": fresh("number-row", Number),
            "customer": customer,
            **(_timeline(request, customer) if customer else {}),
        },
    )


@staff_view()
def attention(request: HttpRequest) -> HttpResponse:
    # Each list has its own pages: after a provider outage there can be thousands of
    # failures, and one page listing them all would take seconds to render.
    sections = {}
    for name, objects in selectors.attention_list(partner=request.partner).items():
        parameter = f"{name}_page"
        page, query = _page_with_query(request, objects, parameter)
        sections[name] = {"page": page, "parameter": parameter, "query": query}
    runs = selectors.reconciliation_run_list(partner=request.partner).filter(
        dry_run=False, unmanaged__gt=0
    )[:5]
    in_flight = selectors.operations_open(partner=request.partner).count()
    return render(
        request, "portal/attention.html", {**sections, "runs": runs, "in_flight": in_flight}
    )


@staff_view(StaffRole.OPERATOR)
@require_POST
def operation_retry(request: HttpRequest, pk: int) -> HttpResponse:
    operation = get_object_or_404(
        SyncOperation.objects.filter(partner=request.partner, state=OperationState.FAILED), pk=pk
    )
    services.operation_retry(operation=operation, requested_by=request.user)
    messages.success(request, "Retrying.")
    return redirect(_next_url(request, "portal:attention"))


@staff_view(StaffRole.OPERATOR)
@require_POST
def drift_push(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    model = SYNCED_KINDS.get(kind)
    if model is None:
        return HttpResponse(status=404)
    obj = get_object_or_404(
        model.objects.filter(customer__partner=request.partner, sync_state=SyncState.DRIFTED), pk=pk
    )
    services.drift_push(obj=obj, requested_by=request.user)
    messages.success(request, "The portal's values are being pushed back to the provider.")
    return redirect("portal:attention")


@staff_view(StaffRole.OPERATOR)
@require_POST
def run_adopt(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(selectors.reconciliation_run_list(partner=request.partner), pk=pk)
    remote_ids = request.POST.getlist("remote_id")
    adopted = services.reconciliation_adopt(
        run=run, remote_ids=remote_ids, requested_by=request.user
    )
    messages.success(request, f"Adopted {adopted} object(s).")
    return redirect("portal:attention")


@staff_view(StaffRole.OPERATOR)
def import_start(request: HttpRequest) -> HttpResponse:
    """Upload a CSV: it is validated row by row and shown before anything is saved."""
    form = forms.CsvImportForm(request.POST or None, request.FILES or None, partner=request.partner)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = imports.import_preview(
                partner=request.partner,
                kind=form.cleaned_data["kind"],
                filename=upload.name,
                content=upload.read(),
                provider_accounts=list(form.cleaned_data["provider_accounts"]),
                requested_by=request.user,
            )
        except imports.ImportFileError as error:
            form.add_error("file", str(error))
        except ValidationError as error:
            _fail_form(form, error)
        else:
            return redirect("portal:import_detail", pk=job.pk)
    return render(request, "portal/import_start.html", {"form": form})


def _import_job(request: HttpRequest, pk: int) -> ImportJob:
    return get_object_or_404(ImportJob.objects.filter(partner=request.partner), pk=pk)


@staff_view()
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _import_job(request, pk)
    if request.method == "POST":
        if ROLE_RANK[request.user.membership.role] < ROLE_RANK[StaffRole.OPERATOR]:
            raise PermissionDenied("Your role does not allow this.")
        try:
            job = imports.import_start(job=job)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("portal:import_detail", pk=job.pk)
    invalid = [row for row in job.rows if row["errors"]]
    return render(request, "portal/import_detail.html", {"job": job, "invalid": invalid})


@staff_view()
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "portal/_import_progress.html", {"job": _import_job(request, pk)})


@staff_view()
def import_report(request: HttpRequest, pk: int) -> HttpResponse:
    job = _import_job(request, pk)
    response = HttpResponse(imports.import_report(job=job), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response


# Partner settings: staff, API keys and provider accounts, for admins only.


@staff_view(StaffRole.ADMIN)
def staff_list(request: HttpRequest) -> HttpResponse:
    memberships = (
        StaffMembership.objects.filter(partner=request.partner)
        .select_related("user")
        .order_by("user__username")
    )
    return render(request, "portal/settings/staff_list.html", {"memberships": memberships})


@staff_view(StaffRole.ADMIN)
@sensitive_post_parameters("password", "password_again")
def staff_add(request: HttpRequest) -> HttpResponse:
    form = forms.StaffAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.staff_add(
                partner=request.partner,
                username=data["username"],
                email=data["email"],
                password=data["password"],
                role=data["role"],
                actor=request.user,
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(request, f"{membership.user.get_username()} can now log in.")
            return redirect("portal:staff_list")
    return render(request, "portal/settings/staff_form.html", {"form": form})


@staff_view(StaffRole.ADMIN)
def staff_edit(request: HttpRequest, pk: int) -> HttpResponse:
    # Support staff (who also log in to the admin) are managed there, not by a partner.
    membership = get_object_or_404(
        StaffMembership.objects.filter(
            partner=request.partner, user__is_staff=False, user__is_superuser=False
        ).select_related("user"),
        pk=pk,
    )
    form = forms.StaffUpdateForm(
        request.POST or None,
        initial={"role": membership.role, "is_active": membership.user.is_active},
    )
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.staff_update(
                membership=membership, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            _fail_form(form, error)
        else:
            messages.success(request, f"{membership.user.get_username()}: saved.")
            if membership.user == request.user and membership.role != StaffRole.ADMIN:
                return redirect("portal:dashboard")  # Settings are no longer theirs to see.
            return redirect("portal:staff_list")
    return render(
        request, "portal/settings/staff_form.html", {"form": form, "membership": membership}
    )


@staff_view(StaffRole.ADMIN)
def api_key_list(request: HttpRequest) -> HttpResponse:
    form = forms.ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        api_key, key = services.api_key_create(
            partner=request.partner, name=form.cleaned_data["name"], actor=request.user
        )
        # Shown once, on the next page, and never again: only its hash is kept.
        request.session[NEW_API_KEY] = {"id": api_key.pk, "key": key}
        return redirect("portal:api_key_created")
    keys = ApiKey.objects.filter(partner=request.partner).order_by("revoked_at", "-created_at")
    return render(request, "portal/settings/api_key_list.html", {"form": form, "keys": keys})


@staff_view(StaffRole.ADMIN)
def api_key_created(request: HttpRequest) -> HttpResponse:
    new = request.session.pop(NEW_API_KEY, None)
    if new is None:
        return redirect("portal:api_key_list")
    api_key = get_object_or_404(ApiKey.objects.filter(partner=request.partner), pk=new["id"])
    response = render(
        request, "portal/settings/api_key_created.html", {"api_key": api_key, "key": new["key"]}
    )
    response["Cache-Control"] = "no-store"
    return response


@staff_view(StaffRole.ADMIN)
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey.objects.filter(partner=request.partner), pk=pk)
    services.api_key_revoke(api_key=api_key, actor=request.user)
    messages.success(request, f"The key “{api_key.name}” no longer works.")
    return redirect("portal:api_key_list")


def _provider_account(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.provider_account_list(partner=request.partner), pk=pk)


@staff_view(StaffRole.ADMIN)
def provider_account_list(request: HttpRequest) -> HttpResponse:
    page, query = _page_with_query(
        request, selectors.provider_accounts_by_health(partner=request.partner)
    )
    left = budget.budget_remaining(provider_accounts=page.object_list)
    return render(
        request,
        "portal/settings/provider_account_list.html",
        {
            "accounts": [(account, left[account.pk]) for account in page.object_list],
            "page": page,
            "query": query,
        },
    )


@staff_view(StaffRole.ADMIN)
@sensitive_post_parameters("secret")
def provider_account_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    account = _provider_account(request, pk) if pk else None
    form = forms.ProviderAccountForm(
        request.POST or None, instance=account, partner=request.partner
    )
    if request.method == "POST" and form.is_valid():
        try:
            account = services.provider_account_save(
                provider_account=form.instance,
                secret=form.cleaned_data["secret"],
                actor=request.user,
                **form.service_fields(),
            )
        except ValidationError as error:
            _fail_form(form, error)
            if account is not None:
                account.refresh_from_db()  # the page shows what is saved, not what was refused
        else:
            messages.success(request, f"{account.name}: saved. Test the connection to check it.")
            return redirect("portal:provider_account_list")
    return render(
        request, "portal/settings/provider_account_form.html", {"form": form, "account": account}
    )


@staff_view(StaffRole.ADMIN)
def provider_account_pause(request: HttpRequest, pk: int) -> HttpResponse:
    account = _provider_account(request, pk)
    form = forms.PauseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.provider_account_pause(
            provider_account=account, reason=form.cleaned_data["reason"], actor=request.user
        )
        messages.success(request, f"{account.name} is paused: changes wait until you resume it.")
        return redirect("portal:provider_account_list")
    return render(
        request, "portal/settings/provider_account_pause.html", {"form": form, "account": account}
    )


@staff_view(StaffRole.ADMIN)
@require_POST
def provider_account_resume(request: HttpRequest, pk: int) -> HttpResponse:
    account = _provider_account(request, pk)
    woken = services.provider_account_resume(provider_account=account, actor=request.user)
    messages.success(request, f"{account.name} is resumed; {woken} waiting change(s) go out now.")
    return redirect("portal:provider_account_list")


@staff_view(StaffRole.ADMIN)
@require_POST
def provider_account_ping(request: HttpRequest, pk: int) -> HttpResponse:
    account = _provider_account(request, pk)
    ping = services.provider_account_ping(provider_account=account)
    if ping.ok:
        messages.success(request, f"{account.name} answered in {ping.latency_ms} ms.")
    else:
        messages.error(request, f"{account.name} did not answer: {ping.detail}")
    return redirect("portal:provider_account_list")


@staff_view(StaffRole.ADMIN)
@require_POST
def provider_account_reconcile(request: HttpRequest, pk: int) -> HttpResponse:
    account = _provider_account(request, pk)
    services.reconciliation_request(provider_account=account, requested_by=request.user)
    messages.success(
        request,
        f"{account.name} is being compared with the portal; differences appear under "
        "Needs attention.",
    )
    return redirect("portal:provider_account_list")
