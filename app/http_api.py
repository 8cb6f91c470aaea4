"""`qclust serve`: the duplicate check and search over HTTP, for other programs.

Standard library only (`http.server`), JSON in and out; one `CorpusSearcher` per corpus is
loaded on first use and kept, so only the first request pays for the model and the index.

    GET  /health
    GET  /corpora
    GET  /search?corpus=support&q=reset+password&k=10
    GET  /dupes?corpus=support&q=how+do+I+change+my+password&threshold=0.8&k=10
    POST /dupes  {"corpus": "support", "questions": ["...", "..."], "threshold": 0.8, "k": 10}
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from db.errors import CorpusNotFoundError, QclustError
from db.queries import summarize_corpora
from db.session import open_database
from db.settings import Settings
from indexer.errors import NotEncodedError
from indexer.search import CorpusSearcher, open_searcher

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_QUESTIONS = 1000
MAX_K = 1000


class RequestError(Exception):
    """A request the caller must fix; answered with its status and message."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


class LookupService:
    """What the handlers call: searchers cached per corpus, safe to share between threads."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session] | None = None) -> None:
        self.settings = settings
        self.sessions = sessions or open_database(settings.resolved_database_url)
        self._searchers: dict[str, CorpusSearcher] = {}
        self._lock = threading.Lock()

    def searcher(self, corpus: str) -> CorpusSearcher:
        # One lock for loading and searching: FAISS and torch are fast; requests queue briefly.
        cached = self._searchers.get(corpus)
        if cached is None:
            try:
                cached = open_searcher(corpus, settings=self.settings, sessions=self.sessions)
            except CorpusNotFoundError as exc:
                raise RequestError(str(exc), HTTPStatus.NOT_FOUND) from exc
            self._searchers[corpus] = cached
        return cached

    def corpora(self) -> list[dict[str, Any]]:
        with self.sessions() as session:
            return [asdict(summary) for summary in summarize_corpora(session)]

    def search(self, corpus: str, query: str, k: int) -> dict[str, Any]:
        with self._lock:
            hits = self.searcher(corpus).search(query, k)
        return {"corpus": corpus, "query": query, "hits": [asdict(hit) for hit in hits]}

    def dupes(
        self, corpus: str, questions: list[str], k: int, threshold: float | None
    ) -> list[dict[str, Any]]:
        with self._lock:
            checks = self.searcher(corpus).check_duplicates_many(
                questions, k=k, threshold=threshold
            )
        return [{**asdict(check), "corpus": corpus} for check in checks]


def _one(query: dict[str, list[str]], name: str, default: str | None = None) -> str:
    values = query.get(name)
    if not values:
        if default is None:
            raise RequestError(f"missing query parameter '{name}'")
        return default
    return values[-1]


def _k(value: Any) -> int:
    try:
        k = int(value)
    except (TypeError, ValueError):
        raise RequestError(f"k must be a whole number, not {value!r}") from None
    if not 1 <= k <= MAX_K:
        raise RequestError(f"k must be 1 to {MAX_K}, not {k}")
    return k


def _threshold(value: Any) -> float | None:
    if value is None:
        return None
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise RequestError(f"threshold must be a number, not {value!r}") from None
    if not 0.0 <= threshold <= 1.0:
        raise RequestError(f"threshold must be 0 to 1, not {threshold}")
    return threshold


def _questions(body: dict[str, Any]) -> list[str]:
    if "questions" in body:
        questions = body["questions"]
    elif "question" in body:
        questions = [body["question"]]
    else:
        raise RequestError("the body needs 'question' (text) or 'questions' (a list of texts)")
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise RequestError("'questions' must be a list of texts")
    if not 1 <= len(questions) <= MAX_QUESTIONS:
        raise RequestError(f"send 1 to {MAX_QUESTIONS} questions, not {len(questions)}")
    return questions


class LookupHandler(BaseHTTPRequestHandler):
    service: LookupService  # set on the subclass `make_server` builds
    server_version = "qclust"

    def do_GET(self) -> None:  # noqa: N802  (the name http.server calls)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self._answer(lambda: self._get(url.path, query))

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        self._answer(lambda: self._post(url.path))

    def _get(self, path: str, query: dict[str, list[str]]) -> Any:
        if path == "/health":
            return {"status": "ok"}
        if path == "/corpora":
            return {"corpora": self.service.corpora()}
        if path == "/search":
            k = _k(_one(query, "k", "10"))
            return self.service.search(_one(query, "corpus"), _one(query, "q"), k)
        if path == "/dupes":
            k = _k(_one(query, "k", "10"))
            threshold = _threshold(query["threshold"][-1] if "threshold" in query else None)
            return self.service.dupes(_one(query, "corpus"), [_one(query, "q")], k, threshold)[0]
        raise RequestError(f"no such endpoint: {path}", HTTPStatus.NOT_FOUND)

    def _post(self, path: str) -> Any:
        if path != "/dupes":
            raise RequestError(f"no such endpoint for POST: {path}", HTTPStatus.NOT_FOUND)
        body = self._json_body()
        corpus = body.get("corpus")
        if not isinstance(corpus, str) or not corpus:
            raise RequestError("the body needs 'corpus', the corpus name")
        k, threshold = _k(body.get("k", 10)), _threshold(body.get("threshold"))
        return {"results": self.service.dupes(corpus, _questions(body), k, threshold)}

    def _json_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise RequestError("the body is too large", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object")
        return body

    def _answer(self, compute: Callable[[], Any]) -> None:
        try:
            status, payload = HTTPStatus.OK, compute()
        except RequestError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except NotEncodedError as exc:  # temporary: the answer exists once the ingest is done
            status, payload = HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(exc)}
        except QclustError as exc:
            status, payload = HTTPStatus.BAD_REQUEST, {"error": str(exc)}
        except Exception:
            logger.exception("request failed: %s %s", self.command, self.path)
            status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"}
        data = json.dumps(payload, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s - %s", self.address_string(), format % args)


def make_server(service: LookupService, host: str, port: int) -> ThreadingHTTPServer:
    """A server bound to host:port (port 0: any free port; read it from `server_port`)."""
    handler = type("BoundLookupHandler", (LookupHandler,), {"service": service})
    return ThreadingHTTPServer((host, port), handler)
