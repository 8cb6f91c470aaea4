"""Client mode: with QCLUST_SERVER set, `remote_search` and `remote_check` ask a real server and
return what the service itself returns; the server's errors become `QclustError`s."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

import app.cli  # noqa: F401  (registers every command on the Typer app)
from app.cli_common import app as cli
from app.http.app import create_app
from app.remote import remote_check, remote_search, server_url
from app.service import Service
from db.errors import QclustError
from indexer.errors import NotEncodedError
from tests.app.conftest import CORPUS
from tests.app.http.conftest import TEST_HOSTS, Tokens, free_port, running
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def server(service: Service, tokens: Tokens) -> Iterator[str]:
    with running(create_app(service, allowed_hosts=TEST_HOSTS)) as url:
        yield url


@pytest.fixture
def remote(server: str, tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("QCLUST_SERVER", server + "/")
    monkeypatch.setenv("QCLUST_TOKEN", tokens.read)
    return server


def test_the_server_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QCLUST_SERVER", raising=False)
    assert server_url() is None
    monkeypatch.setenv("QCLUST_SERVER", " http://127.0.0.1:8600/ ")
    assert server_url() == "http://127.0.0.1:8600"


def test_remote_search_returns_what_the_service_returns(remote: str, service: Service) -> None:
    assert remote_search(CORPUS, "refund my last payment", 3) == service.search(
        CORPUS, "refund my last payment", 3
    )


@pytest.mark.parametrize("threshold", [None, 0.9])
def test_remote_check_returns_what_the_service_returns(
    remote: str, service: Service, threshold: float | None
) -> None:
    questions = ["How do I reset my password?", "What is the capital of Mongolia?"]
    got = remote_check(CORPUS, questions, k=3, threshold=threshold)
    assert got == service.check(CORPUS, questions, k=3, threshold=threshold)
    assert got[0].best is not None


def test_a_server_error_keeps_the_servers_message(remote: str) -> None:
    with pytest.raises(QclustError, match="corpus 'nope' does not exist"):
        remote_search("nope", "hello", 3)
    with pytest.raises(QclustError, match="the limit is 2,000"):
        remote_check(CORPUS, ["why " * 600], k=3, threshold=None)


def test_no_token_says_how_to_get_one(remote: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QCLUST_TOKEN")
    with pytest.raises(QclustError, match="needs a token.*QCLUST_TOKEN"):
        remote_search(CORPUS, "hello", 3)


def test_not_encoded_stays_not_encoded(
    remote: str, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    def pending(*args: object, **kwargs: object) -> None:
        raise NotEncodedError("3 questions of corpus 'support' are not encoded yet")

    monkeypatch.setattr(service, "check", pending)
    with pytest.raises(NotEncodedError, match="not encoded yet"):
        remote_check(CORPUS, ["hello"], k=3, threshold=None)


def test_an_unreachable_server_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("QCLUST_SERVER", url)
    with pytest.raises(QclustError, match=f"cannot reach the qclust server at {url}: "):
        remote_search(CORPUS, "hello", 3)


def test_a_url_that_is_not_http_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCLUST_SERVER", "ftp://example")
    with pytest.raises(QclustError, match="must be an http"):
        remote_search(CORPUS, "hello", 3)


def test_the_cli_asks_the_server(remote: str) -> None:
    result = CliRunner().invoke(cli, ["search", "refund my last payment", "-c", CORPUS, "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "Can I get a refund for my last payment?" in result.stdout
    assert f"qclust server at {remote}" in result.stderr  # whose answer it is


def test_importing_the_client_loads_nothing_heavy() -> None:
    heavy = ["torch", "faiss", "sentence_transformers", "fastapi", "pandas", "transformers"]
    code = f"import sys, app.remote; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
