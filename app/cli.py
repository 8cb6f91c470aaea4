"""`qclust`: ingest question files, search them, and check new questions for duplicates."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.logging import RichHandler
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from app import cli_answers as answers
from app.cli_common import (
    CorpusOption,
    JsonOption,
    app,
    emit_json,
    err,
    fail,
    open_service,
    out,
    plural,
    print_error,
    reserve_stdout_for_json,
)
from db.errors import QclustError
from db.settings import get_settings
from indexer.readers import FILE_FORMATS, FileFormat

if TYPE_CHECKING:
    import subprocess

    from app.service.core import Placement
    from indexer.ingest import IngestReport

FormatOption = Annotated[
    str | None, typer.Option("--format", help=f"One of {', '.join(FILE_FORMATS)}.")
]


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
    files: Annotated[list[Path], typer.Argument(help="CSV, TSV, JSONL, Parquet or text files.")],
    corpus: CorpusOption,
    text_column: Annotated[str | None, typer.Option(help="Column with the question.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Column with your own id.")] = None,
    file_format: FormatOption = None,
    model: Annotated[
        str | None, typer.Option(help="Model for a new corpus: local path or hub name.")
    ] = None,
    truncate_dim: Annotated[
        int | None, typer.Option(min=1, help="Matryoshka: keep this many dimensions (new corpus).")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option(help="Prompt before every text (new corpus; e5: 'query: ').")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="local: in this process, one file after another; ray: all the files at once "
            "on a Ray cluster (pip install 'qclust\\[ray]')."
        ),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="--engine ray: 'auto' joins the cluster running here, ray://host:port a "
            "remote one; default: a new local cluster."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Store, encode and index every new question of FILES; re-run to resume."""
    from app.progress import StageProgress

    fmt = _file_format(file_format)
    if engine not in ("local", "ray"):
        fail(f"unknown engine '{engine}'; use local or ray")
    if address is not None and engine != "ray":
        fail("--address goes with --engine ray")
    service = open_service()
    for group in [files] if engine == "ray" else [[file] for file in files]:
        try:
            with StageProgress(err, enabled=not quiet) as progress:
                report, placement = service.ingest_file(
                    group if engine == "ray" else group[0], corpus, text_column=text_column,
                    id_column=id_column, file_format=fmt, model=model, truncate_dim=truncate_dim,
                    prompt=prompt, progress=progress, engine=engine,  # type: ignore[arg-type]
                    address=address,
                )  # fmt: skip
        except KeyboardInterrupt:
            fail(INTERRUPTED, 130)
        _print_ingest(group, corpus, report, placement, text_column, id_column, fmt)


def _print_ingest(
    files: list[Path],
    corpus: str,
    report: IngestReport,
    placement: Placement,
    text_column: str | None,
    id_column: str | None,
    fmt: FileFormat | None,
) -> None:
    """Each file's counts and rejections, then what was encoded and placed; fails when no file
    had a usable row."""
    from indexer.ray_ingest import RayIngestReport

    per_file = report.files if isinstance(report, RayIngestReport) else [report]
    for file, file_report in zip(files, per_file, strict=True):
        for rejection in file_report.rejections:
            err.print(f"{file}:{rejection.line}: {rejection.reason}", highlight=False)
        if file_report.rejected > len(file_report.rejections):
            more = file_report.rejected - len(file_report.rejections)
            err.print(f"... and {more:,} more rejected rows")
        reasons = ", ".join(
            f"{n:,} {kind}" for kind, n in file_report.rejection_reasons.most_common()
        )
        out.print(
            f"{file} -> corpus '{corpus}': {plural(file_report.rows_read, 'row')} read, "
            f"{file_report.added:,} new, {file_report.already_in_corpus:,} already in the "
            f"corpus, {file_report.duplicates_in_file:,} repeated in the file, "
            f"{file_report.rejected:,} rejected" + (f" ({reasons})" if reasons else ""),
            highlight=False,
        )
        _say_columns(file, text_column, id_column, fmt)
    if report.nothing_done:
        fail(f"no usable question in {', '.join(map(str, files))}; nothing was stored")
    where = (
        f" on {plural(report.actors, f'{report.device} actor')}"
        if isinstance(report, RayIngestReport)
        else ""
    )
    out.print(
        f"encoded {plural(report.encoded, 'question')}{where}; index {report.index_kind} holds "
        f"{plural(report.index_size, 'vector')} ({report.seconds:.1f} s)",
        highlight=False,
    )
    if placement.placed or placement.unassigned:
        out.print(
            f"placed {plural(placement.placed, 'new question')} into existing clusters, "
            f"{placement.unassigned:,} unassigned (until the next 'qclust cluster')",
            highlight=False,
        )


def _file_format(name: str | None) -> FileFormat | None:
    if name is not None and name not in FILE_FORMATS:
        fail(f"unknown format '{name}'; use one of {', '.join(FILE_FORMATS)}")
    return name  # type: ignore[return-value]  # one of FILE_FORMATS, checked above


def _say_columns(
    file: Path, text_column: str | None, id_column: str | None, fmt: FileFormat | None
) -> None:
    """Which column the text came from: a guessed one is worth seeing (a wrong guess reads
    the wrong column as questions)."""
    from app.question_files import text_column_of

    try:
        column = text_column_of(file, text_column, fmt)
    except QclustError:  # the reader took the file; what only this look at it trips on is moot
        return
    if column is not None:
        ids = f", ids from column '{id_column}'" if id_column else ""
        out.print(f"questions from column '{column}'{ids}", highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question to search for.")],
    corpus: CorpusOption,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many results.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """The questions nearest to QUERY, with cosine scores."""
    result = answers.search(corpus, query, k)
    if as_json:
        emit_json(
            {"query": query, "corpus": corpus, "hits": [asdict(h) for h in result.hits],
             "not_encoded": result.not_encoded, "revision": result.revision}
        )  # fmt: skip
        return
    answers.print_hits(result)


@app.command()
def dupes(
    question: Annotated[
        str | None, typer.Argument(help="The new question to check (or --file).")
    ] = None,
    *,
    corpus: CorpusOption,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Check every question of this file.")
    ] = None,
    text_column: Annotated[
        str | None, typer.Option(help="--file: column with the question.")
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="--file: column with your own id.")] = None,
    file_format: FormatOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="--file: write here (.csv, .parquet, .jsonl, .json)."),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Override the corpus threshold.")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="Neighbours to look at.")] = 10,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Does QUESTION (or each question of --file) duplicate questions already in the corpus?

    With --file, the results keep every column of the file and add the verdict, the score and
    the best match; CSV on standard output unless --output or --json says otherwise.
    """
    if question is not None and file is not None:
        fail("give one QUESTION or --file FILE, not both")
    if file is None and (output or text_column or id_column or file_format):
        fail("--output, --text-column, --id-column and --format go with --file")
    if file is not None:
        from app.cli_dupes_file import check_file

        check_file(
            file, corpus, answers.checker(corpus, k=k, threshold=threshold),
            text_column=text_column, id_column=id_column, file_format=_file_format(file_format),
            output=output, as_json=as_json, quiet=quiet,
        )  # fmt: skip
        return
    if question is None:
        fail("give a QUESTION to check, or --file FILE")
    result = answers.checker(corpus, k=k, threshold=threshold)([question])[0]
    if as_json:
        payload = asdict(result)
        payload["corpus"] = corpus
        emit_json(payload)
        return
    answers.print_check(result)


@app.command()
def corpora(as_json: JsonOption = False) -> None:
    """List corpora with their sizes, models and thresholds."""
    service = open_service()
    service.close_abandoned_runs()  # so that a killed ingest shows as such from here on
    summaries = service.corpora()
    if as_json:
        emit_json([asdict(s) for s in summaries])
        return
    table = Table("corpus", "questions", "model", "threshold", "last ingest", box=None)
    for s in summaries:
        threshold = service.settings.threshold_for(s.duplicate_threshold)
        last = s.last_ingest.strftime("%Y-%m-%d %H:%M") if s.last_ingest else "-"
        table.add_row(s.name, f"{s.questions:,}", s.model or "-", f"{threshold:.2f}", last)
    out.print(table)
    for s in summaries:
        if s.not_encoded:
            err.print(f"warning: {answers.not_encoded_message(s.not_encoded, s.name)}")


LABELS_TO_KNOW_PRECISION = 20


@app.command()
def threshold(
    corpus: Annotated[str, typer.Argument(help="Corpus name.")],
    value: Annotated[float | None, typer.Argument(help="New cosine threshold, 0 to 1.")] = None,
    clear: Annotated[bool, typer.Option(help="Go back to the default threshold.")] = False,
) -> None:
    """Show or set a corpus's duplicate threshold, and where it comes from."""
    service = open_service()
    try:
        if value is not None or clear:
            info = service.set_threshold(corpus, None if clear else value)
        else:
            info = service.threshold(corpus)
    except QclustError as exc:
        fail(str(exc))
    out.print(
        f"{corpus}: {info.threshold:.2f} ({info.source}); possible duplicates from "
        f"{info.possible_threshold:.2f}",
        highlight=False,
    )
    if info.labelled_pairs == 0:
        out.print(
            f"no pair labelled yet: label {LABELS_TO_KNOW_PRECISION} pairs to know your "
            "precision (the UI's Labelling page), then 'qclust calibrate'",
            highlight=False,
        )
    else:
        out.print(f"{plural(info.labelled_pairs, 'labelled pair')}", highlight=False)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _require_tokens_for_the_ui() -> None:
    """An exposed UI asks for a token; with none to give, nobody could sign in."""
    from db.session import open_database
    from db.tokens import active_token_count

    with open_database(get_settings().resolved_database_url)() as session:
        tokens = active_token_count(session)
    if not tokens:
        fail(
            "an exposed UI asks analysts for an API token, and there is none: create one with "
            "'qclust tokens create --name NAME --scope write' (or listen on 127.0.0.1)"
        )


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

    env = dict(os.environ)
    if host not in LOOPBACK_HOSTS:
        _require_tokens_for_the_ui()
        env["QCLUST_UI_LOGIN"] = "1"
        err.print(
            f"listening on {host}: analysts sign in with an API token ('qclust tokens "
            "create --name NAME --scope write'; a read token can only search and browse)",
            highlight=False,
        )
    url = url_for(host, port)
    err.print(f"qclust UI: {url}  (Ctrl-C stops it)", highlight=False)
    process = subprocess.Popen(streamlit_command(host, port), stdin=subprocess.DEVNULL, env=env)
    stopped_by = stop_server_on_signals(process)
    try:
        if open_browser:
            wait_then_open(url, process)
        code = process.wait()
        raise typer.Exit(128 + stopped_by[0] if stopped_by else code)
    except KeyboardInterrupt:
        process.terminate()
        process.wait()
        raise typer.Exit(130) from None


def stop_server_on_signals(process: subprocess.Popen[bytes]) -> list[int]:
    """A `kill` (SIGTERM) or a closed terminal (SIGHUP) stops the Streamlit server too: by
    default Python dies at once and leaves the server running, still bound to its port. The
    handler only signals the server (and kills it if it has not stopped in 10 s); the main
    thread's wait then returns. Returns the list the signal received is put in."""
    import signal
    import threading

    received: list[int] = []

    def stop(signum: int, frame: object) -> None:
        received.append(signum)
        process.terminate()
        deadline = threading.Timer(10.0, process.kill)
        deadline.daemon = True  # never what keeps qclust from exiting
        deadline.start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    return received


from app import (  # noqa: E402,F401  (each registers its commands)
    cli_calibrate,
    cli_clusters,
    cli_corpora,
    cli_edits,
    cli_eval,
    cli_export,
    cli_models,
    cli_multilingual,
    cli_server,
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
