"""What the web log shows for a refused request."""

import io
import logging

import pytest
from django.conf import settings
from django.utils.log import configure_logging


@pytest.fixture
def web_log(settings):
    """The log as `make run` writes it (DEBUG on, settings.LOGGING over Django's defaults),
    every stream handler writing into one buffer; the test configuration restored after."""
    settings.DEBUG = True
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    buffer = io.StringIO()
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in logging.root.manager.loggerDict]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler:  # the console handlers, not a library's stderr one
                handler.setStream(buffer)
    yield buffer
    settings.DEBUG = False
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


@pytest.mark.django_db
def test_a_403_logs_one_line_without_a_traceback(client, nobody, web_log):
    # Given a signed-in user without the analyst's role
    client.force_login(nobody)
    # When they open the new-segmentation page
    response = client.get("/runs/new/")
    # then they are refused, and the log has one line saying so, no traceback
    assert response.status_code == 403
    lines = [line for line in web_log.getvalue().splitlines() if line.strip()]
    assert [line for line in lines if "Forbidden" in line and "/runs/new/" in line] == lines[-1:], lines
    assert "Traceback" not in web_log.getvalue()


def test_a_server_error_keeps_its_traceback():
    from custseg_site.log_filters import NoClientErrorTraceback

    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error: /", (),
                                   sys.exc_info())
    record.status_code = 500
    assert NoClientErrorTraceback().filter(record) and record.exc_info is not None
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["no_client_error_traceback"]
