"""Query filters of the API's lists (django-filter)."""

from datetime import UTC, datetime

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django_filters.fields import IsoDateTimeField

from provisioning import selectors
from provisioning.models import (
    Customer,
    Number,
    OperationState,
    ProviderKind,
    Source,
    SourceStatus,
    SyncAction,
    SyncOperation,
    SyncState,
)


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, in UTC."""

    def to_python(self, value: str | None) -> datetime | None:
        moment = super().to_python(value)
        if moment is None:
            return None
        # ISO 8601 allows offsets up to ±23:59, PostgreSQL only up to ±15:59.
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Give a time in the years 1 to 9999.", code="invalid") from None


class ChangedSinceFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class SyncedFilter(django_filters.FilterSet):
    sync_state = django_filters.ChoiceFilter(choices=SyncState.choices)
    provider = django_filters.ChoiceFilter(
        field_name="provider_account__kind", choices=ProviderKind.choices
    )
    changed_since = ChangedSinceFilter(field_name="updated_at", lookup_expr="gte")


class CustomerFilter(django_filters.FilterSet):
    # Both apply to the same account ("failed at Freespee"), so filter_queryset
    # applies them together; each filter alone does nothing.
    sync_state = django_filters.ChoiceFilter(
        choices=SyncState.choices, method="by_account", help_text="The state of an account."
    )
    provider = django_filters.ChoiceFilter(
        choices=ProviderKind.choices, method="by_account", help_text="The provider of that account."
    )
    changed_since = ChangedSinceFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Customer
        fields = ["custnr", "country"]

    def by_account(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet:
        return queryset

    def filter_queryset(self, queryset: QuerySet[Customer]) -> QuerySet[Customer]:
        data = self.form.cleaned_data
        return selectors.customers_with_account(
            super().filter_queryset(queryset),
            sync_state=data.get("sync_state") or "",
            provider_kind=data.get("provider") or "",
        )


class SourceFilter(SyncedFilter):
    status = django_filters.ChoiceFilter(choices=SourceStatus.choices)

    class Meta:
        model = Source
        fields = ["customer", "provider_account", "media"]


class NumberFilter(SyncedFilter):
    class Meta:
        model = Number
        fields = ["customer", "provider_account", "activated"]


class SyncOperationFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=OperationState.choices)
    action = django_filters.ChoiceFilter(choices=SyncAction.choices)
    provider = django_filters.ChoiceFilter(
        field_name="provider_account__kind", choices=ProviderKind.choices
    )
    changed_since = ChangedSinceFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = SyncOperation
        fields = ["provider_account", "source", "number", "customer_account"]
