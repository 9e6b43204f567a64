from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import views
from provisioning.views import healthz

admin.site.site_header = "Partner provisioning: support"
admin.site.site_title = "Provisioning support"

ui = (
    [
        path("", views.dashboard, name="dashboard"),
        path("customers/", views.customer_list, name="customer_list"),
        path("customers/new/", views.customer_create, name="customer_create"),
        path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
        path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
        path("customers/<int:pk>/delete/", views.customer_delete, name="customer_delete"),
        path("customers/<int:customer_pk>/sources/new/", views.source_create, name="source_create"),
        path("sources/<int:pk>/edit/", views.source_edit, name="source_edit"),
        path("sources/<int:pk>/end/", views.source_end, name="source_end"),
        path("numbers/", views.number_list, name="number_list"),
        path("numbers/search/", views.number_search, name="number_search"),
        path("numbers/<int:pk>/dnd/", views.number_dnd, name="number_dnd"),
        path("numbers/provision/", views.number_provision, name="number_provision"),
        path("numbers/<int:pk>/edit/", views.number_edit, name="number_edit"),
        path("numbers/<int:pk>/release/", views.number_release, name="number_release"),
        path("status/", views.sync_status, name="sync_status"),
        path("attention/", views.attention, name="attention"),
        path("operations/<int:pk>/retry/", views.operation_retry, name="operation_retry"),
        path("drift/<str:kind>/<int:pk>/push/", views.drift_push, name="drift_push"),
        path("runs/<int:pk>/adopt/", views.run_adopt, name="run_adopt"),
        path("import/", views.import_start, name="import_start"),
        path("import/<int:pk>/", views.import_detail, name="import_detail"),
        path("import/<int:pk>/progress/", views.import_progress, name="import_progress"),
        path("import/<int:pk>/report.csv", views.import_report, name="import_report"),
        path("settings/staff/", views.staff_list, name="staff_list"),
        path("settings/staff/new/", views.staff_add, name="staff_add"),
        path("settings/staff/<int:pk>/", views.staff_edit, name="staff_edit"),
        path("settings/api-keys/", views.api_key_list, name="api_key_list"),
        path("settings/api-keys/new/", views.api_key_created, name="api_key_created"),
        path("settings/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
        path("settings/providers/", views.provider_account_list, name="provider_account_list"),
        path(
            "settings/providers/new/",
            views.provider_account_edit,
            name="provider_account_create",
        ),
        path(
            "settings/providers/<int:pk>/",
            views.provider_account_edit,
            name="provider_account_edit",
        ),
        path(
            "settings/providers/<int:pk>/pause/",
            views.provider_account_pause,
            name="provider_account_pause",
        ),
        path(
            "settings/providers/<int:pk>/resume/",
            views.provider_account_resume,
            name="provider_account_resume",
        ),
        path(
            "settings/providers/<int:pk>/ping/",
            views.provider_account_ping,
            name="provider_account_ping",
        ),
        path(
            "settings/providers/<int:pk>/reconcile/",
            views.provider_account_reconcile,
            name="provider_account_reconcile",
        ),
    ],
    "portal",
)

urlpatterns = [
    path("", include(ui)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("provisioning.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
