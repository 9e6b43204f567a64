"""What every web UI test logs in as: a staff member of a fresh partner."""

import pytest

from provisioning.models import StaffRole
from tests.factories import StaffMembershipFactory


def _logged_in(client, role: str):
    membership = StaffMembershipFactory(role=role)
    client.force_login(membership.user)
    client.partner = membership.partner
    client.user = membership.user
    return client


@pytest.fixture
def operator(client):
    return _logged_in(client, StaffRole.OPERATOR)


@pytest.fixture
def viewer(client):
    return _logged_in(client, StaffRole.VIEWER)


@pytest.fixture
def partner_admin(client):
    return _logged_in(client, StaffRole.ADMIN)
