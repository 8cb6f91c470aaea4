"""`qclust cluster-rename`, `cluster-merge`, `move`, `canonical`, `cluster-new`, `undo`: an
analyst's edits to the latest clustering run, from the command line.

Each edit goes through the service as the UI's do: stored with who made it (`--by`, else
`QCLUST_ANALYST`, else the OS user) and replayed on every later run. Messages name clusters
by key and name: keys are what the other commands take, names are what people remember.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from app.cli_common import (
    NEGATIVE_VALUES,
    app,
    cluster_label,
    default_analyst,
    fail,
    open_service,
    out,
    plural,
)
from db.cluster_queries import ClusterView, cluster_views, latest_run
from db.errors import QclustError
from db.queries import get_corpus, question_texts
from db.ui_queries import question_clusters

if TYPE_CHECKING:
    from app.service import Service

T = TypeVar("T")
CorpusArgument = Annotated[str, typer.Argument(help="Corpus name.")]
KeyArgument = Annotated[int, typer.Argument(help="Cluster id (from 'qclust clusters').")]
QuestionArgument = Annotated[
    int, typer.Argument(help="Question id (from 'qclust cluster-show' or '--json' output).")
]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="Who makes the edit (default: $QCLUST_ANALYST, else the OS user)."),
]


@app.command("cluster-rename")
def cluster_rename(
    corpus: CorpusArgument,
    key: KeyArgument,
    name: Annotated[str, typer.Argument(help="The new name; '' gives back the automatic one.")],
) -> None:
    """Name a cluster; the name stays with it on later runs. An empty NAME clears it."""
    service = open_service()
    before = _views(service, corpus).get(key)
    new_name = name.strip() or None
    _edit(lambda: service.rename_cluster(corpus, key, new_name))
    after = _views(service, corpus).get(key)
    if new_name is None:
        automatic = f": '{after.auto_name}'" if after else ""
        out.print(f"cluster {key} has its automatic name again{automatic}", highlight=False)
        return
    was = f" (was '{before.name}')" if before and before.name != new_name else ""
    out.print(f"cluster {key} is now named '{new_name}'{was}", highlight=False)


@app.command("cluster-merge")
def cluster_merge(
    corpus: CorpusArgument,
    source: Annotated[int, typer.Argument(help="The cluster that goes (its id).")],
    target: Annotated[int, typer.Argument(help="The cluster that takes its questions.")],
    by: ByOption = None,
) -> None:
    """Merge cluster SOURCE into TARGET; later runs keep their questions together."""
    service = open_service()
    views = _views(service, corpus)
    moved = _edit(
        lambda: service.merge_clusters(corpus, source, target, by=by or default_analyst())
    )
    merged = _views(service, corpus).get(target)
    holds = f"; it now holds {plural(merged.size, 'question')}" if merged else ""
    out.print(
        f"merged {_label(views, source)} into {_label(views, target)}: "
        f"{plural(moved, 'question')} moved{holds}",
        highlight=False,
    )


@app.command(context_settings=NEGATIVE_VALUES)
def move(
    corpus: CorpusArgument,
    question_id: QuestionArgument,
    target: Annotated[int, typer.Argument(help="Cluster id; -1 takes it out of every cluster.")],
    by: ByOption = None,
) -> None:
    """Move one question to cluster TARGET (-1: out of every cluster); kept on later runs."""
    service = open_service()
    views = _views(service, corpus)
    text, source = _question(service, corpus, question_id)
    _edit(lambda: service.move_question(corpus, question_id, target, by=by or default_analyst()))
    where = "out of every cluster" if target == -1 else f"to {_label(views, target)}"
    out.print(
        f"moved question {question_id} '{text}' from {_label(views, source)} {where}",
        highlight=False,
    )


@app.command()
def canonical(corpus: CorpusArgument, question_id: QuestionArgument, by: ByOption = None) -> None:
    """Make a question the canonical one of its near-duplicate group: the answer `dupes` gives."""
    service = open_service()
    views = _views(service, corpus)
    text, key = _question(service, corpus, question_id)
    _edit(lambda: service.mark_canonical(corpus, question_id, by=by or default_analyst()))
    out.print(
        f"question {question_id} '{text}' is now the canonical question of its near-duplicate "
        f"group, in {_label(views, key)}",
        highlight=False,
    )


@app.command("cluster-new")
def cluster_new(
    corpus: CorpusArgument,
    name: Annotated[str, typer.Argument(help="The new cluster's name.")],
    question_ids: Annotated[
        list[int], typer.Argument(help="Two or more question ids, from wherever they are.")
    ],
    by: ByOption = None,
) -> None:
    """Make a cluster of the chosen questions, named NAME; later runs keep them together."""
    service = open_service()
    key = _edit(lambda: service.new_cluster(corpus, question_ids, name, by=by or default_analyst()))
    out.print(
        f"made cluster {key} '{name.strip()}' of {plural(len(set(question_ids)), 'question')}",
        highlight=False,
    )


@app.command()
def undo(corpus: CorpusArgument, by: ByOption = None) -> None:
    """Take back your latest merge, move, new cluster or canonical pick (while it is the
    corpus's latest change and its run the latest run); it is no longer replayed."""
    service = open_service()
    names = {key: view.name for key, view in _views(service, corpus).items()}
    undone = _edit(lambda: service.undo_last_edit(corpus, by=by or default_analyst()))
    out.print(f"undid {undone.describe(names)}", highlight=False)


def _edit(change: Callable[[], T]) -> T:
    """An edit the run refuses (an unknown cluster, a question not in it) is one line."""
    try:
        return change()
    except QclustError as exc:
        fail(str(exc))


def _views(service: Service, corpus: str) -> dict[int, ClusterView]:
    """The latest run's clusters by key, as `qclust clusters` lists them."""
    with service.sessions() as session:
        run = _edit(lambda: latest_run(session, get_corpus(session, corpus).id))
        if run is None:
            fail(f"corpus '{corpus}' has no clustering yet; run 'qclust cluster --corpus {corpus}'")
        return {view.key: view for view in cluster_views(session, run)}


def _question(service: Service, corpus: str, question_id: int) -> tuple[str, int | None]:
    """The question's text and its cluster in the latest run (None: not in the run)."""
    with service.sessions() as session:
        run = latest_run(session, get_corpus(session, corpus).id)
        if run is None:
            fail(f"corpus '{corpus}' has no clustering yet")
        text = question_texts(session, [question_id]).get(question_id, "?")
        key = question_clusters(session, run.id, [question_id]).get(question_id)
    return text, key


def _label(views: dict[int, ClusterView], key: int | None) -> str:
    view = views.get(key) if key is not None else None
    return cluster_label(key, view.name if view else None)
