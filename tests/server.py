"""Start a real node process on a free loopback port, for tests about the server itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_node(
    workdir: Path, database_url: str | None = None, **settings: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield the node's base URL and the environment that points the CLI at its database.

    A ``port`` setting picks the loopback port to listen on; a free one otherwise."""
    port = int(settings.pop("port", "0")) or free_port()
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
        deadline = time.monotonic() + 90  # a loaded machine starts slowly
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
            proc.wait()
        log.close()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` (built in the test, throwaway routes and all) with uvicorn on a thread
    of this process, on a free loopback port; yield its base URL. Logging is left as the
    test has it, so ``caplog`` sees every line the server writes."""
    port = free_port()
    # As ``accord serve`` runs it: no access log (a path may carry a secret).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 90  # a loaded machine starts slowly
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
