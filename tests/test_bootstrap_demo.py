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
    assert users == {"analyst": ["Analyst"], "marketer": ["Marketer"], "manager": ["Manager"], "admin": []}
    # and the features page has a snapshot of every customer, not a job waiting for a worker
    snapshot = FeatureSnapshot.objects.get()
    assert snapshot.status == "succeeded" and snapshot.customers == 120
    assert "Features #" in capsys.readouterr().out
    # and a second start changes nothing
    call_command("bootstrap_demo", customers=120)
    assert FeatureSnapshot.objects.count() == 1


def test_the_demo_admin_can_open_the_admin(client):
    # Given make run's first start
    call_command("bootstrap_demo", customers=20)
    # When the demo administrator signs in with the demo password
    assert client.login(username="admin", password="custseg-demo")
    # then Django's admin opens, with the users and their roles
    response = client.get("/admin/")
    assert response.status_code == 200 and "/admin/auth/user/" in response.content.decode()
    # and the role users stay out of it
    client.logout()
    assert client.login(username="analyst", password="custseg-demo")
    assert client.get("/admin/").status_code == 302
