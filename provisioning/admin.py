"""The support staff's admin, across partners. Saves and deletes of synced
objects go through the services, like every other write; the journal is
read-only; provider secrets are write-only."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from provisioning import services
from provisioning.models import (
    CUSTOM_FIELD_COUNT,
    ApiKey,
    Customer,
    CustomerAccount,
    HttpExchange,
    Number,
    OperationState,
    Partner,
    ProviderAccount,
    ReconciliationRun,
    Source,
    StaffMembership,
    SyncAction,
    SyncOperation,
)


def admin_link(obj: object, text: str | None = None) -> str:
    if obj is None:
        return "—"
    meta = obj._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


class ReadOnlyInline(admin.TabularInline):
    """Shows related rows on a page; they are changed on their own pages, through the services."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "role"]
    list_filter = ["partner", "role"]
    list_select_related = ["user", "partner"]
    search_fields = ["user__username", "user__email", "partner__name"]
    autocomplete_fields = ["user", "partner"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "prefix", "partner__name"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["partner", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.Form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        api_key, key = services.api_key_create(partner=obj.partner, name=obj.name)
        obj.pk = api_key.pk
        messages.warning(request, f"The new key is {key} — copy it now, it is not shown again.")

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"Revoked {count} key(s).")


class ProviderAccountForm(forms.ModelForm):
    base_url = forms.URLField(max_length=300, assume_scheme="https")
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave empty to keep the stored secret.",
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "partner",
            "kind",
            "name",
            "base_url",
            "api_version",
            "username",
            "secret",
            "surevoip_partner_name",
            "customer",
            "request_budget",
            "request_budget_window",
            "paused",
            "paused_reason",
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        if not self.instance.secret_encrypted and not cleaned.get("secret"):
            self.add_error("secret", "Enter the password or API secret for this account.")
        return cleaned


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = [
        "name",
        "partner",
        "kind",
        "username",
        "paused",
        "last_ping_at",
        "last_ping_ms",
        "last_error_short",
    ]
    list_filter = ["kind", "paused", "partner"]
    list_select_related = ["partner"]
    search_fields = ["name", "username", "partner__name", "surevoip_partner_name"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["last_ping_at", "last_ping_ms", "last_error", "created_at", "updated_at"]

    actions = ["reconcile_now", "plan", "ping", "pause", "resume"]

    @admin.display(description="last error")
    def last_error_short(self, obj: ProviderAccount) -> str:
        return obj.last_error[:80]

    @admin.action(description="Reconcile now")
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            services.reconciliation_request(provider_account=account, requested_by=request.user)
        messages.success(
            request, f"Queued {len(queryset)} reconciliation(s); see Reconciliation runs."
        )

    @admin.action(description="Plan (dry run): what a push and a reconcile would do")
    def plan(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            services.reconciliation_request(
                provider_account=account, dry_run=True, requested_by=request.user
            )
        messages.success(request, f"Queued {len(queryset)} plan(s); see Reconciliation runs.")

    @admin.action(description="Ping now")
    def ping(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            result = services.provider_account_ping(provider_account=account)
            level = messages.SUCCESS if result.ok else messages.ERROR
            detail = f"{result.latency_ms} ms" if result.ok else result.detail
            messages.add_message(request, level, f"{account}: {detail}")

    @admin.action(description="Pause")
    def pause(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        for account in queryset:
            services.provider_account_pause(
                provider_account=account,
                reason=f"Paused by {request.user} in the admin.",
                actor=request.user,
            )
        messages.success(request, f"Paused {len(queryset)} account(s).")

    @admin.action(description="Resume")
    def resume(self, request: HttpRequest, queryset: QuerySet[ProviderAccount]) -> None:
        woken = sum(
            services.provider_account_resume(provider_account=a, actor=request.user)
            for a in queryset
        )
        messages.success(
            request, f"Resumed {len(queryset)} account(s); {woken} operation(s) woken."
        )

    def save_model(
        self, request: HttpRequest, obj: ProviderAccount, form: forms.Form, change: bool
    ) -> None:
        services.provider_account_save(provider_account=obj, secret=form.cleaned_data.get("secret"))


class CustomerAccountInline(ReadOnlyInline):
    model = CustomerAccount
    fields = ["provider_account", "remote_id", "sync_state", "sync_error", "last_synced_at"]
    readonly_fields = fields


class SourceInline(ReadOnlyInline):
    model = Source
    fields = ["name", "media", "phonenr", "destnr", "status", "sync_state", "sync_error"]
    readonly_fields = fields


class NumberInline(ReadOnlyInline):
    model = Number
    fields = ["e164", "provider_account", "destination", "activated", "sync_state", "sync_error"]
    readonly_fields = fields


def form_fields(form: forms.ModelForm, *exclude: str) -> dict:
    """The form's cleaned model fields, as keyword arguments for a service."""
    return {name: value for name, value in form.cleaned_data.items() if name not in exclude}


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "custnr", "partner", "email", "country", "deleted_at", "updated_at"]
    list_filter = ["partner", "accounts__provider_account__kind", "accounts__sync_state"]
    list_select_related = ["partner"]
    search_fields = ["name", "custnr", "email", "phone", "accounts__remote_id"]
    readonly_fields = ["deleted_at", "created_at", "updated_at"]
    inlines = [CustomerAccountInline, SourceInline, NumberInline]
    fieldsets = [
        (None, {"fields": ["partner", "name", "custnr", "email", "corporateid"]}),
        (
            "Contact and address (SureVoIP)",
            {
                "fields": [
                    ("firstname", "lastname"),
                    "company_name",
                    "phone",
                    "address",
                    ("city", "state"),
                    ("postcode", "country"),
                ]
            },
        ),
        ("Freespee", {"fields": ["receive_monthly_report", "freespee_caller_id"]}),
        (
            "Freespee custom fields",
            {
                "classes": ["collapse"],
                "fields": [f"custom_{n}" for n in range(1, CUSTOM_FIELD_COUNT + 1)],
            },
        ),
        ("History", {"fields": ["created_at", "updated_at", "deleted_at"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> list[str]:
        return [*self.readonly_fields, "partner"] if obj else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: Customer, form: forms.Form, change: bool
    ) -> None:
        if change:
            # The form has already set the new values on `obj`.
            services.customer_update(customer=obj, requested_by=request.user)
        else:
            created = services.customer_create(
                partner=obj.partner, requested_by=request.user, **form_fields(form, "partner")
            )
            obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        services.customer_delete(customer=obj, requested_by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        for customer in queryset:
            services.customer_delete(customer=customer, requested_by=request.user)


SYNC_FIELDS = [
    "sync_state",
    "sync_error",
    "sync_error_field",
    "drift",
    "remote_id",
    "last_synced_at",
    "created_at",
    "updated_at",
]


class SyncedAdmin(admin.ModelAdmin):
    """Shared columns, filters and write path of the objects mirrored at providers."""

    list_select_related = ["customer__partner", "provider_account"]
    list_filter = ["sync_state", "provider_account__kind", "customer__partner"]
    autocomplete_fields = ["customer", "provider_account"]
    # Fixed once the object exists: moving it would be a delete and a create.
    create_only_fields = ["customer", "provider_account"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [*SYNC_FIELDS, *self.create_only_fields] if obj else SYNC_FIELDS

    @admin.display(description="partner", ordering="customer__partner__name")
    def partner(self, obj: CustomerAccount | Source | Number) -> str:
        return obj.customer.partner.name

    @admin.display(description="provider", ordering="provider_account__kind")
    def provider(self, obj: CustomerAccount | Source | Number) -> str:
        return obj.provider_account.get_kind_display()

    @admin.display(description="last error")
    def last_error(self, obj: CustomerAccount | Source | Number) -> str:
        return obj.sync_error[:80]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    actions = ["push_over_drift"]

    @admin.action(description="Push the portal's state over what drifted")
    def push_over_drift(self, request: HttpRequest, queryset: QuerySet) -> None:
        drifted = [obj for obj in queryset if obj.sync_state == "drifted"]
        for obj in drifted:
            services.drift_push(obj=obj, requested_by=request.user)
        messages.success(request, f"Queued {len(drifted)} push(es).")


@admin.register(CustomerAccount)
class CustomerAccountAdmin(SyncedAdmin):
    list_display = [
        "customer",
        "partner",
        "provider",
        "remote_id",
        "sync_state",
        "last_error",
        "last_synced_at",
    ]
    search_fields = ["customer__name", "customer__custnr", "remote_id"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            services.sync_operation_enqueue(
                obj=obj, action=SyncAction.UPDATE, requested_by=request.user
            )
            return
        created = services.customer_account_create(
            customer=obj.customer, provider_account=obj.provider_account, requested_by=request.user
        )
        obj.pk = created.pk

    def delete_model(self, request, obj) -> None:
        services.sync_operation_enqueue(
            obj=obj, action=SyncAction.DELETE, requested_by=request.user
        )


@admin.register(Source)
class SourceAdmin(SyncedAdmin):
    list_display = [
        "name",
        "media",
        "customer",
        "partner",
        "phonenr",
        "destnr",
        "status",
        "sync_state",
        "last_error",
    ]
    list_filter = ["sync_state", "status", "customer__partner"]
    search_fields = [
        "name",
        "media",
        "phonenr",
        "destnr",
        "remote_id",
        "customer__name",
        "customer__custnr",
    ]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            services.source_update(source=obj, requested_by=request.user)
            return
        created = services.source_create(requested_by=request.user, **form_fields(form))
        obj.pk = created.pk

    def delete_model(self, request, obj) -> None:
        services.source_delete(source=obj, requested_by=request.user)


@admin.register(Number)
class NumberAdmin(SyncedAdmin):
    list_display = [
        "e164",
        "customer",
        "partner",
        "provider",
        "destination",
        "activated",
        "sync_state",
        "last_error",
    ]
    list_filter = ["sync_state", "provider_account__kind", "activated", "customer__partner"]
    search_fields = ["e164", "destination", "remote_id", "customer__name", "customer__custnr"]
    create_only_fields = ["customer", "provider_account", "e164"]

    def save_model(self, request, obj, form, change) -> None:
        if change:
            services.number_update(number=obj, requested_by=request.user)
            return
        created = services.number_create(requested_by=request.user, **form_fields(form))
        obj.pk = created.pk

    def delete_model(self, request, obj) -> None:
        services.number_delete(number=obj, requested_by=request.user)


class HttpExchangeInline(ReadOnlyInline):
    model = HttpExchange
    fields = [
        "created_at",
        "method",
        "url",
        "status",
        "duration_ms",
        "error",
        "request_body",
        "response_body",
    ]
    readonly_fields = fields
    show_change_link = False


class ReadOnlyAdmin(admin.ModelAdmin):
    """The journal: support reads it, nobody edits it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SyncOperation)
class SyncOperationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "partner",
        "provider",
        "action",
        "object_link",
        "state",
        "attempts",
        "next_attempt_at",
        "error_short",
    ]
    list_filter = ["state", "action", "provider_account__kind", "partner"]
    list_select_related = [
        "partner",
        "provider_account",
        "customer_account__customer",
        "customer_account__provider_account",
        "source",
        "number",
    ]
    search_fields = [
        "customer_account__remote_id",
        "customer_account__customer__custnr",
        "customer_account__customer__name",
        "source__name",
        "source__remote_id",
        "number__e164",
        "error",
    ]
    date_hierarchy = "created_at"
    inlines = [HttpExchangeInline]
    actions = ["retry"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Actions need change permission on the changelist; the form stays read-only.
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)

    @admin.action(description="Retry the selected failed operations")
    def retry(self, request: HttpRequest, queryset: QuerySet[SyncOperation]) -> None:
        failed = queryset.filter(state=OperationState.FAILED)
        for operation in failed:
            services.operation_retry(operation=operation, requested_by=request.user)
        messages.success(request, f"Retrying {len(failed)} operation(s).")

    @admin.display(description="provider", ordering="provider_account__kind")
    def provider(self, obj: SyncOperation) -> str:
        return obj.provider_account.get_kind_display()

    @admin.display(description="object")
    def object_link(self, obj: SyncOperation) -> str:
        return admin_link(obj.target)

    @admin.display(description="error")
    def error_short(self, obj: SyncOperation) -> str:
        return obj.error[:80]


@admin.register(HttpExchange)
class HttpExchangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "operation", "method", "url", "status", "duration_ms"]
    list_filter = ["method", "status"]
    list_select_related = [
        "operation__provider_account",
        "operation__customer_account__customer",
        "operation__source",
        "operation__number",
    ]
    search_fields = ["url", "operation__id"]


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "provider_account",
        "dry_run",
        "state",
        "requests",
        "in_sync",
        "drifted",
        "missing",
        "unmanaged",
        "errors",
        "duration",
    ]
    list_filter = ["state", "dry_run", "provider_account__kind", "provider_account__partner"]
    list_select_related = ["provider_account"]
    search_fields = ["provider_account__name", "error"]
    readonly_fields = [
        "provider_account",
        "dry_run",
        "state",
        "created_at",
        "started_at",
        "finished_at",
        "pages",
        "requests",
        "in_sync",
        "drifted",
        "missing",
        "unmanaged",
        "errors",
        "error",
        "pending_push",
        "unmanaged_table",
    ]
    fields = readonly_fields
    actions = ["adopt_all"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)

    @admin.display(description="duration")
    def duration(self, run: ReconciliationRun) -> str:
        if not (run.started_at and run.finished_at):
            return "—"
        return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"

    @admin.display(description="unmanaged remote objects")
    def unmanaged_table(self, run: ReconciliationRun) -> str:
        if not run.unmanaged_items:
            return "None"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    item["kind"],
                    item["remote_id"],
                    item["record"].get("name") or item["record"].get("e164", ""),
                )
                for item in run.unmanaged_items[:200]
            ),
        )
        return format_html(
            "<table><tr><th>kind</th><th>remote id</th><th>name</th></tr>{}</table>", rows
        )

    @admin.action(description="Adopt every unmanaged remote object found by the selected runs")
    def adopt_all(self, request: HttpRequest, queryset: QuerySet[ReconciliationRun]) -> None:
        adopted = 0
        for run in queryset.filter(dry_run=False):
            remote_ids = [item["remote_id"] for item in run.unmanaged_items]
            adopted += services.reconciliation_adopt(
                run=run, remote_ids=remote_ids, requested_by=request.user
            )
        messages.success(request, f"Adopted {adopted} object(s).")
