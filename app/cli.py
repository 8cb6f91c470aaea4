"""`qclust`: ingest question files, search them, and check new questions for duplicates."""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from app.cli_common import (
    CorpusOption,
    JsonOption,
    app,
    emit_json,
    err,
    fail,
    out,
    print_error,
    reserve_stdout_for_json,
)
from db.errors import QclustError
from db.queries import get_corpus, set_duplicate_threshold, summarize_corpora
from db.session import open_database
from db.settings import get_settings
from indexer.readers import FILE_FORMATS, FileFormat


@app.callback()
def configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
    )


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, TSV, JSONL, Parquet or text file.")],
    corpus: CorpusOption,
    text_column: Annotated[str | None, typer.Option(help="Column with the question.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with your own id.")] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help=f"One of {', '.join(FILE_FORMATS)}.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model for a new corpus: local path or hub name.")
    ] = None,
    truncate_dim: Annotated[
        int | None, typer.Option(min=1, help="Matryoshka: keep this many dimensions (new corpus).")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option(help="Prompt before every text (new corpus; e5: 'query: ').")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Store, encode and index every new question of FILE; re-run to resume."""
    from app.progress import StageProgress
    from indexer.ingest import ingest_file

    if file_format is not None and file_format not in FILE_FORMATS:
        fail(f"unknown format '{file_format}'; use one of {', '.join(FILE_FORMATS)}")
    fmt: FileFormat | None = file_format  # type: ignore[assignment]
    try:
        with StageProgress(err, enabled=not quiet) as progress:
            report = ingest_file(
                file,
                corpus,
                settings=get_settings(),
                text_column=text_column,
                id_column=id_column,
                file_format=fmt,
                model=model,
                truncate_dim=truncate_dim,
                prompt=prompt,
                progress=progress,
            )
    except KeyboardInterrupt:
        fail(INTERRUPTED, 130)
    for rejection in report.rejections:
        err.print(f"{file}:{rejection.line}: {rejection.reason}", highlight=False, markup=False)
    if report.rejected > len(report.rejections):
        err.print(f"... and {report.rejected - len(report.rejections):,} more rejected rows")
    reasons = ", ".join(f"{n:,} {kind}" for kind, n in report.rejection_reasons.most_common())
    out.print(
        f"{file} -> corpus '{corpus}': {report.rows_read:,} rows read, {report.added:,} new, "
        f"{report.already_in_corpus:,} already in the corpus, "
        f"{report.duplicates_in_file:,} repeated in the file, "
        f"{report.rejected:,} rejected" + (f" ({reasons})" if reasons else ""),
        highlight=False,
    )
    if report.nothing_done:
        fail(f"no usable question in {file}; nothing was stored")
    out.print(
        f"encoded {report.encoded:,} questions; index {report.index_kind} holds "
        f"{report.index_size:,} vectors ({report.seconds:.1f} s)",
        highlight=False,
    )
    if report.added:
        _place_into_clusters(corpus)


def _place_into_clusters(corpus: str) -> None:
    """New questions join the latest clustering run's clusters until the next full run."""
    from clustering.assign import place_new_questions

    settings = get_settings()
    sessions = open_database(settings.resolved_database_url)
    placed = place_new_questions(corpus, settings=settings, sessions=sessions)
    if placed.placed or placed.unassigned:
        out.print(
            f"placed {placed.placed:,} new questions into existing clusters, "
            f"{placed.unassigned:,} unassigned (until the next 'qclust cluster')"
        )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question to search for.")],
    corpus: CorpusOption,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many results.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """The questions nearest to QUERY, with cosine scores."""
    from indexer.search import open_searcher

    searcher = open_searcher(corpus, settings=get_settings())
    hits = searcher.search(query, k)
    if as_json:
        emit_json(
            {"query": query, "corpus": corpus, "hits": [asdict(h) for h in hits],
             "not_encoded": searcher.not_encoded}
        )  # fmt: skip
        return
    if searcher.not_encoded:
        err.print(f"warning: {searcher.location.not_encoded_message()}", markup=False)
    table = Table("score", "id", "question", box=None, header_style="bold")
    for hit in hits:
        table.add_row(f"{hit.score:.3f}", hit.external_id or str(hit.question_id), hit.text)
    out.print(table)


@app.command()
def dupes(
    question: Annotated[str, typer.Argument(help="The new question to check.")],
    corpus: CorpusOption,
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Override the corpus threshold.")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Neighbours to look at.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Does QUESTION duplicate questions already in the corpus?"""
    from indexer.search import open_searcher

    check = open_searcher(corpus, settings=get_settings()).check_duplicates(
        question, k=k, threshold=threshold
    )
    if as_json:
        payload = asdict(check)
        payload["corpus"] = corpus
        emit_json(payload)
        return
    colour = {"duplicate": "red", "possible": "yellow", "new": "green"}[check.verdict]
    chance = "" if check.probability is None else f", P(duplicate) {check.probability:.2f}"
    out.print(
        f"[bold {colour}]{check.verdict}[/] (threshold {check.threshold:.2f}, "
        f"possible from {check.possible_threshold:.2f}{chance})",
        markup=True,
    )
    shown = check.matches or check.nearest[:3]
    if not check.matches and shown:
        out.print("nearest questions:")
    for hit in shown:
        out.print(f"  {hit.score:.3f}  {hit.text}", highlight=False, markup=False)


@app.command()
def corpora(as_json: JsonOption = False) -> None:
    """List corpora with their sizes, models and thresholds."""
    settings = get_settings()
    from db.runs import close_abandoned_runs

    with open_database(settings.resolved_database_url).begin() as session:
        close_abandoned_runs(session)
        summaries = summarize_corpora(session)
    if as_json:
        emit_json([asdict(s) for s in summaries])
        return
    table = Table("corpus", "questions", "model", "threshold", "last ingest", box=None)
    for s in summaries:
        threshold = s.duplicate_threshold or settings.duplicate_threshold
        last = s.last_ingest.strftime("%Y-%m-%d %H:%M") if s.last_ingest else "-"
        table.add_row(s.name, f"{s.questions:,}", s.model or "-", f"{threshold:.2f}", last)
    out.print(table)
    for s in summaries:
        if s.not_encoded:
            err.print(
                f"warning: {s.not_encoded:,} questions of corpus '{s.name}' are not encoded yet; "
                "run 'qclust ingest' again (or wait for the ingest that is running)",
                markup=False,
            )


@app.command()
def threshold(
    corpus: Annotated[str, typer.Argument(help="Corpus name.")],
    value: Annotated[float | None, typer.Argument(help="New cosine threshold, 0 to 1.")] = None,
    clear: Annotated[bool, typer.Option(help="Go back to the default threshold.")] = False,
) -> None:
    """Show or set a corpus's duplicate threshold."""
    settings = get_settings()
    sessions = open_database(settings.resolved_database_url)
    with sessions.begin() as session:
        if value is not None or clear:
            try:
                set_duplicate_threshold(session, corpus, None if clear else value)
            except ValueError as exc:
                fail(str(exc))
        own = get_corpus(session, corpus).duplicate_threshold
    source = "own" if own is not None else "default"
    out.print(f"{corpus}: {own or settings.duplicate_threshold:.2f} ({source})")


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@app.command()
def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8501,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; anything but loopback exposes the UI."),
    ] = "127.0.0.1",
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the UI in this machine's browser.")
    ] = False,
) -> None:
    """Start the web UI: unattended (it asks nothing), on this machine only unless --host."""
    import subprocess

    from app.ui_launch import streamlit_command, url_for, wait_then_open

    if host not in LOOPBACK_HOSTS:
        err.print(
            f"[bold yellow]warning:[/] listening on {escape(host)}: anyone who reaches this "
            "address can search, upload, ingest, merge and label; nothing asks who they are",
            markup=True,
            highlight=False,
        )
    url = url_for(host, port)
    err.print(f"qclust UI: {url}  (Ctrl-C stops it)", highlight=False)
    process = subprocess.Popen(streamlit_command(host, port), stdin=subprocess.DEVNULL)
    try:
        if open_browser:
            wait_then_open(url, process)
        raise typer.Exit(process.wait())
    except KeyboardInterrupt:
        process.terminate()
        process.wait()
        raise typer.Exit(130) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8600,
) -> None:
    """Serve the duplicate check and search over HTTP (JSON) for other programs."""
    from app.http_api import LookupService, make_server

    server = make_server(LookupService(get_settings()), host, port)
    err.print(f"serving on http://{host}:{server.server_port} (GET /dupes?corpus=NAME&q=TEXT)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


from app import (  # noqa: E402,F401  (each registers its commands)
    cli_calibrate,
    cli_clusters,
    cli_eval,
    cli_models,
    cli_multilingual,
)

INTERRUPTED = "interrupted; run the same command again to resume where it stopped"


def main() -> None:
    restore = reserve_stdout_for_json() if "--json" in sys.argv[1:] else None
    try:
        app()
    except QclustError as exc:
        print_error(str(exc))
        sys.exit(1)
    except DatabaseError as exc:  # a damaged file or a server refusing: one line, no traceback
        where = make_url(get_settings().resolved_database_url).render_as_string(True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        err.print(
            f"error: the database at {where} cannot be used: {reason}. If it is a damaged "
            "SQLite file, restore it from a backup (the data folder's other files are caches, "
            "rebuilt from it).",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err.print(INTERRUPTED)
        sys.exit(130)
    finally:
        if restore is not None:
            restore()


if __name__ == "__main__":
    main()
