"""`qclust cluster`, `clusters`, `cluster-show`, `outliers`: the clustering stage from the CLI."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.cli_common import (
    NEGATIVE_VALUES,
    CorpusOption,
    JsonOption,
    app,
    cluster_label,
    emit_json,
    err,
    fail,
    open_service,
    out,
    plural,
)
from clustering.embedding import DEFAULT_SEED
from clustering.sampled import DEFAULT_SAMPLE
from db.cluster_queries import (
    ClusterView,
    child_views,
    cluster_members,
    cluster_path,
    cluster_views,
    latest_run,
    level_counts,
    run_number,
)
from db.models import ClusterMember, ClusterRun, Corpus, QuestionVector
from db.queries import get_corpus
from db.session import open_database
from db.settings import get_settings
from db.ui_queries import outlier_members, run_member_count


@app.command()
def cluster(
    corpus: CorpusOption,
    granularity: Annotated[
        str,
        typer.Option(
            help="Topics finer or coarser than the most coherent level (auto: that level)."
        ),
    ] = "auto",
    min_cluster_size: Annotated[
        int | None,
        typer.Option(help="Smallest topic, fixed (default: chosen per corpus, see --granularity)."),
    ] = None,
    min_samples: Annotated[int | None, typer.Option(help="HDBSCAN min_samples.")] = None,
    selection: Annotated[str, typer.Option(help="HDBSCAN selection: eom or leaf.")] = "eom",
    neighbors: Annotated[int, typer.Option(help="Neighbours per question in the layouts.")] = 15,
    components: Annotated[int, typer.Option(help="Dimensions HDBSCAN runs in.")] = 5,
    duplicate_threshold: Annotated[
        float | None, typer.Option(help="Near-duplicate cosine (default: the corpus's).")
    ] = None,
    seed: Annotated[
        int,
        typer.Option(help="Random seed: the same corpus, options and seed give the same clusters."),
    ] = DEFAULT_SEED,
    no_map: Annotated[bool, typer.Option("--no-map", help="Skip the 2-D map.")] = False,
    keep_outliers: Annotated[
        bool,
        typer.Option(
            "--keep-outliers",
            help="Leave every outlier HDBSCAN finds out of the topics (default: those as close "
            "to a topic's centre as its members join it).",
        ),
    ] = False,
    topic_sample: Annotated[
        int,
        typer.Option(
            min=0,
            help="Above twice this many questions, fit topics on a sample this big and place "
            "the rest (0: never sample).",
        ),
    ] = DEFAULT_SAMPLE,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Group near-duplicates and topics, name them, map them; stored as one run."""
    from app.progress import StageProgress
    from clustering.params import ClusterParams

    params = ClusterParams(
        granularity=granularity,  # type: ignore[arg-type]  # validated by ClusterParams
        min_cluster_size=min_cluster_size,
        min_samples=min_samples,
        selection=selection,  # type: ignore[arg-type]  # validated by ClusterParams
        n_neighbors=neighbors,
        n_components=components,
        duplicate_threshold=duplicate_threshold,
        make_map=not no_map,
        join_outliers=not keep_outliers,
        random_state=seed,
        topic_sample=topic_sample,
    )
    service = open_service()
    with StageProgress(err, enabled=not quiet) as progress:
        run = service.cluster(corpus, params, progress=progress)
    with service.sessions() as session:
        changes = [view.change for view in cluster_views(session, run)]
        number = run_number(session, run)
    counts = ", ".join(f"{changes.count(c)} {c}" for c in ("new", "kept", "merged", "split"))
    gone = len((run.changes or {}).get("gone", []))
    out.print(
        f"run {number}: {plural(run.cluster_count, 'cluster')} ({counts}, {gone} gone), "
        f"{run.noise_share:.1%} outliers, {plural(run.group_count, 'near-duplicate group')}, "
        f"{plural(run.question_count, 'question')} in {run.seconds or 0:.1f} s",
        highlight=False,
    )
    out.print(level_summary(run.params), highlight=False)


def level_summary(params: dict[str, Any]) -> str:
    """How the run's topic level was chosen, in words."""
    chosen = params.get("chosen_min_cluster_size")
    scores = params.get("level_scores") or {}
    sample = params.get("fitted_on_sample")
    fitted = (
        f"; topics fitted on a sample of {sample:,} questions, the rest placed by their "
        "nearest sampled neighbours"
        if sample
        else ""
    )
    if not scores:
        return f"smallest topic: {chosen} questions (given){fitted}" if chosen else ""
    tried = sorted(int(size) for size in scores)
    granularity = params.get("granularity", "auto")
    how = "the most coherent" if granularity == "auto" else f"{granularity} than the most coherent"
    return (
        f"smallest topic: {chosen} questions, {how} of sizes {tried[0]} to {tried[-1]} "
        "(coherence: cosine silhouette x share clustered; --granularity finer|coarser)" + fitted
    )


def has_unplaced_questions(session: Session, run: ClusterRun) -> bool:
    """Whether the corpus has encoded questions that `run` has not seen (ingested after it, and
    not placed yet): a query, so that listing clusters needs no vectors and no index."""
    encoder_id = select(Corpus.encoder_id).where(Corpus.id == run.corpus_id).scalar_subquery()
    in_run = (
        select(ClusterMember.question_id)
        .where(
            ClusterMember.run_id == run.id, ClusterMember.question_id == QuestionVector.question_id
        )
        .exists()
    )
    unseen = select(QuestionVector.question_id).where(
        QuestionVector.corpus_id == run.corpus_id, QuestionVector.encoder_id == encoder_id, ~in_run
    )
    return session.scalar(unseen.limit(1)) is not None


def _latest(corpus: str) -> tuple[sessionmaker[Session], ClusterRun]:
    settings = get_settings()
    sessions = open_database(settings.resolved_database_url)
    with sessions() as session:
        run = latest_run(session, get_corpus(session, corpus).id)
    if run is None:
        fail(f"corpus '{corpus}' has no clustering yet; run 'qclust cluster --corpus {corpus}'")
    return sessions, run


@app.command()
def clusters(
    corpus: CorpusOption,
    limit: Annotated[int, typer.Option(help="How many clusters to list.")] = 50,
    level: Annotated[
        int, typer.Option(min=0, help="0: the topics; 1, 2, ...: coarser topics holding them.")
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """List the latest run's clusters: size, name, keywords, representative question."""
    sessions, run = _latest(corpus)
    with sessions() as session:
        unplaced = has_unplaced_questions(session, run)
    if unplaced:  # only then are the vectors and the index loaded
        from app.service import Service

        placed = Service(get_settings(), sessions).place_new(corpus)
        err.print(
            f"placed {plural(placed.placed, 'new question')}, {placed.unassigned:,} unassigned"
        )
    with sessions() as session:
        counts = level_counts(session, run)
        if level >= len(counts):
            fail(f"the latest run of corpus '{corpus}' has levels 0 to {len(counts) - 1}")
        views = cluster_views(session, run, level=level)[:limit]
        above = {v.key: v.name for v in cluster_views(session, run, level=level + 1)}
        number = run_number(session, run)
    if as_json:
        emit_json({"run": run.id, "level": level, "levels": counts,
                   "clusters": [asdict(v) for v in views]})  # fmt: skip
        return
    columns = ["id", "size", "change", "name", "keywords", "representative"]
    table = Table(*columns, *(["within"] if above else []), box=None)
    for v in views:
        keywords = ", ".join(v.keywords[:5])
        row = [str(v.key), f"{v.size:,}", v.change, v.name, keywords, v.representative or ""]
        parent = above.get(v.parent_key, "") if v.parent_key is not None else ""
        table.add_row(*row, *([parent] if above else []))
    out.print(table)
    out.print(
        f"run {number}: {run.noise_share:.1%} outliers ('qclust outliers'); levels: "
        + ", ".join(f"{n} {_level_name(n)} ({c:,})" for n, c in enumerate(counts))
        + (" ('--level N')" if len(counts) > 1 else ""),
        highlight=False,
    )


def _level_name(level: int) -> str:
    return "topics" if level == 0 else "coarse topics" if level == 1 else "coarser topics"


@app.command("cluster-show", context_settings=NEGATIVE_VALUES)
def cluster_show(
    key: Annotated[int, typer.Argument(help="Cluster id (from 'qclust clusters'); -1: outliers.")],
    corpus: CorpusOption,
    limit: Annotated[int, typer.Option(help="How many members to list.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Members of one cluster, most central first."""
    sessions, run = _latest(corpus)
    with sessions() as session:
        members = cluster_members(session, run.id, key, limit=limit)
        path = cluster_path(session, run, key)
        view = path[-1] if path else None
        size = run_member_count(session, run.id, key)
        if view is not None and view.level > 0:
            children = child_views(session, run, key, view.level)
            _show_coarse(view, path, children, as_json=as_json, run_id=run.id)
            return
    if not members:
        fail(f"the latest run of corpus '{corpus}' has no cluster {key}")
    if as_json:
        emit_json(
            {"run": run.id, "cluster": key, "name": view.name if view else None, "size": size,
             "path": _path_json(path), "members": [asdict(m) for m in members]}
        )  # fmt: skip
        return
    name = view.name if view else "outliers"
    change = f", {view.change}" if view else ""
    _print_path(path)
    out.print(
        f"cluster {key} · {name} · {plural(size, 'question')}{change}; showing "
        f"{len(members):,}, most central first (centrality: cosine to the cluster's mean "
        "direction; id: what 'qclust move' and 'qclust canonical' take)",
        highlight=False,
    )
    for member in members:
        flag = " (placed)" if member.placed else ""
        out.print(
            f"{member.centrality:.3f}  {member.question_id:>6}  {member.text}{flag}",
            highlight=False,
        )


def _path_json(path: list[ClusterView]) -> list[dict[str, object]]:
    return [{"key": p.key, "name": p.name, "level": p.level} for p in path]


def _print_path(path: list[ClusterView]) -> None:
    """Coarsest first: `path: 51 account / api > 47 slack / notifications > 3 slack ...`."""
    if len(path) > 1:
        out.print("path: " + " > ".join(f"{p.key} {p.name}" for p in path), highlight=False)


def _show_coarse(
    view: ClusterView, path: list[ClusterView], children: list[ClusterView], *, as_json: bool,
    run_id: int,
) -> None:  # fmt: skip
    """A coarse topic: the topics it holds, largest first."""
    if as_json:
        emit_json(
            {"run": run_id, "cluster": view.key, "name": view.name, "size": view.size,
             "level": view.level,
             "path": _path_json(path), "children": [asdict(child) for child in children]}
        )  # fmt: skip
        return
    _print_path(path)
    out.print(
        f"cluster {view.key} · {view.name} · {plural(view.size, 'question')}, level "
        f"{view.level} ({_level_name(view.level)}): holds {plural(len(children), 'cluster')} "
        "('qclust cluster-show ID' on one of them lists its questions)",
        highlight=False,
    )
    table = Table("id", "size", "name", "representative", box=None)
    for child in children:
        table.add_row(str(child.key), f"{child.size:,}", child.name, child.representative or "")
    out.print(table)


@app.command()
def outliers(
    corpus: CorpusOption,
    attach: Annotated[bool, typer.Option(help="Move close outliers into their cluster.")] = False,
    min_similarity: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="How close an outlier must be to attach.")
    ] = 0.6,
    limit: Annotated[int, typer.Option(help="How many to list.")] = 30,
) -> None:
    """The questions no topic took: an inbox, with the nearest cluster of each."""
    from sqlalchemy import func

    from clustering.assign import attach_outliers

    sessions, run = _latest(corpus)
    if attach:
        moved = attach_outliers(corpus, sessions=sessions, min_similarity=min_similarity)
        out.print(f"attached {moved} outliers with similarity >= {min_similarity:.2f}")
    with sessions() as session:
        total = session.scalar(
            select(func.count()).where(
                ClusterMember.run_id == run.id, ClusterMember.cluster_key == -1
            )
        )
        members = outlier_members(session, run.id, limit=limit, offset=0)
        names = {v.key: v.name for v in cluster_views(session, run)}
    out.print(
        f"{total:,} outliers of {run.question_count:,} questions, closest to a cluster first "
        "(similarity: cosine to the nearest clustered neighbour)",
        highlight=False,
    )
    table = Table("similarity", "id", "question", "nearest cluster", box=None)
    for m in members:
        similarity = "-" if m.nearest_similarity is None else f"{m.nearest_similarity:.3f}"
        near = (
            "-" if m.nearest_key is None else cluster_label(m.nearest_key, names.get(m.nearest_key))
        )
        table.add_row(similarity, str(m.question_id), m.text, near)
    out.print(table)
