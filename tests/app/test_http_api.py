"""`qclust serve` for real: a server on a free port, asked over HTTP with urllib."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from app.http_api import LookupService, make_server
from indexer.encoder import Encoder
from indexer.search import open_searcher
from tests.app.conftest import CORPUS, SUPPORT_QUESTIONS, UiCorpus


@pytest.fixture(scope="module")
def base_url(support_corpus: UiCorpus, default_encoder: Encoder) -> Iterator[str]:
    service = LookupService(support_corpus.settings)
    # The session's encoder, so that the test does not load the model a second time.
    service._searchers[CORPUS] = open_searcher(
        CORPUS, settings=support_corpus.settings, encoder=default_encoder
    )
    server = make_server(service, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def post(url: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_health_and_corpora(base_url: str) -> None:
    assert get(f"{base_url}/health") == (200, {"status": "ok"})
    status, body = get(f"{base_url}/corpora")
    assert status == 200
    assert [c["name"] for c in body["corpora"]] == [CORPUS]
    assert body["corpora"][0]["questions"] == len(SUPPORT_QUESTIONS)


def test_a_paraphrase_is_a_duplicate_over_get(base_url: str) -> None:
    query = urlencode({"corpus": CORPUS, "q": "How can I stop my subscription renewing?"})
    status, body = get(f"{base_url}/dupes?{query}")
    assert status == 200
    assert body["verdict"] == "duplicate"
    assert body["matches"][0]["text"] == SUPPORT_QUESTIONS["s17"]
    assert body["matches"][0]["external_id"] == "s17"
    assert body["matches"][0]["score"] >= body["threshold"]


def test_many_questions_over_post_with_their_own_threshold(base_url: str) -> None:
    questions = ["How do I reset my password?", "What is the capital of Mongolia?"]
    body = json.dumps({"corpus": CORPUS, "questions": questions, "threshold": 0.9, "k": 3})
    status, answer = post(f"{base_url}/dupes", body.encode())
    assert status == 200
    first, second = answer["results"]
    assert (first["verdict"], first["threshold"]) == ("duplicate", 0.9)
    assert first["matches"][0]["text"] == "How do I reset my password?"
    assert second["verdict"] == "new"
    assert second["matches"] == []
    assert len(second["nearest"]) == 3


def test_search_ranks_the_nearest_first(base_url: str) -> None:
    query = urlencode({"corpus": CORPUS, "q": "refund my last payment", "k": 2})
    status, body = get(f"{base_url}/search?{query}")
    assert status == 200
    assert [hit["external_id"] for hit in body["hits"]][0] == "s05"
    assert len(body["hits"]) == 2


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/dupes?corpus=nope&q=hello", 404, "nope"),
        ("/dupes?corpus=support", 400, "missing query parameter 'q'"),
        ("/dupes?corpus=support&q=hi&k=zero", 400, "k must be a whole number"),
        ("/dupes?corpus=support&q=hi&threshold=2", 400, "threshold must be 0 to 1"),
        ("/dupes?corpus=support&q=%20%20", 400, "empty"),
        ("/nowhere", 404, "no such endpoint"),
    ],
)
def test_bad_requests_get_a_clear_message(
    base_url: str, path: str, status: int, message: str
) -> None:
    got, body = get(f"{base_url}{path}")
    assert got == status
    assert message in body["error"].lower() or message in body["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"questions": ["a"]}', "needs 'corpus'"),
        (b'{"corpus": "support"}', "needs 'question'"),
        (b'{"corpus": "support", "questions": [1]}', "list of texts"),
        (b'{"corpus": "support", "questions": []}', "send 1 to"),
    ],
)
def test_bad_bodies_get_a_clear_message(base_url: str, body: bytes, message: str) -> None:
    status, answer = post(f"{base_url}/dupes", body)
    assert status == 400
    assert message in answer["error"]
