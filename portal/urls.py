from django.contrib import admin
from django.urls import path

from provisioning.views import healthz

admin.site.site_header = "Partner provisioning: support"
admin.site.site_title = "Provisioning support"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
