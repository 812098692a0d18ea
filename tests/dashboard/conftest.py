from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission


@pytest.fixture
def viewer(django_user_model):
    """A user who may read sends and errors, and nothing else."""
    user = django_user_model.objects.create_user("viewer", password="a-long-test-password")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_send", "view_errorevent", "view_provider"])
    )
    return user
