"""Strict types, bounds and JSON errors for every status, through the app (TestClient); the
socket-level limits (body while reading, idle connections) are in test_uvicorn.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from app.http.app import create_app
from app.http.limits import Limits
from app.http.models import PairVerdictName
from app.service import Service
from db.models import PairVerdict
from tests.app.conftest import CORPUS
from tests.app.http.conftest import TEST_HOSTS, Tokens, bearer

TOO_LONG = "why " * 600  # 2,400 characters; the limit is 2,000


@pytest.fixture
def headers(tokens: Tokens) -> dict[str, str]:
    return bearer(tokens.write)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("k=2.7", "k"),
        ("k=true", "k"),
        ("k=0", "k"),
        ("k=1001", "k"),
        ("k=" + "9" * 5000, "k"),
        ("k=", "k"),
        ("threshold=-0", "threshold"),
        ("threshold=0", "threshold"),
        ("threshold=1.5", "threshold"),
        ("threshold=nan", "threshold"),
        ("threshold=inf", "threshold"),
    ],
)
def test_bad_query_parameters_are_422(
    client: TestClient, headers: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/v1/dupes?corpus={CORPUS}&q=hello&{query}", headers=headers)
    assert response.status_code == 422
    answer = response.json()
    assert (answer["status"], answer["code"]) == (422, "invalid_request")
    assert answer["error"].startswith(f"{field}: ")
    assert answer["details"][0]["field"] == field


def test_a_missing_parameter_is_422(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get(f"/v1/dupes?corpus={CORPUS}", headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == "q: Field required"


GOOD = {"corpus": CORPUS, "questions": ["hello"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "k": 2.7}, "k"),
        ({**GOOD, "k": True}, "k"),
        ({**GOOD, "k": "10"}, "k"),
        ({**GOOD, "k": 10**30}, "k"),
        ({**GOOD, "threshold": -0.0}, "threshold"),
        ({**GOOD, "threshold": 0}, "threshold"),
        ({**GOOD, "threshold": "0.8"}, "threshold"),
        ({**GOOD, "threshold": True}, "threshold"),
        ({**GOOD, "questions": []}, "questions"),
        ({**GOOD, "questions": ["q"] * 1001}, "questions"),
        ({**GOOD, "questions": [1]}, "questions.0"),
        ({**GOOD, "questions": "hello"}, "questions"),
        ({**GOOD, "questions": [""]}, "questions.0"),
        ({**GOOD, "treshold": 0.8}, "treshold"),
        ({"questions": ["hello"]}, "corpus"),
        ({**GOOD, "corpus": "bad\x00name"}, "corpus"),
    ],
)
def test_bad_bodies_are_422(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/dupes", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == field


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"/v1/search?corpus={CORPUS}&q={TOO_LONG}", None),
        ("POST", "/v1/search", {"corpus": CORPUS, "query": TOO_LONG}),
        ("POST", "/v1/dupes", {"corpus": CORPUS, "questions": ["fine", TOO_LONG]}),
        ("POST", f"/v1/corpora/{CORPUS}/questions", {"questions": [{"text": TOO_LONG}]}),
        ("POST", "/v1/dupes", {"corpus": CORPUS, "questions": ["nul \x00 byte"]}),
        ("POST", "/v1/search", {"corpus": CORPUS, "query": "   "}),
    ],
)
def test_questions_follow_the_ingest_rules(
    client: TestClient, headers: dict[str, str], method: str, url: str, body: Any
) -> None:
    response = client.request(method, url, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_question"


def test_the_shared_limit_is_the_settings_one(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(
        "/v1/search", json={"corpus": CORPUS, "query": TOO_LONG}, headers=headers
    )
    assert "the limit is 2,000" in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 422, "JSON decode error"),
        (b'{"corpus": "support", "questions": ["a"]}', "text/plain", 422, "must be JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "error parsing the body"),
        (b"[1, 2]", "application/json", 422, "valid dictionary"),
    ],
)
def test_unreadable_bodies_get_a_json_answer(
    client: TestClient,
    headers: dict[str, str],
    content: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    response = client.post(
        "/v1/dupes", content=content, headers={**headers, "Content-Type": content_type}
    )
    assert response.status_code == status
    assert message in response.json()["error"]


def test_an_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/v2/nowhere")
    assert response.status_code == 404
    assert response.json() == {
        "error": "no such route: /v2/nowhere",
        "status": 404,
        "code": "not_found",
    }


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", "/v1/health"),
        ("DELETE", "/v1/search"),
        ("OPTIONS", "/v1/dupes"),
        ("GET", f"/v1/corpora/{CORPUS}/questions"),
    ],
)
def test_a_wrong_method_is_a_json_405(client: TestClient, method: str, url: str) -> None:
    response = client.request(method, url)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"]


def test_path_ids_out_of_range_are_422(client: TestClient, headers: dict[str, str]) -> None:
    url = f"/v1/corpora/{CORPUS}/questions/{2**70}/canonical"
    assert client.post(url, headers=headers).status_code == 422


@pytest.fixture
def small_client(service: Service) -> Iterator[TestClient]:
    limits = Limits(max_body_bytes=1024, max_url_bytes=256)
    with TestClient(create_app(service, allowed_hosts=TEST_HOSTS, limits=limits)) as client:
        yield client


def test_a_body_over_the_limit_is_413(small_client: TestClient, headers: dict[str, str]) -> None:
    body = {"corpus": CORPUS, "questions": ["x" * 2000]}
    response = small_client.post("/v1/dupes", json=body, headers=headers)
    assert response.status_code == 413
    assert response.json() == {
        "error": "the body is over the limit of 1024 bytes",
        "status": 413,
        "code": "body_too_large",
    }


def test_a_streamed_body_over_the_limit_is_413(
    small_client: TestClient, headers: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"corpus": "support", "questions": ["'
        for _ in range(100):
            yield b"x" * 100

    response = small_client.post(
        "/v1/dupes", content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", " "])
def test_a_bad_content_length_is_400(
    small_client: TestClient, headers: dict[str, str], length: str
) -> None:
    response = small_client.post(
        "/v1/dupes", content=b"{}", headers={**headers, "Content-Length": length}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Content-Length must be a whole number of bytes"


def test_a_long_url_is_414(small_client: TestClient) -> None:
    response = small_client.get("/v1/search?q=" + "a" * 300)
    assert response.status_code == 414
    assert response.json()["code"] == "url_too_long"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("testserver", True),
        ("localhost:8600", True),
        ("127.0.0.1:8600", True),
        ("[::1]:8600", True),
        ("LOCALHOST", True),
        ("evil.example.com", False),
        ("localhost.evil.example.com", False),
        ("", False),
    ],
)
def test_the_host_allow_list(client: TestClient, host: str, allowed: bool) -> None:
    response = client.get("/v1/health", headers={"Host": host})
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "bad_host"


def test_host_patterns_and_any_host(service: Service) -> None:
    patterned = TestClient(create_app(service, allowed_hosts=["*.example.com"]))
    assert patterned.get("/v1/health", headers={"Host": "api.example.com"}).status_code == 200
    assert patterned.get("/v1/health", headers={"Host": "example.org"}).status_code == 400
    anything = TestClient(create_app(service, allowed_hosts=["*"]))
    assert anything.get("/v1/health", headers={"Host": "whatever"}).status_code == 200


def test_cors_is_off_unless_an_origin_is_given(client: TestClient, service: Service) -> None:
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    assert (
        "access-control-allow-origin" not in client.options("/v1/dupes", headers=preflight).headers
    )
    assert "access-control-allow-origin" not in client.get("/v1/health", headers=preflight).headers
    with TestClient(
        create_app(service, allowed_hosts=TEST_HOSTS, cors_origins=["https://app.example.com"])
    ) as cors:
        response = cors.options("/v1/dupes", headers=preflight)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://app.example.com"
        other = {**preflight, "Origin": "https://evil.example.com"}
        assert "access-control-allow-origin" not in cors.options("/v1/dupes", headers=other).headers


class Gate:
    """A service call that blocks until the test lets it go, and says when it has started."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def __call__(self, *args: object) -> list[object]:
        self.started.set()
        self.release.wait(timeout=120)
        return []


def test_a_request_past_its_time_limit_is_503(
    service: Service, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    monkeypatch.setattr(service, "corpora", gate)
    limits = Limits(request_timeout_s=0.5)
    with TestClient(create_app(service, allowed_hosts=TEST_HOSTS, limits=limits)) as client:
        try:
            response = client.get("/v1/corpora", headers=bearer(tokens.read))
        finally:
            gate.release.set()  # the abandoned thread finishes before the client closes
    assert response.status_code == 503
    assert response.json()["code"] == "timeout"
    assert response.headers["retry-after"]


def test_requests_beyond_the_in_flight_limit_are_503(
    service: Service, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = Gate()
    monkeypatch.setattr(service, "corpora", gate)
    limits = Limits(max_in_flight=1)
    answers: list[int] = []
    with TestClient(create_app(service, allowed_hosts=TEST_HOSTS, limits=limits)) as client:
        first = threading.Thread(
            target=lambda: answers.append(
                client.get("/v1/corpora", headers=bearer(tokens.read)).status_code
            )
        )
        first.start()
        try:
            assert gate.started.wait(timeout=60)
            second = client.get("/v1/health")
        finally:
            gate.release.set()
            first.join(timeout=60)
    assert (second.status_code, second.json()["code"]) == (503, "busy")
    assert answers == [200]


def test_an_unexpected_error_is_a_json_500_without_the_traceback(
    service: Service,
    tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "corpora", broken)
    app = create_app(service, allowed_hosts=TEST_HOSTS)
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get("/v1/corpora", headers=bearer(tokens.read))
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal error; the server's log has the details",
        "status": 500,
        "code": "internal_error",
    }
    assert "secret internals" not in response.text
    assert "secret internals" in caplog.text


def test_the_label_verdicts_are_the_databases() -> None:
    assert set(get_args(PairVerdictName)) == {verdict.value for verdict in PairVerdict}
