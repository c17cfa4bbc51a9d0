"""Filters for the log handlers in settings.LOGGING."""

import logging


class NoClientErrorTraceback(logging.Filter):
    """A request refused for the client's reason (403 without the role, 404, 400) logs its one
    line ("Forbidden (Permission denied): /runs/new/") without the traceback of the exception
    Django raised to refuse it: nothing went wrong in the code. Server errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
