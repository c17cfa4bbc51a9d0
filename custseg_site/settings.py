"""Settings for custseg, configured from the environment. Every variable it reads, its
default, and what it sets:

DATABASE_URL          sqlite:///<repo>/db.sqlite3 (the embedded default); any dj-database-url
                      URL, PostgreSQL in production
REDIS_URL             redis://127.0.0.1:6379/0 (`make run` starts a bundled Redis and sets it);
                      the Celery broker, the cache (CACHES) and job locks
SECRET_KEY            a fixed development key; the production settings require a real one
DEBUG                 off; "1"/"true"/"yes"/"on" turns on debug pages
ALLOWED_HOSTS         localhost (plus 127.0.0.1 and [::1] when DEBUG is on); comma-separated
CSRF_TRUSTED_ORIGINS  none; comma-separated origins (https://...), behind a proxy
MEDIA_ROOT            <repo>/var/media; where uploaded import files and fitted models are kept
IMPORT_MAX_MB         2048; the largest import file, checked before parsing
API_THROTTLE_RATE     1200/minute; API requests per token, DRF's "<n>/<second|minute|hour|day>"
SITE_URL              http://127.0.0.1:<WEB_PORT>; where the site is reachable, for links in webhooks
WEB_PORT              8000; the port `make run` serves on (Procfile), and SITE_URL's default port
STATIC_HASHED         off; "1" (set by `make run`, after collectstatic) serves static files with
                      hashed names, gzip copies and a long cache lifetime
WEBHOOK_RETRY_BASE_SECONDS       30; the first webhook retry's delay, doubled each time
WEBHOOK_ALLOW_PRIVATE_ADDRESSES  on (off in the production settings); webhooks to loopback,
                      private and link-local addresses
LOG_LEVEL             INFO; the root logger's level

Production deployments use custseg_site.settings_production, which adds the HTTPS
and cookie hardening that `manage.py check --deploy` asks for (and reads two more).
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or default


DEBUG = env_bool("DEBUG")

INSECURE_SECRET_KEY = "insecure-development-key-do-not-use-in-production"
# The production settings refuse to start without a real key; locally a fixed one is fine.
SECRET_KEY = os.environ.get("SECRET_KEY") or INSECURE_SECRET_KEY

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else ["localhost"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served locally
    "simple_history",  # who changed a persona, and when (segments.Persona.history)
    "customers",
    "segments",
    "campaigns",
    "integrations",  # API tokens and webhooks
    # Last, so its post_migrate (which fills the role groups) runs after every other
    # app's permissions exist.
    "custseg_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # dates on pages in the reader's time zone (custseg_site.dates)
    "custseg_site.dates.BrowserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # records request.user as the author of model history rows written during a request
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "custseg_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "custseg_site.wsgi.application"
ASGI_APPLICATION = "custseg_site.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker write the same file: WAL lets readers go on
    # while a run writes its memberships, IMMEDIATE takes the write lock up front so a
    # transaction never fails half-way on an upgrade, and 30 s covers the longest write.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Tests run a Celery worker and a live server in threads beside the test: a file
    # (not the default shared-cache memory database) gives them WAL and busy timeouts.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"  # pages use the reader's zone when the browser told it (custseg_site.dates)
# One date format everywhere, Django's raw {{ date }} included: "2 Dec 2026", "2 Dec 2026 13:20".
FORMAT_MODULE_PATH = ["custseg_site.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Plotly's own bundle ships inside the plotly wheel: serve that copy, no CDN and
    # no second copy to keep in step with the Python package.
    ("vendor/plotly", Path(__import__("plotly").__file__).parent / "package_data"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# `make run` collects the static files first (manage.py collectstatic) and sets STATIC_HASHED=1:
# names with a hash of the content, which WhiteNoise sends as immutable with a 10-year cache
# lifetime (a changed file gets a new name), and gzip copies it sends to browsers that accept
# them (Plotly's 4.6 MB bundle arrives as 1.4 MB). Without it (tests, a bare runserver) the
# files are served as they are from the app folders: a changed stylesheet needs no collectstatic.
if env_bool("STATIC_HASHED"):
    STORAGES["staticfiles"] = {"BACKEND": "custseg_site.storage.HashedStaticFilesStorage"}

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # job state lives on the job's row, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long jobs: never hold a second one hostage
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 60
CELERY_TASK_TIME_LIMIT = 60 * 60 + 120
# A late-acked job is redelivered only after the visibility timeout: keep it above the
# hard time limit, or Redis hands a long job to a second worker while the first runs.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_TASK_ALWAYS_EAGER = False

# django-redis keeps one redis-py client per connection pool (Django's own backend builds one
# per call, and redis-py's constructor was a third of an API request's fixed cost). Values are
# pickled and not compressed, as with Django's backend, so its entries read the same.
# Both aliases are one Redis, one key space and (django-redis keys its pools by URL) one
# connection pool: keep their connection options the same.
_REDIS_CACHE = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}
CACHES = {
    # Where a miss only costs time, Redis being unreachable is a miss (logged), not an error:
    # aggregates are computed again (custseg_site.aggregate_cache), a token's authentication
    # is read from the database again (integrations.services.tokens.token_for_key), and the API
    # throttle lets requests through uncounted until Redis is back (it stops runaway loops;
    # refusing every API request instead would be the greater harm).
    "default": {**_REDIS_CACHE, "OPTIONS": {"IGNORE_EXCEPTIONS": True}},
    # Where a write that is lost would be wrong, redis-py's errors are raised: forgetting a
    # token's cached authentication (tokens.tokens_forget: otherwise a revoked token, or a
    # user's removed role, would go on working from the cache for up to TOKEN_CACHE_SECONDS),
    # and the once-only check of the forms whose answer shows a key (integrations.first_sending
    # must tell "seen before" from "cannot tell").
    "strict": _REDIS_CACHE,
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # integration tokens with scopes (cs_...) first: the users' token class would reject their keys.
        # Both read `Bearer <key>` and `Token <key>`.
        "integrations.authentication.ScopedTokenAuthentication",
        "integrations.authentication.UserTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "custseg_site.api.CursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "custseg_site.schema.AutoSchema",
    "EXCEPTION_HANDLER": "custseg_site.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["integrations.throttling.TokenRateThrottle"],
}
# Requests per token (API_THROTTLE_RATE, DRF's "<n>/<second|minute|hour|day>"). 1,200 a
# minute: a full pull of a million members at page_size 10,000 is 100 requests, and a
# CRM looking customers up one by one gets 20 a second; a runaway loop is stopped.
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE") or "1200/minute"
# Where this site is reachable, for links in webhook payloads (no request to read it from);
# by default where `make run` serves it, on WEB_PORT.
SITE_URL = (os.environ.get("SITE_URL") or f"http://127.0.0.1:{os.environ.get('WEB_PORT') or 8000}").rstrip("/")
# Webhook deliveries: attempts before a delivery is marked failed, and the first retry's
# delay, doubled each time (30 s, 1, 2, 4 min: a receiver restarting or briefly down
# is reached within 8 minutes; one that is down for longer needs a person anyway).
WEBHOOK_MAX_ATTEMPTS = 5
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("WEBHOOK_RETRY_BASE_SECONDS") or 30)
# A receiver gets this long to answer (seconds): a worker is never held for minutes.
WEBHOOK_TIMEOUT_SECONDS = 10
# Whether webhooks may go to loopback, private, link-local or other non-public addresses.
# Allowed here (a receiver on the same machine while trying the app, the tests' local
# receivers); settings_production refuses them unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES=1, so
# that registering a webhook and pinging it cannot probe the server's internal network.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)
SPECTACULAR_SETTINGS = {
    "TITLE": "custseg API",
    "DESCRIPTION": "Customer segmentation runs, segments and their members.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # the documentation's sections, in the order of the work: data in, segments, then their use
    "TAGS": [
        {"name": "imports", "description": "Customers and transactions files, and saved column mappings."},
        {"name": "customers", "description": "One customer: record, features, segment and personas."},
        {"name": "features", "description": "The features a run can use, and computing them."},
        {"name": "runs", "description": "Segmentation runs: start, follow, compare, publish; assign new customers."},
        {"name": "segments", "description": "A run's segments and their members."},
        {"name": "personas", "description": "Named segments of the published run and their members."},
        {"name": "campaigns", "description": "Campaigns on personas and segments: audience, outcomes, lift."},
        {"name": "webhooks", "description": "Signed notices when a persona's members change."},
    ],
    # Request bodies get components of their own (PersonaRequest, ...): a write-only field
    # (a persona's `segment`) is then not a required field of the response a client parses.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        # runs and imports share one set of job statuses
        "JobStatusEnum": "custseg_site.jobs.models.JobStatus",
        "ImportKindEnum": "customers.models.ImportJob.Kind",
        # personas' channels and a campaign's channel are one set of choices
        "ChannelEnum": "campaigns.models.Campaign.Channel",
        # a persona's status, in the whole record and in the list's summary
        "PersonaStatusEnum": "segments.models.Persona.Status",
    },
}

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "var" / "media")
# Largest file an import accepts, checked before parsing (IMPORT_MAX_MB, default 2 GB).
IMPORT_MAX_BYTES = int(float(os.environ.get("IMPORT_MAX_MB", 2048)) * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024  # form fields; files stream to disk

# Size of the customer sample that silhouette (O(n^2)) and the 2-D scatter use.
SEGMENTS_SILHOUETTE_SAMPLE = 10_000
SEGMENTS_SCATTER_SAMPLE = 5_000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"no_client_error_traceback": {"()": "custseg_site.log_filters.NoClientErrorTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                             "filters": ["no_client_error_traceback"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's default logging gives "django" a console handler of its own when DEBUG is on,
        # and its records reach the root's too: each was printed twice (a 403 with its traceback
        # twice). Its records go to the root's handler only. (runserver's access log,
        # "django.server", keeps Django's own handler.)
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
