"""Django's admin reads in plain English: every model's name and plural."""

import re

import pytest
from django.contrib import admin


def test_every_admin_model_has_a_proper_plural():
    # "deliverys", "featuress": Django adds an "s" unless told the plural
    wrong = {
        model._meta.label: str(model._meta.verbose_name_plural)
        for model in admin.site._registry
        if re.search(r"([^aeiou]ys|ss|sss)$", str(model._meta.verbose_name_plural))
        or str(model._meta.verbose_name_plural) == f"{model._meta.verbose_name}s"
        and re.search(r"([^aeiou]y|s|x|ch|sh)$", str(model._meta.verbose_name))
    }
    assert wrong == {}


@pytest.mark.django_db
def test_the_admin_index_names_the_integrations(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "Webhook deliveries" in html and "API tokens" in html
    assert "deliverys" not in html.lower() and "Api tokens" not in html
