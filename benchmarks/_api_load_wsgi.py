"""The portal's WSGI application plus `/bench/constant`, for benchmarks/api_load.py only.

The constant endpoint is DRF with nothing of ours in it (no authentication,
permission, throttle or database), served by the same gunicorn as the API, so
the API's figures can be read against the floor of Django and DRF themselves.
It is added here, never to the product's URLs. DJANGO_SETTINGS_MODULE comes
from the environment, as api_load.py starts gunicorn.
"""

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import URLPattern, URLResolver, path


def bench_urlpatterns() -> list[URLPattern | URLResolver]:
    """The constant endpoint, then every URL of the portal."""
    # Imported once Django is set up: a DRF view reads the API settings, which import
    # the project's authentication and so its models.
    from rest_framework.permissions import AllowAny
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from portal.urls import urlpatterns

    class ConstantView(APIView):
        authentication_classes = []
        permission_classes = [AllowAny]
        throttle_classes = []

        def get(self, request: Request) -> Response:
            return Response({"ok": True})

    return [path("bench/constant", ConstantView.as_view()), *urlpatterns]


# Before the application is built, so that every request is resolved through this module.
settings.ROOT_URLCONF = __name__
application = get_wsgi_application()
urlpatterns = bench_urlpatterns()
