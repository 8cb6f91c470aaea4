"""The write routes (write scope): threshold, new questions, labels and cluster edits. Each edit
is recorded as made by the token's name, like an analyst's in the UI."""

from __future__ import annotations

from fastapi import APIRouter

from app.http.auth import Writer
from app.http.context import Context
from app.http.models import (
    AddQuestionsOut,
    AddQuestionsRequest,
    CanonicalOut,
    ClusterNameOut,
    LabelOut,
    LabelRequest,
    MergeOut,
    MergeRequest,
    MoveOut,
    MoveRequest,
    NewClusterOut,
    NewClusterRequest,
    RejectionOut,
    RenameRequest,
    ThresholdOut,
    ThresholdUpdate,
    UndoOut,
)
from app.http.params import ERROR_RESPONSES, ClusterPath, CorpusPath, QuestionPath
from app.service.core import NewQuestion, Service
from app.service.results import UndoneEdit
from db.models import PairVerdict
from indexer.errors import InvalidQuestionError
from indexer.validation import check_question

router = APIRouter(prefix="/v1/corpora/{corpus}", responses=ERROR_RESPONSES, tags=["write"])


@router.put("/threshold")
async def set_threshold(
    context: Context, _: Writer, corpus: CorpusPath, body: ThresholdUpdate
) -> ThresholdOut:
    """Set the corpus's own duplicate threshold; null puts the default back."""
    info = await context.run(context.service.set_threshold, corpus, body.threshold)
    return ThresholdOut.model_validate(info)


def _add(service: Service, corpus: str, body: AddQuestionsRequest) -> AddQuestionsOut:
    limit = service.settings.max_question_chars
    for number, question in enumerate(body.questions, start=1):
        problem = check_question(question.text, max_chars=limit)
        if problem is not None and problem.kind == "too long":  # the others: rejections
            raise InvalidQuestionError(f"question {number}: {problem.message}")
    new = [NewQuestion(q.text, q.external_id) for q in body.questions]
    ingest, placement = service.add_questions(corpus, new)
    return AddQuestionsOut(
        corpus=corpus,
        received=len(new),
        added=ingest.added,
        already_in_corpus=ingest.already_in_corpus,
        duplicates_in_request=ingest.duplicates_in_file,
        rejected=ingest.rejected,
        rejections=[RejectionOut(index=r.line, reason=r.reason) for r in ingest.rejections],
        placed=placement.placed,
        unassigned=placement.unassigned,
    )


@router.post("/questions")
async def add_questions(
    context: Context, _: Writer, corpus: CorpusPath, body: AddQuestionsRequest
) -> AddQuestionsOut:
    """Store, encode and index up to 1,000 questions: searchable when this answers, and placed
    into the latest clustering run's clusters. Questions the corpus has already are counted,
    not stored twice, so sending the same request again is safe."""
    return await context.run(_add, context.service, corpus, body)


@router.post("/labels")
async def label_pair(
    context: Context, who: Writer, corpus: CorpusPath, body: LabelRequest
) -> LabelOut:
    """An analyst's verdict on a pair of questions (for calibration and the precision shown)."""
    verdict = PairVerdict(body.verdict)

    def label() -> None:
        context.service.label_pair(corpus, body.first_id, body.second_id, verdict, by=who.name)

    await context.run(label)
    return LabelOut(
        corpus=corpus,
        first_id=body.first_id,
        second_id=body.second_id,
        verdict=body.verdict,
        by=who.name,
    )


@router.put("/clusters/{key}/name")
async def rename_cluster(
    context: Context, _: Writer, corpus: CorpusPath, key: ClusterPath, body: RenameRequest
) -> ClusterNameOut:
    """Name a cluster (kept across re-clustering); null puts the generated name back."""
    await context.run(context.service.rename_cluster, corpus, key, body.name)
    return ClusterNameOut(corpus=corpus, cluster=key, name=body.name)


@router.post("/clusters/{key}/merge")
async def merge_clusters(
    context: Context, who: Writer, corpus: CorpusPath, key: ClusterPath, body: MergeRequest
) -> MergeOut:
    """Move every member of cluster `key` into cluster `into`; later runs keep them together."""

    def merge() -> int:
        return context.service.merge_clusters(corpus, key, body.into, by=who.name)

    moved = await context.run(merge)
    return MergeOut(corpus=corpus, cluster=key, into=body.into, moved=moved)


@router.post("/questions/{question_id}/move")
async def move_question(
    context: Context, who: Writer, corpus: CorpusPath, question_id: QuestionPath, body: MoveRequest
) -> MoveOut:
    """Put a question into another cluster (-1: make it an outlier)."""

    def move() -> None:
        context.service.move_question(corpus, question_id, body.cluster, by=who.name)

    await context.run(move)
    return MoveOut(corpus=corpus, question_id=question_id, cluster=body.cluster)


@router.post("/questions/{question_id}/canonical")
async def mark_canonical(
    context: Context, who: Writer, corpus: CorpusPath, question_id: QuestionPath
) -> CanonicalOut:
    """Make a question the canonical one of its near-duplicate group."""

    def mark() -> None:
        context.service.mark_canonical(corpus, question_id, by=who.name)

    await context.run(mark)
    return CanonicalOut(corpus=corpus, question_id=question_id, by=who.name)


@router.post("/clusters", status_code=201)
async def new_cluster(
    context: Context, who: Writer, corpus: CorpusPath, body: NewClusterRequest
) -> NewClusterOut:
    """Make a cluster of the chosen questions, taken from wherever they are; later runs keep
    them together under its key and name."""

    def make() -> int:
        return context.service.new_cluster(corpus, body.question_ids, body.name, by=who.name)

    key = await context.run(make)
    return NewClusterOut(
        corpus=corpus, cluster=key, name=body.name.strip(), questions=len(set(body.question_ids))
    )


@router.post("/edits/undo")
async def undo_last_edit(context: Context, who: Writer, corpus: CorpusPath) -> UndoOut:
    """Take back the caller's latest change to the clusters, while it is the corpus's latest
    and its clustering run the latest; 400 otherwise, saying why."""

    def undo() -> UndoneEdit:
        return context.service.undo_last_edit(corpus, by=who.name)

    undone = await context.run(undo)
    return UndoOut(
        corpus=corpus,
        kind=undone.kind,
        cluster=undone.target_key,
        questions=undone.questions,
    )
