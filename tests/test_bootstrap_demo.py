"""`make run`'s first start: demo users per role, demo data, and its features computed
before the worker (and the Redis it needs) has started."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from customers.models import FeatureSnapshot

pytestmark = pytest.mark.django_db


def test_a_first_start_has_demo_users_data_and_features_without_a_worker(capsys):
    # given an empty database and no worker running
    call_command("bootstrap_demo", customers=120)
    # then every role has its demo user
    users = {u.username: [g.name for g in u.groups.all()] for u in get_user_model().objects.all()}
    assert users == {"analyst": ["Analyst"], "marketer": ["Marketer"], "manager": ["Manager"]}
    # and the features page has a snapshot of every customer, not a job waiting for a worker
    snapshot = FeatureSnapshot.objects.get()
    assert snapshot.status == "succeeded" and snapshot.customers == 120
    assert "Features #" in capsys.readouterr().out
    # and a second start changes nothing
    call_command("bootstrap_demo", customers=120)
    assert FeatureSnapshot.objects.count() == 1
