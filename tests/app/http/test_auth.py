"""Tokens: a missing, malformed, wrong or revoked one is a 401; a read token on a write a 403."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.http.app import create_app
from app.service import Service
from db.tokens import list_tokens, revoke_token
from tests.app.conftest import CORPUS
from tests.app.http.conftest import TEST_HOSTS, Tokens, bearer

READS = [
    ("GET", "/v1/corpora", None),
    ("GET", f"/v1/search?corpus={CORPUS}&q=refund", None),
    ("POST", "/v1/search", {"corpus": CORPUS, "query": "refund"}),
    ("GET", f"/v1/dupes?corpus={CORPUS}&q=refund", None),
    ("POST", "/v1/dupes", {"corpus": CORPUS, "questions": ["refund"]}),
    ("GET", f"/v1/corpora/{CORPUS}/threshold", None),
    ("GET", f"/v1/corpora/{CORPUS}/export", None),
]
WRITES = [
    ("PUT", f"/v1/corpora/{CORPUS}/threshold", {"threshold": None}),
    ("POST", f"/v1/corpora/{CORPUS}/questions", {"questions": [{"text": "a new one"}]}),
    ("POST", f"/v1/corpora/{CORPUS}/labels", {"first_id": 1, "second_id": 2, "verdict": "skipped"}),
    ("PUT", f"/v1/corpora/{CORPUS}/clusters/0/name", {"name": "billing"}),
    ("POST", f"/v1/corpora/{CORPUS}/clusters/0/merge", {"into": 1}),
    ("POST", f"/v1/corpora/{CORPUS}/questions/1/move", {"cluster": -1}),
    ("POST", f"/v1/corpora/{CORPUS}/questions/1/canonical", None),
]
ALL = READS + WRITES


def call(client: TestClient, route: tuple[str, str, Any], headers: dict[str, str]) -> Any:
    method, url, body = route
    return client.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("route", ALL, ids=[f"{m} {u}" for m, u, _ in ALL])
@pytest.mark.parametrize(
    ("headers", "error", "challenge"),
    [
        ({}, "needs a token", "Bearer"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "must be 'Bearer <token>'", "invalid_request"),
        ({"Authorization": "Bearer"}, "must be 'Bearer <token>'", "invalid_request"),
        (bearer("qc_not-a-real-token"), "wrong or revoked", "invalid_token"),
        (bearer("no prefix at all"), "wrong or revoked", "invalid_token"),
    ],
    ids=["missing", "basic", "empty-bearer", "wrong", "malformed-secret"],
)
def test_without_a_valid_token_every_route_is_refused(
    client: TestClient,
    route: tuple[str, str, Any],
    headers: dict[str, str],
    error: str,
    challenge: str,
) -> None:
    response = call(client, route, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert challenge in response.headers["www-authenticate"]
    assert response.json()["status"] == 401
    assert error in response.json()["error"]


@pytest.mark.parametrize("route", ALL[:2] + WRITES[:2], ids=lambda r: f"{r[0]} {r[1]}")
def test_a_revoked_token_is_refused(
    client: TestClient, tokens: Tokens, route: tuple[str, str, Any]
) -> None:
    response = call(client, route, bearer(tokens.revoked))
    assert response.status_code == 401
    assert "wrong or revoked" in response.json()["error"]


@pytest.mark.parametrize("route", WRITES, ids=lambda r: f"{r[0]} {r[1]}")
def test_a_read_token_may_not_write(
    client: TestClient, tokens: Tokens, route: tuple[str, str, Any]
) -> None:
    response = call(client, route, bearer(tokens.read))
    assert response.status_code == 403
    assert response.json() == {
        "error": "token 'reader' may only read; this needs a write token",
        "status": 403,
        "code": "forbidden",
    }
    assert "insufficient_scope" in response.headers["www-authenticate"]


@pytest.mark.parametrize("route", READS, ids=lambda r: f"{r[0]} {r[1]}")
def test_read_and_write_tokens_may_read(
    client: TestClient, tokens: Tokens, route: tuple[str, str, Any]
) -> None:
    for token in (tokens.read, tokens.write):
        assert call(client, route, bearer(token)).status_code == 200


def test_a_write_token_may_write(client: TestClient, tokens: Tokens) -> None:
    response = call(client, WRITES[0], bearer(tokens.write))
    assert response.status_code == 200
    assert response.json()["source"] == "default"


def test_revoking_takes_effect_on_the_next_request(
    client: TestClient, service: Service, tokens: Tokens
) -> None:
    from db.models import TokenScope
    from db.tokens import create_token

    with service.sessions.begin() as session:
        secret = create_token(session, "short-lived", TokenScope.READ)
    assert call(client, READS[0], bearer(secret)).status_code == 200
    with service.sessions.begin() as session:
        revoke_token(session, "short-lived")
    assert call(client, READS[0], bearer(secret)).status_code == 401


def test_use_is_recorded(client: TestClient, service: Service, tokens: Tokens) -> None:
    assert call(client, READS[0], bearer(tokens.read)).status_code == 200
    with service.sessions() as session:
        used = {t.name: t.last_used_at for t in list_tokens(session)}
    assert used["reader"] is not None


def test_without_auth_no_token_is_needed_and_edits_are_by_http(service: Service) -> None:
    with TestClient(create_app(service, auth=False, allowed_hosts=TEST_HOSTS)) as open_client:
        assert call(open_client, READS[0], {}).status_code == 200
        response = open_client.post(
            f"/v1/corpora/{CORPUS}/labels",
            json={"first_id": 1, "second_id": 2, "verdict": "skipped"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["by"] == "http"
