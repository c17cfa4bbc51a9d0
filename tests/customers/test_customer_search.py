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


def test_the_search_is_served_by_an_index_on_postgresql():
    # at 1M customers a search that reads the whole table takes a noticeable moment per
    # keystroke; the planner, told to avoid whole-table reads, must find an index it can use
    from django.db import connection, transaction

    from customers.selectors import customer_search

    if connection.vendor != "postgresql":
        pytest.skip("SQLite's LIKE ignores case already and its own index serves the prefix")
    CustomerFactory.create_batch(5)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = customer_search(query="ab-").explain()
    assert "customer_external_id_upper_idx" in plan, plan
