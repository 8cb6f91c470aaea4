"""Client mode: when `QCLUST_SERVER` names a running `qclust serve`, the CLI's `search` and
`dupes` ask it instead of loading the model, which a one-off command would pay for each time.

Standard library only (`urllib`), and nothing heavy is imported: the point is a CLI that answers
in well under a second. The token comes from `QCLUST_TOKEN`. Every failure is a `QclustError`
with the server's own message, or says that the server cannot be reached.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from app.service.results import Check, Match, SearchResult
from db.errors import QclustError
from indexer.errors import NotEncodedError

SERVER_ENV = "QCLUST_SERVER"
TOKEN_ENV = "QCLUST_TOKEN"
TIMEOUT_S = 600.0  # a 1,000-question batch on a busy CPU server takes minutes, not hours
BATCH = 1000  # the server's limit of questions per request
_MATCH_FIELDS = {f.name for f in fields(Match)}


def server_url() -> str | None:
    """The server named by QCLUST_SERVER (no trailing slash), or None when it is not set."""
    url = os.environ.get(SERVER_ENV, "").strip().rstrip("/")
    return url or None


def remote_search(corpus: str, query: str, k: int) -> SearchResult:
    answer = _post("/v1/search", {"corpus": corpus, "query": query, "k": k})
    return SearchResult(
        corpus=str(answer["corpus"]),
        query=str(answer["query"]),
        hits=[_match(hit) for hit in answer["hits"]],
        not_encoded=int(answer["not_encoded"]),
        revision=int(answer["revision"]),
    )


def remote_check(
    corpus: str, questions: list[str], *, k: int, threshold: float | None
) -> list[Check]:
    checks: list[Check] = []
    for start in range(0, len(questions), BATCH):
        body = {
            "corpus": corpus,
            "questions": questions[start : start + BATCH],
            "k": k,
            "threshold": threshold,
        }
        checks += [_check(result) for result in _post("/v1/dupes", body)["results"]]
    return checks


def _match(data: Mapping[str, Any]) -> Match:
    return Match(**{key: value for key, value in data.items() if key in _MATCH_FIELDS})


def _check(data: Mapping[str, Any]) -> Check:
    return Check(
        question=data["question"],
        verdict=data["verdict"],
        threshold=data["threshold"],
        possible_threshold=data["possible_threshold"],
        threshold_source=data["threshold_source"],
        probability=data["probability"],
        matches=[_match(m) for m in data["matches"]],
        nearest=[_match(m) for m in data["nearest"]],
    )


def _post(path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    base = server_url()
    if base is None:
        raise QclustError(f"{SERVER_ENV} is not set: no server to ask")
    if not base.startswith(("http://", "https://")):
        raise QclustError(f"{SERVER_ENV} must be an http:// or https:// URL, not {base!r}")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        raise _server_error(base, exc) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise QclustError(f"cannot reach the qclust server at {base}: {reason}") from None
    except ValueError:
        raise QclustError(f"the qclust server at {base} did not answer with JSON") from None
    if not isinstance(answer, dict):
        raise QclustError(f"the qclust server at {base} answered something unexpected")
    return answer


def _server_error(base: str, exc: urllib.error.HTTPError) -> QclustError:
    try:
        body = json.load(exc)
        message, code = str(body["error"]), str(body.get("code", ""))
    except (ValueError, KeyError, TypeError, OSError):
        return QclustError(f"the qclust server at {base} answered {exc.code} {exc.reason}")
    finally:
        exc.close()
    if code == "not_encoded":
        return NotEncodedError(message)
    if exc.code == 401:
        message += f" (set {TOKEN_ENV} to a token from 'qclust tokens create')"
    return QclustError(message)
