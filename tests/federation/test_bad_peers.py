"""Peers that misbehave: skewed clocks, garbage, wrong media types, silence, huge bodies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accord.errors import InvalidInput, PeerUnavailable, SignatureRejected
from accord.federation.sync import peer_http, sync_peer
from accord.node import Node
from accord.settings import Settings
from accord.store.objects import SQLObjectStore
from tests.conftest import Clock, migrated_sqlite


class Broken(BaseHTTPRequestHandler):
    """Answers every request the way ``mode`` says a broken peer would."""

    mode = "garbage"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._answer()

    def _answer(self) -> None:
        body, media = {
            "garbage": (b"\x00\xffnot json", "application/taxii+json;version=2.1"),
            "html": (b"<html>hello</html>", "text/html"),
            "huge": (b"{" + b" " * 200_000 + b"}", "application/taxii+json;version=2.1"),
            "error": (b'{"title": "nope"}', "application/taxii+json;version=2.1"),
        }[self.mode]
        self.send_response(500 if self.mode == "error" else 200 if self.command == "GET" else 202)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_peer() -> Iterator[tuple[str, type[Broken]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Broken
    server.shutdown()
    server.server_close()


def _pair(tmp_path: object, clock: Clock) -> tuple[Node, Node]:
    a = Node.open(
        Settings(database_url=migrated_sqlite(tmp_path, "a.db"), node_name="a", _env_file=None),
        clock=clock,
    )  # type: ignore[call-arg]
    b = Node.open(
        Settings(database_url=migrated_sqlite(tmp_path, "b.db"), node_name="b", _env_file=None),
        clock=clock,
    )  # type: ignore[call-arg]
    a.federation.add_peer("b", "http://127.0.0.1:1", b.key.public_b64, "accord_unused")
    b.federation.add_peer("a", "http://127.0.0.1:1", a.key.public_b64, "accord_unused")
    return a, b


def test_clock_skew_is_refused_with_advice(tmp_path: object, clock: Clock) -> None:
    a, b = _pair(tmp_path, clock)
    hello = a.federation.hello(a.federation.peer("b"))
    clock.advance(minutes=10)
    with pytest.raises(InvalidInput, match="check both clocks"):
        b.federation.receive(b.federation.peer("a"), hello.body, hello.signature, pulled=False)


def test_message_for_another_node_is_refused(tmp_path: object, clock: Clock) -> None:
    a, b = _pair(tmp_path, clock)
    c = Node.open(
        Settings(database_url=migrated_sqlite(tmp_path, "c.db"), node_name="c", _env_file=None),
        clock=clock,
    )  # type: ignore[call-arg]
    c.federation.add_peer("a", "http://127.0.0.1:1", a.key.public_b64, None)
    a.federation.add_peer("c", "http://127.0.0.1:1", c.key.public_b64, None)
    meant_for_c = a.federation.hello(a.federation.peer("c"))
    with pytest.raises(SignatureRejected, match="addressed to another node"):
        b.federation.receive(
            b.federation.peer("a"), meant_for_c.body, meant_for_c.signature, pulled=False
        )


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("garbage", "signature"),
        ("html", "media type"),
        ("huge", "more than"),
        ("error", "answered 500"),
    ],
)
def test_broken_peer_answers_are_clear_errors(
    tmp_path: object, clock: Clock, broken_peer: tuple[str, type[Broken]], mode: str, says: str
) -> None:
    url, handler = broken_peer
    handler.mode = mode
    a = Node.open(
        Settings(database_url=migrated_sqlite(tmp_path, "a.db"), _env_file=None), clock=clock
    )  # type: ignore[call-arg]
    other = Node.open(
        Settings(database_url=migrated_sqlite(tmp_path, "o.db"), _env_file=None), clock=clock
    )  # type: ignore[call-arg]
    a.federation.add_peer("broken", url, other.key.public_b64, "accord_token")
    before = SQLObjectStore(a.engine).count_versions()
    with pytest.raises((PeerUnavailable, InvalidInput, SignatureRejected)) as caught:
        with peer_http(5) as http:
            sync_peer(a.federation, "broken", http, page=10, max_bytes=100_000)
    assert says in caught.value.detail
    assert SQLObjectStore(a.engine).count_versions() == before
    assert a.federation.peer("broken").last_error


def test_peer_that_never_answers_times_out(tmp_path: object, clock: Clock) -> None:
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    try:
        a = Node.open(
            Settings(database_url=migrated_sqlite(tmp_path, "a.db"), _env_file=None), clock=clock
        )  # type: ignore[call-arg]
        other = Node.open(
            Settings(database_url=migrated_sqlite(tmp_path, "o.db"), _env_file=None), clock=clock
        )  # type: ignore[call-arg]
        a.federation.add_peer(
            "silent",
            f"http://127.0.0.1:{silent.getsockname()[1]}",
            other.key.public_b64,
            "accord_t",
        )
        with pytest.raises(PeerUnavailable, match="unreachable"):
            with peer_http(0.5) as http:
                sync_peer(a.federation, "silent", http, page=10, max_bytes=100_000)
    finally:
        silent.close()


def test_skew_window_is_a_setting() -> None:
    assert Settings(_env_file=None).federation_max_skew == timedelta(minutes=5).total_seconds()  # type: ignore[call-arg]
