"""Shared by the webhook tests (the page, the service, the API, the worker): a real HTTP
server on localhost that answers with chosen status codes, eager Celery, and two runs whose
publish changes a persona's members. Import the fixtures by name where they are used."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

import integrations.tasks  # noqa: F401  (registers the tasks eager_celery runs by name)
from custseg_site.celery import app as celery_app
from integrations.services.webhooks import DELIVER_TASK, PUBLISH_TASK
from segments.personas.services import persona_create
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run


def receiver_webhook(secret: str) -> Webhook:
    """What a receiver builds from the secret it was given: a Standard Webhooks secret as it
    is, a secret from before those (hex, no "whsec_") as its raw bytes, as the README says."""
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


def signed_with(secret: str, request: dict) -> bool:
    """What a receiver checks: the standardwebhooks library verifies the request's body and headers."""
    try:
        receiver_webhook(secret).verify(request["body"], request["headers"])
    except WebhookVerificationError:
        return False
    return True


class Receiver:
    """A local HTTP server that answers with the given status codes in turn (the last one
    repeats) and keeps every request it got. A code may be (code, {header: value}) to send
    headers with it; `delay` seconds pass before each answer."""

    def __init__(self, codes, *, delay: float = 0):
        self.codes, self.requests = list(codes), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                answer = receiver.codes.pop(0) if len(receiver.codes) > 1 else receiver.codes[0]
                code, headers = answer if isinstance(answer, tuple) else (answer, {})
                time.sleep(delay)
                try:
                    self.send_response(code)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/custseg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def eager_celery(redis_url, monkeypatch):
    """Jobs run in the test's thread, retries at once (eager mode ignores countdowns).
    Celery takes a broker connection even to run a task eagerly and keeps its pool: the
    broker is the tests' Redis (redis_url) first, or later tests' workers would never get
    the messages sent through that pool. The webhook services send their tasks by name, and
    send_task ignores eager mode (it always goes to the broker): those two names run their
    task here the way .delay() does in eager mode; any other name is sent as it would be."""
    send_task = celery_app.send_task

    def send_or_run(name, args=None, kwargs=None, **options):
        if name in (PUBLISH_TASK, DELIVER_TASK):
            return celery_app.tasks[name].apply_async(args, kwargs, **options)
        return send_task(name, args, kwargs, **options)

    celery_app.conf.task_always_eager = True
    monkeypatch.setattr(celery_app, "send_task", send_or_run)
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def two_runs(analyst, marketer):
    customers = CustomerFactory.create_batch(20)
    run_a = segmented_run(groups={0: customers[:10], 1: customers[10:]}, zscores={0: {"monetary": 1.0}, 1: {"monetary": -1.0}},
                          publish=True, by=analyst)
    persona = persona_create(segment=run_a.segments.get(index=0), name="Big spenders", by=marketer)
    # run B: segment 0 continues the persona's (customers 2-11): 2 left, 2 joined
    run_b = segmented_run(groups={0: customers[2:12], 1: customers[:2] + customers[12:]},
                          zscores={0: {"monetary": 1.0}, 1: {"monetary": -1.0}})
    return {"a": run_a, "b": run_b, "persona": persona}
