"""Every error as JSON, `{"error": ..., "status": N, "code": ...}`: the routes' own, Starlette's
(404, 405), validation (422), the service's (`QclustError`) and anything unexpected (500, logged
with its traceback, never sent). The middlewares answer before FastAPI runs, so they send the
same body through `send_error`."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import HTTPExceptionHandler, Send

from db.errors import CorpusBusyError, CorpusNotFoundError, DatabaseUnavailableError, QclustError
from indexer.errors import EmptyQueryError, InvalidQuestionError, NotEncodedError

logger = logging.getLogger(__name__)
E = TypeVar("E", bound=Exception)

RETRY_AFTER_S = "5"
# Messages of `db.edits.EditError` and the service that name a cluster, question or pair the
# corpus does not have: a 404, where other edit errors ("pick two different clusters") are 400.
_NOT_FOUND = re.compile(r"has no cluster\b|has no encoded questions|(is|are) not in clustering run")
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    414: "url_too_long",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": message, "status": status, "code": code or _CODES.get(status, "error")}


def json_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    details: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = error_body(status, message, code)
    if details is not None:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


async def send_error(
    send: Send,
    status: int,
    message: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    *,
    code: str | None = None,
) -> None:
    """The same JSON error, sent straight through ASGI (for middlewares)."""
    data = json.dumps(error_body(status, message, code), separators=(",", ":")).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode("ascii")),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def classify(exc: QclustError) -> tuple[int, str]:
    """The HTTP status and code of a service error."""
    if isinstance(exc, CorpusNotFoundError):
        return 404, "corpus_not_found"
    if isinstance(exc, NotEncodedError):
        return 503, "not_encoded"
    if isinstance(exc, CorpusBusyError):
        return 503, "corpus_busy"
    if isinstance(exc, DatabaseUnavailableError):
        return 503, "database_unavailable"
    if isinstance(exc, InvalidQuestionError | EmptyQueryError):
        return 422, "invalid_question"
    if _NOT_FOUND.search(str(exc)):
        return 404, "not_found"
    return 400, "bad_request"


def _validation_message(errors: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for error in errors:
        where = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        details.append({"field": ".".join(where), "message": str(error.get("msg", "invalid"))})
    first = details[0] if details else {"field": "", "message": "invalid request"}
    prefix = f"{first['field']}: " if first["field"] else ""
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return prefix + first["message"] + more, details


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such route: {request.url.path}"
    elif exc.status_code == 405 and message == "Method Not Allowed":
        message = f"{request.method} is not allowed on {request.url.path}"
    code = getattr(exc, "code", None)  # set by the API's own HTTP errors (e.g. 'timeout')
    return json_error(exc.status_code, message, code=code, headers=exc.headers)


def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(
        tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes) for e in errors
    ):
        # FastAPI reads a body as JSON only when its Content-Type says so: a form or text
        # post, which any web page may send to localhost without a CORS preflight, is not.
        return json_error(422, "the body must be JSON, sent with Content-Type: application/json")
    message, details = _validation_message(errors)
    return json_error(422, message, details=details)


def _service_error(request: Request, exc: QclustError) -> JSONResponse:
    status, code = classify(exc)
    headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
    return json_error(status, str(exc), code=code, headers=headers)


def _database_error(request: Request, exc: OperationalError) -> JSONResponse:
    logger.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return json_error(
        503,
        "the database is busy or cannot be reached; try again",
        code="database_unavailable",
        headers={"Retry-After": RETRY_AFTER_S},
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("request failed: %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, "internal error; the server's log has the details")


def _handler(kind: type[E], respond: Callable[[Request, E], JSONResponse]) -> HTTPExceptionHandler:
    async def handle(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, kind):
            raise exc
        return respond(request, exc)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _handler(HTTPException, _http_error))
    app.add_exception_handler(
        RequestValidationError, _handler(RequestValidationError, _invalid_request)
    )
    app.add_exception_handler(QclustError, _handler(QclustError, _service_error))
    app.add_exception_handler(OperationalError, _handler(OperationalError, _database_error))
    app.add_exception_handler(Exception, _handler(Exception, _unexpected))
