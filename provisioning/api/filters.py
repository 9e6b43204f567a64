"""Query filters of the API's lists (django-filter)."""

import django_filters

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


class SyncedFilter(django_filters.FilterSet):
    sync_state = django_filters.ChoiceFilter(choices=SyncState.choices)
    provider = django_filters.ChoiceFilter(
        field_name="provider_account__kind", choices=ProviderKind.choices
    )
    changed_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")


class CustomerFilter(django_filters.FilterSet):
    sync_state = django_filters.ChoiceFilter(
        field_name="accounts__sync_state", choices=SyncState.choices, distinct=True
    )
    provider = django_filters.ChoiceFilter(
        field_name="accounts__provider_account__kind", choices=ProviderKind.choices, distinct=True
    )
    changed_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Customer
        fields = ["custnr", "country"]


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
    changed_since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = SyncOperation
        fields = ["provider_account", "source", "number", "customer_account"]
