"""The write routes change the corpus, and the next request sees it: thresholds and questions
set here or by another process, labels; the cluster edits are in test_edit_routes.py."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient

from app.service import Service
from app.service.core import NewQuestion
from indexer.encoder import Encoder
from tests.app.conftest import CORPUS, UiCorpus
from tests.app.http.conftest import Tokens, bearer, service_for
from tests.conftest import PROJECT_ROOT

PARAPHRASE = "Where do I find my old invoices?"  # cosine 0.85 to s18


def dupes(client: TestClient, tokens: Tokens, question: str) -> dict[str, Any]:
    response = client.get(
        "/v1/dupes", params={"corpus": CORPUS, "q": question}, headers=bearer(tokens.read)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    return result


def set_threshold(client: TestClient, tokens: Tokens, value: float | None) -> Any:
    response = client.put(
        f"/v1/corpora/{CORPUS}/threshold", json={"threshold": value}, headers=bearer(tokens.write)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_threshold_set_over_http_is_used_by_the_next_check(
    client: TestClient, tokens: Tokens
) -> None:
    assert set_threshold(client, tokens, 0.99)["source"] == "own"
    check = dupes(client, tokens, PARAPHRASE)
    assert check["threshold"] == 0.99
    assert check["verdict"] != "duplicate"
    cleared = set_threshold(client, tokens, None)
    assert (cleared["threshold"], cleared["source"]) == (0.8, "default")
    assert dupes(client, tokens, PARAPHRASE)["verdict"] == "duplicate"


def test_a_threshold_set_by_another_service_is_seen_at_once(
    client: TestClient, tokens: Tokens, http_corpus: UiCorpus
) -> None:
    other = Service(http_corpus.settings)  # another process's view of the same database
    try:
        other.set_threshold(CORPUS, 0.6)
        check = dupes(client, tokens, PARAPHRASE)
        assert (check["threshold"], check["threshold_source"]) == (0.6, "own")
    finally:
        other.set_threshold(CORPUS, None)


def test_a_threshold_set_by_another_process_is_seen_at_once(
    client: TestClient, tokens: Tokens, http_corpus: UiCorpus
) -> None:
    env = {
        **os.environ,
        "QCLUST_DATA_DIR": str(http_corpus.data_dir),
        "QCLUST_DATABASE_URL": http_corpus.database_url,
        "QCLUST_CONFIG": str(http_corpus.root / "no-such.toml"),
    }
    command = [sys.executable, "-m", "app.cli", "threshold", CORPUS, "0.55"]
    done = subprocess.run(
        command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    try:
        assert dupes(client, tokens, PARAPHRASE)["threshold"] == 0.55
    finally:
        set_threshold(client, tokens, None)


def test_added_questions_are_found_by_the_next_search(client: TestClient, tokens: Tokens) -> None:
    text = "How do I rotate the API keys of my organisation?"
    body = {"questions": [{"text": "   "}, {"text": text, "external_id": "api-1"}]}
    url = f"/v1/corpora/{CORPUS}/questions"
    response = client.post(url, json=body, headers=bearer(tokens.write))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["received"], answer["added"], answer["rejected"]) == (2, 1, 1)
    assert answer["rejections"] == [{"index": 1, "reason": "empty or whitespace-only question"}]
    search = client.get(
        "/v1/search", params={"corpus": CORPUS, "q": text, "k": 1}, headers=bearer(tokens.read)
    ).json()
    assert (search["hits"][0]["text"], search["hits"][0]["external_id"]) == (text, "api-1")
    again = client.post(url, json=body, headers=bearer(tokens.write)).json()
    assert (again["added"], again["already_in_corpus"]) == (0, 1)


def test_a_question_added_by_another_service_is_found(
    client: TestClient, tokens: Tokens, http_corpus: UiCorpus, default_encoder: Encoder
) -> None:
    text = "Can I pay my invoices with a bank transfer instead of a card?"
    other = service_for(http_corpus, default_encoder)
    other.add_questions(CORPUS, [NewQuestion(text, "other-1")])
    search = client.get(
        "/v1/search", params={"corpus": CORPUS, "q": text, "k": 1}, headers=bearer(tokens.read)
    ).json()
    assert search["hits"][0]["external_id"] == "other-1"


def test_a_label_is_stored_by_the_token_name(
    client: TestClient, tokens: Tokens, service: Service
) -> None:
    hits = service.search(CORPUS, "cancel my subscription", 2).hits
    first, second = hits[0].question_id, hits[1].question_id
    body = {"first_id": first, "second_id": second, "verdict": "duplicate"}
    before = service.threshold(CORPUS).labelled_pairs
    response = client.post(f"/v1/corpora/{CORPUS}/labels", json=body, headers=bearer(tokens.write))
    assert response.status_code == 200, response.text
    assert response.json() == {"corpus": CORPUS, **body, "by": "writer"}
    assert service.threshold(CORPUS).labelled_pairs == before + 1


def test_a_label_of_unknown_questions_is_a_404(client: TestClient, tokens: Tokens) -> None:
    body = {"first_id": 1, "second_id": 987654, "verdict": "not_duplicate"}
    response = client.post(f"/v1/corpora/{CORPUS}/labels", json=body, headers=bearer(tokens.write))
    assert response.status_code == 404
    assert "has no encoded questions" in response.json()["error"]


def test_edits_need_a_clustering_run(client: TestClient, tokens: Tokens) -> None:
    url = f"/v1/corpora/{CORPUS}/questions/1/move"
    response = client.post(url, json={"cluster": -1}, headers=bearer(tokens.write))
    assert response.status_code == 400
    assert "no clustering run yet" in response.json()["error"]
