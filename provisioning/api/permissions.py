"""Who may use the API: a partner's API key, or a partner's staff session."""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from provisioning.models import ApiKey, Partner, StaffRole


def partner_of(request: Request) -> Partner | None:
    """The partner the caller acts for, or None."""
    if isinstance(request.auth, ApiKey):
        return request.auth.partner
    membership = (
        getattr(request.user, "membership", None) if request.user.is_authenticated else None
    )
    return membership.partner if membership else None


class IsPartnerClient(BasePermission):
    message = "Authenticate with your partner's API key or a staff login."

    def has_permission(self, request: Request, view: object) -> bool:
        if partner_of(request) is None:
            return False
        if isinstance(request.auth, ApiKey) or request.method in SAFE_METHODS:
            return True
        # Staff sessions: viewers read, operators and admins change.
        return request.user.membership.role != StaffRole.VIEWER
