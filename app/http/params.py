"""Query and path parameters shared by the routes, with the same bounds as the JSON bodies, and
the error responses every route documents (each has the `ErrorBody` shape)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query

from app.http.models import MAX_CLUSTER_KEY, MAX_ID, MAX_K, MAX_NAME_CHARS, ErrorBody

_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"

CorpusQuery = Annotated[
    str,
    Query(min_length=1, max_length=MAX_NAME_CHARS, pattern=_NAME_PATTERN, description="Corpus"),
]
CorpusPath = Annotated[str, Path(min_length=1, max_length=MAX_NAME_CHARS, pattern=_NAME_PATTERN)]
TextQuery = Annotated[str, Query(min_length=1, description="The question")]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description="How many nearest questions")]
ThresholdQuery = Annotated[
    float | None,
    Query(gt=0.0, le=1.0, allow_inf_nan=False, description="Own threshold, in (0, 1]"),
]
ClusterPath = Annotated[int, Path(ge=0, le=MAX_CLUSTER_KEY, description="Cluster key")]
QuestionPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Question id")]

_WHY = {
    400: "Bad request (a wrong Host, a malformed body or Content-Length, an edit that does "
    "not fit)",
    401: "No token, or a wrong or revoked one",
    403: "A read token on a write",
    404: "No such corpus, cluster or question",
    413: "The body is over the limit",
    414: "The URL is over the limit",
    422: "A parameter or field of the wrong type or out of range",
    503: "Questions not encoded yet, the corpus busy, the request past its time limit, or "
    "the server too busy (see Retry-After)",
    500: "An unexpected error (logged by the server)",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": why} for status, why in _WHY.items()
}
