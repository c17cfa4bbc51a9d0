"""The API as a client developer meets it: a client generated from /api/schema/ with
openapi-python-client, used alone against the live server with a `membership:read`
integration token (Bearer, the generator's default).

It finds the personas, pulls every member of each over several cursor pages (a publish
mid-pull must not disturb the cursor), the delta since the previous run, the membership as
of a moment and the CSV export, and gets a 400, 401, 403, 404 and 429 back as the schema's
typed ErrorResponse. Everything is compared with the database, read independently.
"""

import csv
import importlib
import importlib.util
import io
import json
import pkgutil
import subprocess
import sys
import urllib.request
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from integrations.services.tokens import token_create
from segments.models import Membership
from segments.personas.services import persona_create
from segments.services import run_publish
from tests.customers.factories import CustomerFactory
from tests.segments.factories import segmented_run

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PACKAGE = "custseg_client"
# Several pages per persona: 150 members in pages of 40.
PAGE_SIZE = 40
# openapi-python-client runs ruff on what it wrote by default; the test imports it as it is.
GENERATOR_CONFIG = "post_hooks: []\n"


def generate_client(*, base_url: str, key: str, directory):
    """What a client developer does: fetch the schema, generate, import."""
    request = urllib.request.Request(f"{base_url}/api/schema/?format=json", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        schema = json.load(response)
    (directory / "schema.json").write_text(json.dumps(schema))
    (directory / "config.yaml").write_text(GENERATOR_CONFIG)
    result = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "schema.json",
         "--output-path", PACKAGE, "--meta", "none", "--config", "config.yaml"],
        cwd=directory, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # the generator warns when it must leave out parts of the schema it cannot read
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]  # another test's client, generated from another schema
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(PACKAGE), schema
    finally:
        sys.path.remove(str(directory))


def operation(package, operation_id: str, item: str = "6: explicit operation ids"):
    """The generated module of one operation, by the operationId a client developer reads in
    the docs (openapi-python-client files it under its tag)."""
    api = importlib.import_module(f"{package.__name__}.api")
    for tag in pkgutil.iter_modules(api.__path__):
        module = f"{api.__name__}.{tag.name}.{operation_id}"
        if importlib.util.find_spec(module) is not None:
            return importlib.import_module(module)
    raise AssertionError(f"the schema has no operation {operation_id!r} (issue 15, item {item})")


def operation_at(package, schema: dict, method: str, path: str):
    """The generated module of the operation at `method path`, whatever its operationId
    (drf-spectacular's are snake_case, the generator's module names too)."""
    return operation(package, schema["paths"][path][method]["operationId"])


def error_model(package):
    models = importlib.import_module(f"{package.__name__}.models")
    model = getattr(models, "ErrorResponse", None)
    assert model is not None, "the schema has no ErrorResponse component (issue 15, item 1)"
    return model


def pull(list_members, *, client, persona_id: int, between_pages=None, **query) -> tuple[list, list]:
    """Every member by following the page's cursor alone (it carries the query), as a
    campaign tool does; returns the members and the pages."""

    def fetch_page(**params):
        response = list_members.sync_detailed(persona_id, client=client, **params)
        assert response.status_code == 200, response.content
        return response.parsed

    pages = [fetch_page(page_size=PAGE_SIZE, **query)]
    if between_pages:
        between_pages()
    while pages[-1].next_:
        cursor = getattr(pages[-1], "cursor", None)
        assert cursor, "a member page gives its cursor on its own, next to `next` (issue 15, item 3)"
        assert parse_qs(urlsplit(pages[-1].next_).query)["cursor"] == [cursor]  # `next` stays a full URL
        pages.append(fetch_page(cursor=cursor))
    return [member for page in pages for member in page.results], pages


def external_ids(segment) -> set[str]:
    return set(Membership.objects.filter(segment=segment).values_list("customer__external_id", flat=True))


@pytest.fixture
def runs(analyst, marketer):
    """Two personas on a published run A (150 customers each) and a run B whose publish
    moves 15 customers of each: both personas re-link (82 % shared), 15 join and 15 leave."""
    customers = CustomerFactory.create_batch(300)
    zscores = {0: {"monetary": 1.0}, 1: {"monetary": -1.0}}
    run_a = segmented_run(groups={0: customers[:150], 1: customers[150:]}, zscores=zscores, publish=True, by=analyst)
    big = persona_create(segment=run_a.segments.get(index=0), name="Big spenders", by=marketer)
    small = persona_create(segment=run_a.segments.get(index=1), name="Bargain hunters", by=marketer)
    run_b = segmented_run(groups={0: customers[15:165], 1: customers[:15] + customers[165:]}, zscores=zscores)
    return {"a": run_a, "b": run_b, "big": big, "small": small}


@pytest.fixture
def membership_key(analyst):
    _, key = token_create(user=analyst, name="campaign tool", scopes=["membership:read"])
    return key


@pytest.fixture
def redis_caches(settings, redis_url):
    """The throttle counts in the real Redis (a prefix of this test's own), as deployed."""
    cache = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url,
             "KEY_PREFIX": f"test-client-{uuid.uuid4().hex[:8]}"}
    settings.CACHES = {"default": cache, "strict": cache}


def test_a_generated_client_pulls_members_delta_as_of_and_csv(live_server, tmp_path, runs, membership_key, analyst):
    # given a client generated from the live schema and a membership:read token
    package, _ = generate_client(base_url=live_server.url, key=membership_key, directory=tmp_path)
    client = package.AuthenticatedClient(base_url=live_server.url, token=membership_key)
    list_personas = operation(package, "list_personas")
    list_members = operation(package, "list_persona_members")
    run_a, run_b = runs["a"], runs["b"]
    segment = {(run, index): run.segments.get(index=index) for run in (run_a, run_b) for index in (0, 1)}

    # when it looks up the personas it may pull
    try:
        listed = list_personas.sync_detailed(client=client)
    except KeyError as missing:
        pytest.fail(f"the generated client cannot read the persona list: the schema requires {missing}, which a "
                    "response never has (a write-only field in a response component)")
    # then the token finds them (ids and names), like a person on the page would
    assert listed.status_code == 200, listed.content  # issue 15, item 4
    by_name = {persona.name: persona.id for persona in listed.parsed.results}
    assert by_name == {"Big spenders": runs["big"].pk, "Bargain hunters": runs["small"].pk}

    # when it pulls the big spenders page by page, and run B is published after the first page
    before_publish = timezone.now()
    members, pages = pull(list_members, client=client, persona_id=by_name["Big spenders"], fields="external_id,segment",
                          between_pages=lambda: run_publish(run=run_b, by=analyst))
    # then every member of run A's segment came once, with the fields and in pages of the size asked first
    pulled = [member.external_id for member in members]
    assert len(pulled) == len(set(pulled)) == 150
    assert set(pulled) == external_ids(segment[run_a, 0])
    assert {member.segment for member in members} == {segment[run_a, 0].pk}  # item 3: fields kept
    assert len(pages) == 4 and all(len(page.results) == PAGE_SIZE for page in pages[:-1])  # item 3: page_size kept
    assert {page.run for page in pages} == {run_a.pk}

    # when it pulls both personas again, after the publish
    for name, index in (("Big spenders", 0), ("Bargain hunters", 1)):
        members, pages = pull(list_members, client=client, persona_id=by_name[name])
        pulled = [member.external_id for member in members]
        # then each gets run B's segment that continues it, every member once
        assert len(pulled) == len(set(pulled))
        assert set(pulled) == external_ids(segment[run_b, index]), name
        assert pages[0].run == run_b.pk and pages[0].run_published is True

    # when it asks who joined and who left the big spenders since run A
    members, pages = pull(list_members, client=client, persona_id=by_name["Big spenders"], changed_since=str(run_a.pk))
    changes = {member.external_id: getattr(member.change, "value", member.change) for member in members}
    # then exactly the difference of the two segments, each customer once
    now, then = external_ids(segment[run_b, 0]), external_ids(segment[run_a, 0])
    assert len(members) == len(changes) == 30
    assert {ext for ext, change in changes.items() if change == "joined"} == now - then
    assert {ext for ext, change in changes.items() if change == "left"} == then - now
    assert all(page.changed_since is not None for page in pages)  # item 3: the cursor kept changed_since

    # when it asks for the membership as it was before the publish
    members, _ = pull(list_members, client=client, persona_id=by_name["Big spenders"], as_of=before_publish)
    # then it gets run A's segment
    assert {member.external_id for member in members} == then

    # when it downloads the CSV through its own operation
    export_csv = operation(package, "export_persona_members_csv", item="2: the CSV is its own operation")
    try:
        response = export_csv.sync_detailed(by_name["Bargain hunters"], client=client)
    except TypeError as exc:
        pytest.fail(f"the generated CSV method cannot read the answer ({exc}): openapi-python-client reads text/* "
                    "as str, so the schema must declare text/csv as a plain string, not format: binary")
    # then the method returns the text of a CSV of every current member, one row each
    assert response.status_code == 200, response.content  # item 2
    assert response.headers["content-type"].startswith("text/csv")
    assert isinstance(response.parsed, str)
    rows = list(csv.DictReader(io.StringIO(response.parsed)))
    assert len(rows) == 150
    assert {row["external_id"] for row in rows} == external_ids(segment[run_b, 1])


def test_a_generated_client_parses_every_error_into_the_error_model(live_server, tmp_path, settings, redis_caches,
                                                                    runs, membership_key, analyst):
    # given a client generated from the live schema and a membership:read token
    package, schema = generate_client(base_url=live_server.url, key=membership_key, directory=tmp_path)
    client = package.AuthenticatedClient(base_url=live_server.url, token=membership_key)
    list_members = operation(package, "list_persona_members")
    error_response = error_model(package)
    persona_id = runs["big"].pk

    def assert_error(response, status: int, code: str | None = None):
        assert response.status_code == status, response.content
        assert isinstance(response.parsed, error_response), f"{status} not parsed into ErrorResponse: {response.content!r}"
        assert response.parsed.error.status == status
        if code is not None:
            assert response.parsed.error.code == code
        assert response.parsed.error.message
        return response.parsed.error

    # when a page size is out of range: 400 naming the field
    error = assert_error(list_members.sync_detailed(persona_id, client=client, page_size=0), 400, "invalid")
    assert "page_size" in error.to_dict()["fields"]

    # when the token is not one custseg issued: 401
    stranger = package.AuthenticatedClient(base_url=live_server.url, token="cs_" + "0" * 40)
    assert_error(list_members.sync_detailed(persona_id, client=stranger), 401)

    # when the token starts a run, which membership:read does not allow: 403
    create_run = operation_at(package, schema, "post", "/api/v1/runs/")
    assert_error(create_run.sync_detailed(client=client), 403, "permission_denied")

    # when the persona does not exist: 404
    assert_error(list_members.sync_detailed(persona_id + 1000, client=client), 404, "not_found")  # item 6's code

    # when a token goes past the rate (three a minute here): 429 with Retry-After
    settings.API_THROTTLE_RATE = "3/minute"
    _, key = token_create(user=analyst, name="busy tool", scopes=["membership:read"])
    busy = package.AuthenticatedClient(base_url=live_server.url, token=key)
    for _ in range(3):
        assert list_members.sync_detailed(persona_id, client=busy).status_code == 200
    response = list_members.sync_detailed(persona_id, client=busy)
    assert_error(response, 429, "throttled")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
