"""The read routes: health, corpora, search, duplicate check, threshold (read scope)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from app.csv_export import table_bytes
from app.http.auth import Reader
from app.http.context import Context
from app.http.models import (
    CorporaOut,
    CorpusOut,
    DupesOut,
    DupesRequest,
    Health,
    SearchOut,
    SearchRequest,
    ThresholdOut,
)
from app.http.params import (
    ERROR_RESPONSES,
    CorpusPath,
    CorpusQuery,
    KQuery,
    TextQuery,
    ThresholdQuery,
)
from app.service.core import Service
from db.errors import CorpusNotFoundError

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)


@router.get("/health", tags=["meta"])
async def health() -> Health:
    """Always answers, without a token: for load balancers and `curl`."""
    return Health()


def _corpora(service: Service) -> CorporaOut:
    rows = []
    for summary in service.corpora():
        try:
            threshold = service.threshold(summary.name)
        except CorpusNotFoundError:  # removed since the listing
            continue
        rows.append(
            CorpusOut(
                name=summary.name,
                questions=summary.questions,
                model=summary.model,
                threshold=threshold.threshold,
                threshold_source=threshold.source,
                not_encoded=summary.not_encoded,
                last_ingest=summary.last_ingest,
            )
        )
    return CorporaOut(corpora=rows)


@router.get("/corpora", tags=["read"])
async def corpora(context: Context, _: Reader) -> CorporaOut:
    """Every corpus: size, model, threshold, questions not encoded yet, last ingest."""
    return await context.run(_corpora, context.service)


@router.get("/search", tags=["read"])
async def search(
    context: Context, _: Reader, corpus: CorpusQuery, q: TextQuery, k: KQuery = 10
) -> SearchOut:
    """The stored questions nearest to `q`, with their cluster and canonical question."""
    result = await context.run(context.service.search, corpus, q, k)
    return SearchOut.model_validate(result)


@router.post("/search", tags=["read"])
async def search_post(context: Context, _: Reader, body: SearchRequest) -> SearchOut:
    """The same search, for queries too long to send in a URL."""
    result = await context.run(context.service.search, body.corpus, body.query, body.k)
    return SearchOut.model_validate(result)


async def _dupes(
    context: Context, corpus: str, questions: list[str], k: int, threshold: float | None
) -> DupesOut:
    service = context.service

    def check() -> DupesOut:
        checks = service.check(corpus, questions, k=k, threshold=threshold)
        return DupesOut.model_validate({"corpus": corpus, "results": checks})

    return await context.run(check)


@router.get("/dupes", tags=["read"])
async def dupes(
    context: Context,
    _: Reader,
    corpus: CorpusQuery,
    q: TextQuery,
    k: KQuery = 10,
    threshold: ThresholdQuery = None,
) -> DupesOut:
    """Is `q` already asked? 'duplicate', 'possible' or 'new', with the nearest questions.
    503 (code `not_encoded`) while stored questions wait to be encoded."""
    return await _dupes(context, corpus, [q], k, threshold)


@router.post("/dupes", tags=["read"])
async def dupes_post(context: Context, _: Reader, body: DupesRequest) -> DupesOut:
    """The duplicate check of up to 1,000 questions at once."""
    return await _dupes(context, body.corpus, body.questions, body.k, body.threshold)


@router.get("/corpora/{corpus}/threshold", tags=["read"])
async def threshold(context: Context, _: Reader, corpus: CorpusPath) -> ThresholdOut:
    """The corpus's duplicate threshold and where it comes from (own, calibrated, default)."""
    return ThresholdOut.model_validate(await context.run(context.service.threshold, corpus))


EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/x-ndjson",
}
ExportFormat = Literal["csv", "parquet", "jsonl"]


def _export_bytes(service: Service, corpus: str, file_format: ExportFormat) -> bytes:
    return table_bytes(service.export(corpus), file_format)


@router.get(
    "/corpora/{corpus}/export",
    tags=["read"],
    response_class=Response,
    responses={200: {"content": {kind: {} for kind in EXPORT_TYPES.values()}}},
)
async def export(
    context: Context, _: Reader, corpus: CorpusPath, format: ExportFormat = "csv"
) -> Response:
    """Every question with its cluster and name, outlier status, near-duplicate group,
    canonical question and the file's own columns (CSV cells safe for spreadsheets)."""
    data = await context.run(_export_bytes, context.service, corpus, format)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in corpus) or "corpus"
    return Response(
        data,
        media_type=EXPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{stem}-clusters.{format}"'},
    )
