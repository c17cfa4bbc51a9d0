"""Production settings: everything from settings.py plus HTTPS and cookie hardening.

Use with DJANGO_SETTINGS_MODULE=custseg_site.settings_production behind a TLS-terminating
proxy that sets X-Forwarded-Proto. `manage.py check --deploy --fail-level WARNING` passes
with these settings (tests/test_deploy.py runs it).

The environment variables of settings.py apply (its docstring lists them), with these
differences and additions:

SECRET_KEY            required: 50 or more random characters, or the settings refuse to load
DEBUG                 ignored: always off
WEBHOOK_ALLOW_PRIVATE_ADDRESSES  off; "1" lets webhooks go to loopback, private and
                      link-local addresses (receivers on the internal network)
SECURE_SSL_REDIRECT   on; "0" leaves HTTP requests unredirected (when the proxy redirects)
SECURE_HSTS_SECONDS   31536000 (a year); how long browsers keep to HTTPS (HSTS max-age)
"""

import os

from django.core.exceptions import ImproperlyConfigured

from custseg_site.settings import *  # noqa: F403 - this module extends the base settings
from custseg_site.settings import INSECURE_SECRET_KEY, SECRET_KEY, env_bool

if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("Production needs SECRET_KEY: 50 or more random characters.")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# receivers on the internal network only when said so (see settings.py)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)

# Hashed, compressed file names (run `manage.py collectstatic` at deploy), served by WhiteNoise.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
