"""Start a real node process on a free loopback port, for tests about the server itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_node(
    workdir: Path, database_url: str | None = None, **settings: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield the node's base URL and the environment that points the CLI at its database."""
    port = free_port()
    env = {
        **os.environ,
        "ACCORD_DATABASE_URL": database_url or f"sqlite:///{workdir}/node.db",
        "ACCORD_HOST": "127.0.0.1",
        "ACCORD_PORT": str(port),
        **{f"ACCORD_{k.upper()}": v for k, v in settings.items()},
    }
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "accord", "serve"], cwd=workdir, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node did not start: {(workdir / 'server.log').read_text()}")
            time.sleep(0.1)
        yield url, env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
