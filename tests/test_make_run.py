"""`make run`'s recipe, driven by make itself with the Makefile of the repository: its
Python is a stand-in that records what it is asked to do (no install, no server), honcho
is the real one, running a Procfile whose processes report their environment."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HONCHO = Path(sys.executable).with_name("honcho")

pytestmark = pytest.mark.skipif(not (shutil.which("make") and HONCHO.exists()), reason="needs make and honcho")


@pytest.fixture
def sandbox(tmp_path):
    """A folder with the Makefile, a Procfile of stand-in processes and a bin/ with a stand-in python."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "Procfile").write_text(
        "web: echo WEB_PORT=$WEB_PORT STATIC_HASHED=$STATIC_HASHED >> env.txt; exec sleep 60\n"
        "worker: exec sleep 60\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text('#!/bin/sh\necho "$@" >> calls.txt\n')
    (bin_dir / "python").chmod(0o755)
    (bin_dir / "honcho").symlink_to(HONCHO)
    return tmp_path


def start_make(sandbox, *args):
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MAKEFLAGS", "MAKELEVEL")}
    environment["REDIS_URL"] = "redis://127.0.0.1:1/0"  # no embedded Redis to start
    return subprocess.Popen(
        ["make", "--no-print-directory", "run", "RUN_INSTALLED=", f"BIN={sandbox / 'bin'}", *args],
        cwd=sandbox, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )


def wait_for(path: Path, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.2)
    raise AssertionError(f"{path.name} never written")


def test_ctrl_c_stops_make_run_cleanly(sandbox):
    # Given make run serving
    process = start_make(sandbox, "WEB_PORT=8123")
    try:
        environment = wait_for(sandbox / "env.txt")
        # When Ctrl-C is pressed (the terminal sends SIGINT to the whole process group)
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    # then make ends without an error message, after honcho stopped the processes (make,
    # interrupted itself, ends by the same signal once its recipe is done, as any Ctrl-C'd
    # command does: the shell shows no error for that)
    assert "Error" not in output and "custseg stopped." in output, output
    assert process.returncode in (0, -signal.SIGINT), output
    # and the web process got the port asked for and hashed static files, collected first
    assert "WEB_PORT=8123 STATIC_HASHED=1" in environment
    calls = (sandbox / "calls.txt").read_text().splitlines()
    assert calls.index("manage.py collectstatic --noinput --verbosity 0") > calls.index("manage.py migrate --noinput")
