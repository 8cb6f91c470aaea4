"""Request and response bodies of the HTTP API, as pydantic models (they are the OpenAPI schema).

Requests are strict: JSON `2.7` or `true` is not a `k`, and unknown fields are refused, so a
misspelt `treshold` is a 422 rather than silently ignored. Responses mirror the service's
dataclasses (`app.service.results`) and are built from them by attribute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

MAX_K = 1000
MAX_BATCH = 1000
MAX_ID = 2**63 - 1  # the database's integer range: larger ids cannot exist
MAX_CLUSTER_KEY = 2**31 - 1
MAX_NAME_CHARS = 200

STRICT = ConfigDict(strict=True, extra="forbid")


def _encodable(text: str) -> str:
    """A JSON string may hold a lone surrogate (`"\\ud800"`), which no database can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid Unicode (a lone surrogate)") from None
    return text


# Question texts: the length limit is the corpus's setting, checked by the service (one rule
# shared with ingest), so it is not in the schema.
Text = Annotated[str, Field(min_length=1), AfterValidator(_encodable)]
CorpusName = Annotated[
    str,
    Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_encodable),
]
K = Annotated[int, Field(ge=1, le=MAX_K, description="How many nearest questions")]
Threshold = Annotated[
    float,
    Field(gt=0.0, le=1.0, allow_inf_nan=False, description="Cosine threshold, in (0, 1]"),
]
QuestionId = Annotated[int, Field(ge=1, le=MAX_ID)]
ClusterKey = Annotated[int, Field(ge=-1, le=MAX_CLUSTER_KEY, description="-1: an outlier")]
Verdict = Literal["duplicate", "possible", "new"]
ThresholdSource = Literal["own", "calibrated", "default"]
PairVerdictName = Literal["duplicate", "not_duplicate", "skipped"]

# -- requests ----------------------------------------------------------------------------


class SearchRequest(BaseModel):
    model_config = STRICT

    corpus: CorpusName
    query: Text
    k: K = 10


class DupesRequest(BaseModel):
    model_config = STRICT

    corpus: CorpusName
    questions: Annotated[list[Text], Field(min_length=1, max_length=MAX_BATCH)]
    k: K = 10
    threshold: Threshold | None = Field(
        default=None, description="This request's own threshold; null: the corpus's"
    )


class ThresholdUpdate(BaseModel):
    model_config = STRICT

    threshold: Threshold | None = Field(description="null: back to the default")


class QuestionIn(BaseModel):
    model_config = STRICT

    text: Text
    external_id: (
        Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_encodable)]
        | None
    ) = None


class AddQuestionsRequest(BaseModel):
    model_config = STRICT

    questions: Annotated[list[QuestionIn], Field(min_length=1, max_length=MAX_BATCH)]


class LabelRequest(BaseModel):
    model_config = STRICT

    first_id: QuestionId
    second_id: QuestionId
    verdict: PairVerdictName

    @model_validator(mode="after")
    def _two_questions(self) -> LabelRequest:
        if self.first_id == self.second_id:
            raise ValueError("a pair is two different questions")
        return self


class RenameRequest(BaseModel):
    model_config = STRICT

    name: (
        Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_encodable)]
        | None
    ) = Field(description="null: back to the generated name")


class MergeRequest(BaseModel):
    model_config = STRICT

    into: Annotated[int, Field(ge=0, le=MAX_CLUSTER_KEY, description="The cluster to keep")]


class MoveRequest(BaseModel):
    model_config = STRICT

    cluster: ClusterKey


class NewClusterRequest(BaseModel):
    model_config = STRICT

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_encodable)]
    question_ids: Annotated[
        list[QuestionId],
        Field(min_length=2, max_length=MAX_BATCH * 100, description="Two or more questions"),
    ]


# -- responses ---------------------------------------------------------------------------


class Answer(BaseModel):
    """Responses are read from the service's dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class Health(Answer):
    status: Literal["ok"] = "ok"


class ErrorBody(Answer):
    error: str = Field(description="What went wrong, for people")
    status: int = Field(description="The HTTP status, repeated")
    code: str = Field(description="What went wrong, for programs (e.g. 'not_encoded')")
    details: list[dict[str, object]] | None = Field(
        default=None, description="Each invalid field of a 422"
    )


class MatchOut(Answer):
    question_id: int
    external_id: str | None
    text: str
    score: float
    cluster: int | None = Field(description="Cluster key; -1: an outlier; null: not clustered")
    cluster_name: str | None
    canonical_id: int | None = Field(description="Canonical question of its near-duplicate group")
    canonical_text: str | None


class SearchOut(Answer):
    corpus: str
    query: str
    hits: list[MatchOut]
    not_encoded: int = Field(description="Stored questions a search cannot find yet")
    revision: int = Field(description="The corpus state the answer was computed at")


class CheckOut(Answer):
    question: str
    verdict: Verdict
    threshold: float
    possible_threshold: float
    threshold_source: ThresholdSource
    probability: float | None = Field(description="P(duplicate) of the best match, if calibrated")
    matches: list[MatchOut] = Field(description="At or above the threshold")
    nearest: list[MatchOut] = Field(description="The top hits, whatever their score")


class DupesOut(Answer):
    corpus: str
    results: list[CheckOut]


class CorpusOut(Answer):
    name: str
    questions: int
    model: str | None
    threshold: float
    threshold_source: ThresholdSource
    not_encoded: int
    last_ingest: datetime | None

    @field_validator("last_ingest")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """SQLite gives the stored UTC time back without its zone; RFC 3339 wants one."""
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


class CorporaOut(Answer):
    corpora: list[CorpusOut]


class ThresholdOut(Answer):
    corpus: str
    threshold: float
    possible_threshold: float
    source: ThresholdSource
    labelled_pairs: int


class RejectionOut(Answer):
    index: int = Field(description="Position of the question in the request, from 1")
    reason: str


class AddQuestionsOut(Answer):
    corpus: str
    received: int
    added: int
    already_in_corpus: int
    duplicates_in_request: int
    rejected: int
    rejections: list[RejectionOut] = Field(description="The first few rejected, with why")
    placed: int = Field(description="New questions placed into the latest run's clusters")
    unassigned: int


class LabelOut(Answer):
    corpus: str
    first_id: int
    second_id: int
    verdict: PairVerdictName
    by: str


class ClusterNameOut(Answer):
    corpus: str
    cluster: int
    name: str | None


class MergeOut(Answer):
    corpus: str
    cluster: int
    into: int
    moved: int


class MoveOut(Answer):
    corpus: str
    question_id: int
    cluster: int


class NewClusterOut(Answer):
    corpus: str
    cluster: int
    name: str
    questions: int


class UndoOut(Answer):
    corpus: str
    kind: Literal["merge", "move", "canonical", "new"]
    cluster: int | None
    questions: int = Field(description="How many questions went back to where they were")


class CanonicalOut(Answer):
    corpus: str
    question_id: int
    by: str
