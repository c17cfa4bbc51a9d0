"""The production settings pass Django's deployment checklist, warnings included."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "custseg_site.settings_production", **env}
    for name in ("DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):  # the environment of a deployment
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_passes_with_production_settings():
    result = run_manage(
        "check", "--deploy", "--fail-level", "WARNING",
        SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="custseg.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = run_manage("check", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_webhook_links_follow_the_port_make_run_serves_on():
    # Given make run on another port (WEB_PORT) and no SITE_URL, links point to that port
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--verbosity", "0", "-c",
         "from django.conf import settings; print(settings.SITE_URL)"],
        cwd=ROOT, env={**{k: v for k, v in os.environ.items() if k != "SITE_URL"}, "WEB_PORT": "8123"},
        capture_output=True, text=True, timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8123", result.stdout + result.stderr
