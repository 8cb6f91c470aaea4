"""Real uvicorn on a free loopback port, spoken to over raw sockets: what only a real server
shows (the body refused while it is read, framing errors, idle connections, and requests that
run side by side)."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.http.app import create_app
from app.http.limits import Limits
from app.http.server import ServerOptions
from app.service import Service
from tests.app.conftest import CORPUS
from tests.app.http.conftest import TEST_HOSTS, Tokens, bearer, running

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def base_url(service: Service, tokens: Tokens) -> Iterator[str]:
    app = create_app(service, allowed_hosts=TEST_HOSTS, limits=Limits(max_body_bytes=LIMIT))
    with running(app, ServerOptions(idle_timeout_s=1)) as url:
        yield url


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def exchange(url: str, head: str, body: Iterable[bytes] = ()) -> tuple[int, dict[str, str], Any]:
    with connect(url) as sock:
        sock.sendall(head.encode("latin-1"))
        for chunk in body:
            sock.sendall(chunk)
        status, headers, data = read_response(sock)
    return status, headers, json.loads(data) if data else None


def post_head(tokens: Tokens, extra: str) -> str:
    return (
        "POST /v1/dupes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {tokens.read}\r\nContent-Type: application/json\r\n{extra}\r\n"
    )


def test_a_huge_content_length_is_refused_before_the_body_is_sent(
    base_url: str, tokens: Tokens
) -> None:
    status, headers, body = exchange(base_url, post_head(tokens, "Content-Length: 500000000\r\n"))
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert body["code"] == "body_too_large"


@pytest.mark.parametrize("length", ["-1", "abc", "1, 2"])
def test_a_malformed_content_length_is_a_json_400(
    base_url: str, tokens: Tokens, length: str
) -> None:
    status, headers, body = exchange(
        base_url, post_head(tokens, f"Content-Length: {length}\r\n"), [b"{}"]
    )
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body["status"] == 400


def test_a_chunked_body_is_refused_once_it_passes_the_limit(base_url: str, tokens: Tokens) -> None:
    piece = b"x" * 16384
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    # A little over the limit, and no final chunk: the server must answer without the end.
    chunks = [chunk] * (LIMIT // len(piece) + 1)
    status, _, body = exchange(
        base_url, post_head(tokens, "Transfer-Encoding: chunked\r\n"), chunks
    )
    assert status == 413
    assert body["error"] == f"the body is over the limit of {LIMIT} bytes"


def test_a_chunked_body_within_the_limit_is_answered(base_url: str, tokens: Tokens) -> None:
    payload = json.dumps({"corpus": CORPUS, "questions": ["How do I reset my password?"]}).encode()
    chunks = [f"{len(payload):x}\r\n".encode() + payload + b"\r\n", b"0\r\n\r\n"]
    status, _, body = exchange(
        base_url, post_head(tokens, "Transfer-Encoding: chunked\r\n"), chunks
    )
    assert status == 200
    assert body["results"][0]["verdict"] == "duplicate"


def test_a_long_url_is_a_json_414(base_url: str) -> None:
    for size in (10_000, 100_000):
        head = f"GET /v1/health?{'a' * size} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        status, _, body = exchange(base_url, head)
        assert (status, body["code"]) == (414, "url_too_long")


def test_a_request_uvicorn_cannot_parse_is_a_json_400(base_url: str) -> None:
    status, headers, body = exchange(base_url, "NOT HTTP AT ALL\r\n\r\n")
    assert (status, headers["content-type"]) == (400, "application/json")
    assert body["error"].startswith("invalid HTTP request")


def test_a_wrong_host_is_refused_over_the_socket(base_url: str) -> None:
    status, _, body = exchange(base_url, "GET /v1/health HTTP/1.1\r\nHost: evil.example\r\n\r\n")
    assert (status, body["code"]) == (400, "bad_host")


def test_an_idle_connection_is_closed_by_the_server(base_url: str) -> None:
    with connect(base_url) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, _ = read_response(sock)
        assert status == 200
        # The connection is kept alive, then closed once idle: recv returns the end of the
        # stream (b"") when the server closes it; the socket's own timeout is far longer.
        assert sock.recv(1) == b""


def get_json(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=bearer(token))
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.load(response)


def test_a_slow_request_does_not_hold_up_a_search(
    base_url: str, service: Service, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    real_corpora = service.corpora

    def slow_corpora() -> Any:
        started.set()
        release.wait(timeout=120)
        return real_corpora()

    monkeypatch.setattr(service, "corpora", slow_corpora)
    slow: list[int] = []
    thread = threading.Thread(
        target=lambda: slow.append(get_json(f"{base_url}/v1/corpora", tokens.read)[0])
    )
    thread.start()
    try:
        assert started.wait(timeout=60)
        status, body = get_json(f"{base_url}/v1/search?corpus={CORPUS}&q=refund&k=1", tokens.read)
        assert status == 200
        assert body["hits"][0]["external_id"] == "s05"
        assert slow == []  # the slow one is still running: the search went past it
    finally:
        release.set()
        thread.join(timeout=60)
    assert slow == [200]
