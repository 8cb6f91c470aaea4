"""`Service`: one per process; owns the database sessions, the loaded models and the per-corpus
searchers, and holds every use case once. Front ends parse, call and render; nothing else.

Every answer is computed at the corpus's current state revision (`app.service.searchers`), so a
change made by any process (an ingest, a threshold, a clustering run, an edit) is seen by the
next call, with no restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.service.annotate import annotate
from app.service.evaluation import Evaluation
from app.service.results import (
    Check,
    Match,
    SearchResult,
    ThresholdInfo,
    UndoneEdit,
)
from app.service.searchers import CorpusState, SearcherCache
from app.service.training import Training
from db.calibrations import latest_calibration, threshold_source
from db.cluster_queries import cluster_views, coarse_ancestry, latest_run, rename_cluster
from db.edits import mark_canonical, merge_clusters, move_question, new_cluster, undo_last_edit
from db.errors import QclustError
from db.labels import label_counts, ordered, record_label, remove_last_label
from db.models import Cluster, ClusterRun, Corpus, PairVerdict
from db.models import Encoder as EncoderRow
from db.queries import (
    CorpusSummary,
    get_corpus,
    question_texts,
    set_duplicate_threshold,
    summarize_corpora,
)
from db.runs import close_abandoned_runs
from db.session import open_database
from db.settings import Settings
from indexer.calibration import Calibration
from indexer.encoder import Encoder, EncoderSpec
from indexer.errors import InvalidQuestionError
from indexer.readers import FileFormat, SourceRow
from indexer.search import Hit, possible_threshold, verdict_for
from indexer.validation import check_question

if TYPE_CHECKING:
    import pandas as pd

    from indexer.ingest import IngestReport

ProgressFn = Callable[[str, int, int | None], None]


def _no_progress(stage: str, done: int, total: int | None) -> None:
    pass


@dataclass(frozen=True)
class NewQuestion:
    """A question to add, as a program sends it (the HTTP API, `add_questions`)."""

    text: str
    external_id: str | None = None


@dataclass(frozen=True)
class CalibrationResult:
    corpus: str
    source: str  # what it learnt from, for people
    fitted: Calibration


@dataclass(frozen=True)
class Placement:
    placed: int
    unassigned: int


class Service:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session] | None = None) -> None:
        self.settings = settings
        self.sessions = sessions or open_database(settings.resolved_database_url)
        self.searchers = SearcherCache(settings, self.sessions)

    @property
    def training(self) -> Training:
        """Train, distil and reindex: `service.training.train(corpus=...)`."""
        return Training(self)

    @property
    def evaluation(self) -> Evaluation:
        """A model judged on a file, and stored: `service.evaluation.pairs(path)`."""
        return Evaluation(self)

    # -- reading -------------------------------------------------------------------------

    def corpora(self) -> list[CorpusSummary]:
        with self.sessions() as session:
            return summarize_corpora(session)

    def close_abandoned_runs(self) -> int:
        """Mark runs whose process is gone as abandoned: a repair the CLI's `corpora` makes;
        listings over HTTP and in the UI only read."""
        with self.sessions.begin() as session:
            return close_abandoned_runs(session)

    def state(self, corpus: str) -> CorpusState:
        return self.searchers.state(corpus)

    def search(self, corpus: str, query: str, k: int = 10) -> SearchResult:
        return self.search_many(corpus, [query], k)[0]

    def search_many(self, corpus: str, queries: Sequence[str], k: int = 10) -> list[SearchResult]:
        self._check_queries(queries)
        state = self.state(corpus)
        rows = self._annotated(state, state.searcher.search_many(queries, k))
        return [
            SearchResult(corpus, query, hits, state.searcher.not_encoded, state.revision)
            for query, hits in zip(queries, rows, strict=True)
        ]

    def check(
        self,
        corpus: str,
        questions: Sequence[str],
        *,
        k: int = 10,
        threshold: float | None = None,
    ) -> list[Check]:
        """The duplicate check: 'duplicate', 'possible' or 'new', with the nearest questions.

        Raises `NotEncodedError` rather than answer 'new' while some stored questions cannot
        be found yet (one of them may be the duplicate).
        """
        self._check_queries(questions)
        state = self.state(corpus)
        searcher = state.searcher
        checks = searcher.check_duplicates_many(questions, k=k, threshold=threshold)
        source = "own" if threshold is not None else state.threshold_source
        nearest = self._annotated(state, [check.nearest for check in checks])
        return [
            Check(
                question=check.question,
                verdict=check.verdict,
                threshold=check.threshold,
                possible_threshold=check.possible_threshold,
                threshold_source=source,
                probability=check.probability,
                matches=[match for match in matches if match.score >= check.threshold],
                nearest=matches,
            )
            for check, matches in zip(checks, nearest, strict=True)
        ]

    def threshold(self, corpus: str) -> ThresholdInfo:
        with self.sessions() as session:
            row = get_corpus(session, corpus)
            source = threshold_source(row.duplicate_threshold, latest_calibration(session, row.id))
            labels = sum(label_counts(session, row.id).values())
        value = self.settings.threshold_for(row.duplicate_threshold)
        return ThresholdInfo(corpus, value, self.possible_threshold(value), source, labels)

    def possible_threshold(self, threshold: float) -> float:
        """Scores this close below the threshold are 'possible' duplicates."""
        return possible_threshold(threshold, self.settings.possible_margin)

    def verdict(self, score: float | None, threshold: float) -> str:
        return verdict_for(score, threshold, self.possible_threshold(threshold))

    # -- writing -------------------------------------------------------------------------

    def set_threshold(self, corpus: str, value: float | None) -> ThresholdInfo:
        """Set the corpus's own threshold (None: back to the default)."""
        with self.sessions.begin() as session:
            try:
                set_duplicate_threshold(session, corpus, value)
            except ValueError as exc:
                raise QclustError(str(exc)) from None
        return self.threshold(corpus)

    def add_questions(
        self, corpus: str, questions: Sequence[NewQuestion], *, source: str = "api"
    ) -> tuple[IngestReport, Placement]:
        """Store, encode and index questions; searchable when this returns, and placed into
        the latest clustering run's clusters. The corpus must exist (its model is known)."""
        from indexer.ingest import ingest_rows

        with self.sessions() as session:
            get_corpus(session, corpus)
        rows = iter(
            [SourceRow(line=n, text=q.text, external_id=q.external_id) for n, q in
             enumerate(questions, start=1)]
        )  # fmt: skip
        encoder = self.state(corpus).searcher.encoder
        report = ingest_rows(
            rows, corpus, source=source, settings=self.settings, sessions=self.sessions,
            encoder=encoder,
        )  # fmt: skip
        return report, self.place_new(corpus) if report.added else Placement(0, 0)

    def ingest_file(
        self,
        path: Path | Sequence[Path],
        corpus: str,
        *,
        text_column: str | None = None,
        id_column: str | None = None,
        file_format: str | None = None,
        model: str | None = None,
        truncate_dim: int | None = None,
        prompt: str | None = None,
        source: str | None = None,
        progress: ProgressFn = _no_progress,
        engine: Literal["local", "ray"] = "local",
        address: str | None = None,
    ) -> tuple[IngestReport, Placement]:
        """Ingest a file (resumable), then place the new questions into existing clusters.

        A new corpus is created with `model` (else the default), `truncate_dim` and `prompt`;
        an existing one keeps its encoder, and this service's loaded copy of it is used.
        `engine="ray"` reads and encodes on a Ray cluster (`address`; None: a local one) and
        takes several files at once; its report is an `indexer.ray_ingest.RayIngestReport`.
        """
        from indexer.ingest import NewEncoder, ingest_rows
        from indexer.readers import read_rows

        paths = [path] if isinstance(path, Path) else list(path)
        fmt: FileFormat | None = file_format  # type: ignore[assignment]  # checked by the reader
        name, wanted = corpus.strip(), NewEncoder(model, truncate_dim, prompt)
        report: IngestReport
        if engine == "ray":
            from indexer.ray_ingest import import_ray, ingest_files_ray

            import_ray()  # a missing extra is said before any model loads
            report = ingest_files_ray(
                paths, name, settings=self.settings, sessions=self.sessions,
                text_column=text_column, id_column=id_column, file_format=fmt,
                new_corpus_encoder=wanted, encoder=self._loaded_encoder_of(name),
                address=address, progress=progress,
            )  # fmt: skip
        elif engine == "local" and len(paths) == 1:
            rows = read_rows(
                paths[0], text_column=text_column, id_column=id_column, file_format=fmt
            )
            report = ingest_rows(
                rows, name, source=source or str(paths[0]), settings=self.settings,
                sessions=self.sessions, new_corpus_encoder=wanted,
                encoder=self._loaded_encoder_of(name), progress=progress,
            )  # fmt: skip
        else:
            raise ValueError(
                f"engine must be 'local' (one file) or 'ray' (one or more), not {engine!r} "
                f"with {len(paths)} files"
            )
        placement = self.place_new(report.corpus) if report.added else Placement(0, 0)
        return report, placement

    def _loaded_encoder_of(self, corpus: str) -> Encoder | None:
        """The existing corpus's encoder, loaded once per service; None for a new corpus."""
        with self.sessions() as session:
            row = session.scalar(select(Corpus).where(Corpus.name == corpus))
            if row is None or row.encoder_id is None:
                return None
            stored = session.get_one(EncoderRow, row.encoder_id)
            spec = EncoderSpec(stored.model, stored.normalize, stored.prompt, stored.truncate_dim)
        return self.searchers.encoder(spec)

    def place_new(self, corpus: str) -> Placement:
        """New questions join the latest run's clusters until the next full run."""
        from clustering.assign import place_new_questions

        placed = place_new_questions(corpus, settings=self.settings, sessions=self.sessions)
        return Placement(placed.placed, placed.unassigned)

    def cluster(
        self, corpus: str, params: object | None = None, *, progress: ProgressFn = _no_progress
    ) -> ClusterRun:
        """A full clustering run; returns the stored run."""
        from clustering.params import ClusterParams
        from clustering.pipeline import run_clustering

        run_id = run_clustering(
            corpus, settings=self.settings, sessions=self.sessions,
            params=params if isinstance(params, ClusterParams) else ClusterParams(),
            progress=progress,
        )  # fmt: skip
        with self.sessions() as session:
            run = session.get_one(ClusterRun, run_id)
            session.expunge(run)
        return run

    def attach_outliers(self, corpus: str, *, min_similarity: float) -> int:
        """Put the latest run's outliers at least this similar to their nearest cluster into
        it (until the next run); returns how many moved."""
        from clustering.assign import attach_outliers

        if not 0.0 < min_similarity <= 1.0:
            raise QclustError(f"a similarity is in (0, 1], not {min_similarity}")
        return attach_outliers(corpus, sessions=self.sessions, min_similarity=min_similarity)

    def rename_corpus(self, old: str, new: str) -> None:
        from app.service.corpora import rename_corpus

        rename_corpus(self.sessions, old, new)

    def delete_corpus(self, name: str) -> int:
        """Delete a corpus and everything of it; returns how many questions went."""
        from app.service.corpora import delete_corpus

        return delete_corpus(self.sessions, self.settings, name)

    def question_count(self, corpus: str) -> int:
        from app.service.corpora import question_count

        return question_count(self.sessions, corpus)

    def rename_cluster(self, corpus: str, key: int, name: str | None) -> None:
        with self.sessions.begin() as session:
            try:
                rename_cluster(session, get_corpus(session, corpus).id, key, name)
            except KeyError:
                raise QclustError(f"corpus '{corpus}' has no cluster {key}") from None

    def export(self, corpus: str) -> pd.DataFrame:
        """Every question with its cluster (name included), outlier and placed flags,
        near-duplicate group and canonical question, and the file's own columns."""
        from app.service.export import export_frame

        with self.sessions() as session:
            row = get_corpus(session, corpus)
            run = latest_run(session, row.id)
            names = {view.key: view.name for view in cluster_views(session, run)} if run else {}
            coarse = coarse_ancestry(session, run) if run else []
            return export_frame(session, row.id, run.id if run else None, names, coarse)

    def nearest_clusters(self, corpus: str, key: int) -> list[tuple[int, float]]:
        """The latest run's other clusters, most similar first (cosine of their most central
        questions): the likely targets of a merge. Read from the stored vectors alone: no
        model and no index is loaded (building the searcher for this took 5 of the Clusters
        page's 9 s first open at a million questions)."""
        from db.vectors import stored_dtype, vectors_of

        with self.sessions() as session:
            found = get_corpus(session, corpus)
            run = latest_run(session, found.id)
            if run is None or found.encoder_id is None:
                return []
            rows = session.execute(
                select(Cluster.key, Cluster.representative_id).where(
                    Cluster.run_id == run.id,
                    Cluster.level == 0,
                    Cluster.representative_id.is_not(None),
                )
            ).all()
            by_question = {int(question): int(cluster) for cluster, question in rows if question}
            encoder = session.get_one(EncoderRow, found.encoder_id)
            ids, vectors = vectors_of(
                session, found.id, encoder.id, sorted(by_question),
                dimension=encoder.dimension, dtype=stored_dtype(encoder),
            )  # fmt: skip
        keys = [by_question[int(question)] for question in ids]
        if key not in keys:
            return []
        scores = vectors @ vectors[keys.index(key)]
        ranked = sorted(zip(keys, scores.tolist(), strict=True), key=lambda pair: -pair[1])
        return [(other, round(score, 6)) for other, score in ranked if other != key]

    # Edits apply to the latest run; `seen_run`, the run the analyst was looking at, refuses an
    # edit made on a page that a newer run has since replaced.

    def merge_clusters(
        self, corpus: str, source: int, target: int, *, by: str, seen_run: int | None = None
    ) -> int:
        """Merge cluster `source` into `target` in the latest run; returns how many moved."""
        with self.sessions.begin() as session:
            run = self._latest_run(session, corpus, seen_run)
            return merge_clusters(session, run, source, target, by=by)

    def move_question(
        self, corpus: str, question_id: int, target: int, *, by: str, seen_run: int | None = None
    ) -> None:
        """Move a question to cluster `target`, or out of every cluster (-1)."""
        with self.sessions.begin() as session:
            run = self._latest_run(session, corpus, seen_run)
            move_question(session, run, question_id, target, by=by)

    def mark_canonical(
        self, corpus: str, question_id: int, *, by: str, seen_run: int | None = None
    ) -> None:
        with self.sessions.begin() as session:
            run = self._latest_run(session, corpus, seen_run)
            mark_canonical(session, run, question_id, by=by)

    def new_cluster(
        self, corpus: str, question_ids: Sequence[int], name: str, *, by: str,
        seen_run: int | None = None,
    ) -> int:  # fmt: skip
        """Make a cluster of the chosen questions in the latest run; returns its key."""
        with self.sessions.begin() as session:
            run = self._latest_run(session, corpus, seen_run)
            return new_cluster(session, run, question_ids, name=name, by=by)

    def undo_last_edit(self, corpus: str, *, by: str, seen_run: int | None = None) -> UndoneEdit:
        """Take back `by`'s latest change to the clusters (the corpus's latest, on this run)."""
        with self.sessions.begin() as session:
            run = self._latest_run(session, corpus, seen_run)
            edit = undo_last_edit(session, run, by=by)
            moved = len((edit.undo or {}).get("members", []))
            return UndoneEdit(edit.kind.value, edit.target_key, moved)

    def label_pair(
        self, corpus: str, first_id: int, second_id: int, verdict: PairVerdict, *, by: str
    ) -> None:
        """An analyst's verdict on a pair, stored with the pair's cosine in the corpus's model."""
        pair = ordered(first_id, second_id)
        searcher = self.state(corpus).searcher
        ids, vectors = searcher.vectors_of(list(pair))
        if len(ids) != 2:
            raise QclustError(f"corpus '{corpus}' has no encoded questions {pair[0]} and {pair[1]}")
        similarity = float(vectors[0] @ vectors[1])
        # A label changes no answer (calibrating does), so it leaves the state revision alone.
        with self.sessions.begin() as session:
            record_label(session, searcher.corpus_id, pair, verdict, similarity=similarity, by=by)

    def undo_last_label(self, corpus: str, *, by: str) -> tuple[str, str] | None:
        """Take back `by`'s latest label in the corpus; returns the pair's texts, or None."""
        with self.sessions.begin() as session:
            label = remove_last_label(session, get_corpus(session, corpus).id, by=by)
            if label is None:
                return None
            texts = question_texts(session, [label.first_id, label.second_id])
            return texts.get(label.first_id, ""), texts.get(label.second_id, "")

    def calibrate(
        self,
        corpus: str,
        *,
        use_labels: bool = True,
        pairs_file: Path | None = None,
        precision: float | None = None,
    ) -> CalibrationResult:
        """Fit the corpus's duplicate threshold from analysts' labels and/or a pairs file (two
        texts and a 0/1 label): F1-optimal, or the lowest reaching `precision`; stored, and
        made the corpus's threshold."""
        import numpy as np

        from db.calibrations import labelled_scores, save_calibration
        from indexer.calibration import calibrate as fit
        from indexer.eval_data import read_pairs
        from indexer.evaluate import encode_pairs, similarities

        scores: list[float] = []
        truth: list[int] = []
        sources: list[str] = []
        if use_labels:
            with self.sessions() as session:
                label_scores, label_truth = labelled_scores(session, get_corpus(session, corpus).id)
            scores += label_scores
            truth += label_truth
            sources.append(f"{len(label_scores)} analyst labels")
        if pairs_file is not None:
            data = read_pairs(pairs_file)
            # The corpus's own encoder (model, prompt, truncation): its cosines are the ones judged.
            encoder = self.state(corpus).searcher.encoder
            cosines = similarities(*encode_pairs(encoder, data.first, data.second))["cosine"]
            scores += cosines.tolist()
            truth += data.labels.tolist()
            sources.append(f"{len(data.first)} pairs from {pairs_file.name}")
        if not sources:
            raise QclustError("nothing to learn from: use the analysts' labels or a pairs file")
        fitted = fit(np.array(scores), np.array(truth), target_precision=precision)
        source = "; ".join(sources)
        with self.sessions.begin() as session:
            save_calibration(session, get_corpus(session, corpus), fitted, source=source)
        return CalibrationResult(corpus, source, fitted)

    # -- helpers -------------------------------------------------------------------------

    def _check_queries(self, texts: Sequence[str]) -> None:
        """The rules stored questions follow (one length limit), for queries too."""
        for number, text in enumerate(texts, start=1):
            problem = check_question(text, max_chars=self.settings.max_question_chars)
            if problem is not None and problem.kind != "empty":  # empty: EmptyQueryError later
                where = f"question {number}: " if len(texts) > 1 else ""
                raise InvalidQuestionError(where + problem.message)

    def _annotated(self, state: CorpusState, rows: Sequence[Sequence[Hit]]) -> list[list[Match]]:
        with self.sessions() as session:
            return annotate(session, state, rows)

    def _latest_run(self, session: Session, corpus: str, seen_run: int | None) -> ClusterRun:
        run = latest_run(session, get_corpus(session, corpus).id)
        if run is None:
            raise QclustError(f"corpus '{corpus}' has no clustering run yet; run 'qclust cluster'")
        if seen_run is not None and run.id != seen_run:
            raise QclustError(
                "a newer clustering run has finished since this page was drawn; nothing was "
                "changed: reload and make the change again"
            )
        return run
