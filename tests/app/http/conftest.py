"""The HTTP API over a private copy of the support corpus (one per test module, so that writes
stay in it), its tokens, a TestClient, and real uvicorn servers on free loopback ports."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.http.app import create_app
from app.http.server import ServerOptions, bind, make_server, url_of
from app.service import Service
from db.models import TokenScope
from db.tokens import create_token, revoke_token
from indexer.encoder import Encoder
from tests.app.conftest import UiCorpus

TEST_HOSTS = ("testserver", "localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Tokens:
    read: str
    write: str
    revoked: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def private_copy(corpus: UiCorpus, tmp_path_factory: pytest.TempPathFactory) -> UiCorpus:
    root = shutil.copytree(corpus.root, tmp_path_factory.mktemp("http-corpus") / "db")
    return UiCorpus(root, corpus.name)


def service_for(corpus: UiCorpus, encoder: Encoder) -> Service:
    """A service that shares the session's loaded model rather than loading it again."""
    service = Service(corpus.settings)
    service.searchers.adopt(encoder)
    return service


def make_tokens(service: Service) -> Tokens:
    with service.sessions.begin() as session:
        read = create_token(session, "reader", TokenScope.READ)
        write = create_token(session, "writer", TokenScope.WRITE)
        revoked = create_token(session, "gone", TokenScope.WRITE)
        revoke_token(session, "gone")
    return Tokens(read, write, revoked)


@pytest.fixture(scope="module")
def http_corpus(support_corpus: UiCorpus, tmp_path_factory: pytest.TempPathFactory) -> UiCorpus:
    return private_copy(support_corpus, tmp_path_factory)


@pytest.fixture(scope="module")
def service(http_corpus: UiCorpus, default_encoder: Encoder) -> Service:
    return service_for(http_corpus, default_encoder)


@pytest.fixture(scope="module")
def tokens(service: Service) -> Tokens:
    return make_tokens(service)


@pytest.fixture(scope="module")
def api(service: Service, tokens: Tokens) -> FastAPI:
    return create_app(service, allowed_hosts=TEST_HOSTS)


@pytest.fixture(scope="module")
def client(api: FastAPI) -> Iterator[TestClient]:
    with TestClient(api) as test_client:
        yield test_client


@contextmanager
def running(
    app: FastAPI, options: ServerOptions | None = None, host: str = "127.0.0.1"
) -> Iterator[str]:
    """Real uvicorn in a thread; the socket listens before the thread starts, so a client may
    connect at once (the connection waits in the backlog until the loop accepts it)."""
    sock = bind(host, 0)
    server = make_server(app, options)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
