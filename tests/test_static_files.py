"""Static files as `make run` and production serve them (collectstatic, STATIC_HASHED):
hashed names, gzip copies, a long cache lifetime; Plotly's bundle arrives at a third of its size."""

import gzip
import re
from pathlib import Path

import plotly
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client

PLOTLY = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
YEAR = 365 * 24 * 3600


def test_plotly_is_sent_compressed_with_a_long_cache_lifetime(settings, tmp_path):
    # Given the static files collected as make run collects them, with DEBUG on as make run has it
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "custseg_site.storage.HashedStaticFilesStorage"}}
    call_command("collectstatic", "--noinput", "--verbosity", "0")
    settings.DEBUG = True
    url = static("vendor/plotly/plotly.min.js")
    assert re.search(r"plotly\.min\.[0-9a-f]{12}\.js$", url), url  # the content's hash in the name

    # When a browser that accepts gzip asks for Plotly's bundle
    response = Client().get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    body = b"".join(response.streaming_content)

    # then it gets the same bytes, gzipped to under a third, to keep for a year or more
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    original = PLOTLY.read_bytes()
    assert gzip.decompress(body) == original
    assert len(body) < len(original) / 3, (len(body), len(original))
    cache = response["Cache-Control"]
    assert "immutable" in cache and int(re.search(r"max-age=(\d+)", cache).group(1)) >= YEAR, cache


def test_without_collected_files_pages_use_plain_names(settings):
    # tests and a bare runserver: no collectstatic needed, files come from the app folders
    assert settings.STORAGES["staticfiles"]["BACKEND"].endswith("StaticFilesStorage")
    assert static("css/app.css") == "/static/css/app.css"
