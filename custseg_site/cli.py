"""Shared pieces of the management commands that start a background job and wait for it."""

import sys
import time

from django.core.management.base import CommandError

POLL_SECONDS = 0.5
# A job still pending after this long has probably no worker to run it: say so.
NO_WORKER_HINT_SECONDS = 15


def follow_job(row, *, label: str, stderr, timeout: float, finished: tuple, pending: str = "pending"):
    """Poll a job row (a run, an import) until it finishes, writing progress to stderr.

    Ctrl-C stops waiting (exit 130); the job goes on in the background.
    """
    started, last, hinted = time.monotonic(), None, False
    try:
        while True:
            row.refresh_from_db()
            shown = (row.status, row.progress, row.stage)
            if shown != last:
                stderr.write(f"[{row.progress:3d}%] {row.status}: {row.stage}")
                last = shown
            if row.status in finished:
                return row
            waited = time.monotonic() - started
            if row.status == pending and waited > NO_WORKER_HINT_SECONDS and not hinted:
                stderr.write("Still waiting for a worker: is `celery -A custseg_site worker` running?")
                hinted = True
            if waited > timeout:
                raise CommandError(
                    f"{label} is still {row.status} after {timeout:.0f} s; it goes on in the background."
                )
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        stderr.write(f"Stopped waiting. {label} goes on in the background.")
        sys.exit(130)
