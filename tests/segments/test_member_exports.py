"""Email and name in member exports: the segment page's CSV adds them on request, for roles
that may see customers' personal data (custseg_site.roles.may_see_personal_data), and the
membership API applies the same rule."""

import csv
import io

import pytest
from django.urls import reverse

from segments.models import Membership
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run():
    customers = [CustomerFactory(email=f"shopper{n}@example.com", name=f"Shopper {n}") for n in range(12)]
    customers[0].name = "=cmd|' /C calc'!A0"  # a formula, as a name someone typed into a shop
    customers[0].save()
    return segmented_run(groups={0: customers[:8], 1: customers[8:]}, publish=True)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_segment_export_adds_email_and_name_when_asked(client, manager, run):
    segment = run.segments.get(index=0)
    client.force_login(manager)
    # given the segment page: it offers the two columns
    page = client.get(reverse("segments:segment-detail", args=[segment.pk])).content.decode()
    assert 'name="fields" value="email"' in page and 'name="fields" value="name"' in page
    # when the checkboxes are ticked
    url = reverse("segments:segment-export", args=[segment.pk])
    rows = csv_rows(client.get(url, {"fields": ["email", "name"]}))
    # then the file has the id, then email and name (machine names), for every member
    assert rows[0][:4] == ["external_id", "email", "name", "segment"]
    expected = {external_id: [email, name if not name.startswith("=") else "'" + name]
                for external_id, email, name in Membership.objects.filter(segment=segment)
                .values_list("customer__external_id", "customer__email", "customer__name")}
    assert {row[0]: row[1:3] for row in rows[1:]} == expected and len(expected) == 8
    # and without a choice, the export has neither
    default = csv_rows(client.get(url))
    assert "email" not in default[0] and "name" not in default[0] and len(default) == 9
    assert not any("@example.com" in cell for row in default for cell in row)


def test_segment_export_refuses_an_unknown_column_with_a_message(client, manager, run):
    client.force_login(manager)
    response = client.get(reverse("segments:segment-export", args=[run.segments.first().pk]), {"fields": "phone"})
    assert response.status_code == 400
    assert "cannot add phone" in response.content.decode()


def test_a_role_without_personal_data_gets_no_choice_and_cannot_forge_one(client, api_client, reader, run):
    segment = run.segments.get(index=0)
    client.force_login(reader)
    # the page offers the plain export only
    page = client.get(reverse("segments:segment-detail", args=[segment.pk])).content.decode()
    assert 'value="email"' not in page and "Download all 8 as CSV" in page
    url = reverse("segments:segment-export", args=[segment.pk])
    assert client.get(url).status_code == 200
    # typing the choice into the address is refused, with no customer data in the answer
    for fields in ("email", "name", "external_id,email"):
        response = client.get(url, {"fields": fields})
        assert response.status_code == 403 and b"@example.com" not in response.content
        assert "email addresses and names" in response.content.decode()
    # and the API applies the same rule
    api = api_client(reader)
    members = f"/api/v1/segments/{segment.pk}/members/"
    assert api.get(members, {"fields": "external_id,gender"}).status_code == 200
    for fields in ("email", "name"):
        response = api.get(members, {"fields": fields})
        assert response.status_code == 403 and b"@example.com" not in response.content
        assert api.get(members + "csv/", {"fields": fields}).status_code == 403


def test_roles_that_read_customers_still_get_email_from_the_api(api_client, manager, run):
    segment = run.segments.get(index=0)
    body = api_client(manager).get(f"/api/v1/segments/{segment.pk}/members/", {"fields": "external_id,email"}).json()
    assert len(body["results"]) == 8 and all(r["email"].endswith("@example.com") for r in body["results"])
