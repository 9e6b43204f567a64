from django.urls import path
from rest_framework.routers import DefaultRouter

from provisioning.api import views

router = DefaultRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("sources", views.SourceViewSet, basename="source")
router.register("numbers", views.NumberViewSet, basename="number")
router.register("provider-accounts", views.ProviderAccountViewSet, basename="provider-account")
router.register("operations", views.SyncOperationViewSet, basename="operation")

urlpatterns = [
    path("number-search/", views.NumberSearchView.as_view(), name="number-search"),
    *router.urls,
]
