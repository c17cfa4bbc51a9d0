"""Finding a customer by id from the header's search box."""

import pytest

from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_search_matches_ids_from_their_start_in_either_case(client, manager):
    # Given customers whose ids differ in case, and one that only contains the query
    for external_id in ("AB-100", "ab-200", "XAB-300"):
        CustomerFactory(external_id=external_id)
    client.force_login(manager)

    # When a manager types the start of an id in lower case, then in upper case
    for query in ("ab-", "AB-"):
        html = client.get("/customers/", {"q": query}).content.decode()
        # then both ids starting with it are listed, whatever their case, and not the other
        assert ">AB-100</a>" in html and ">ab-200</a>" in html, query
        assert "XAB-300" not in html


def test_the_hint_says_what_the_search_does(client, manager):
    CustomerFactory(external_id="C-1")
    client.force_login(manager)
    # When nothing matches, the hint under the answer tells how ids are matched
    html = client.get("/customers/", {"q": "zz"}).content.decode()
    assert "No customer has an id starting with" in html
    assert "case-sensitive" not in html and "upper and lower case count as the same" in html
    # and it is true: the same id in the other case is found
    assert ">C-1</a>" in client.get("/customers/", {"q": "c-"}).content.decode()
