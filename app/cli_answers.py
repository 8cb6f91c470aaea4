"""Where `search` and `dupes` get their answers, and how an answer is shown to people.

With `QCLUST_SERVER` set, the server answers (no model is loaded here, which a one-off command
would pay for each time) and stderr says so once; else this process's service does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from app.cli_common import cluster_label, err, open_service, out, plural

if TYPE_CHECKING:
    from app.cli_dupes_file import Checker
    from app.service.results import Check, Match, SearchResult


def server() -> str | None:
    """The qclust server that answers instead of a local model, when QCLUST_SERVER names one;
    said once on stderr, so that nobody mistakes whose answer it is."""
    from app.remote import server_url

    url: str | None = server_url()
    if url:
        err.print(f"asking the qclust server at {url} (QCLUST_SERVER)", highlight=False)
    return url


def search(corpus: str, query: str, k: int) -> SearchResult:
    if server():
        from app.remote import remote_search

        result: SearchResult = remote_search(corpus, query, k)
        return result
    return open_service().search(corpus, query, k)


def checker(corpus: str, *, k: int, threshold: float | None) -> Checker:
    """The duplicate check of a list of questions: the server's when there is one, else here."""
    if server():
        from app.remote import remote_check

        return lambda questions: remote_check(corpus, list(questions), k=k, threshold=threshold)
    service = open_service()
    return lambda questions: service.check(corpus, questions, k=k, threshold=threshold)


def print_hits(result: SearchResult) -> None:
    if result.not_encoded:
        err.print(f"warning: {not_encoded_message(result.not_encoded, result.corpus)}")
    clustered = any(hit.cluster is not None for hit in result.hits)
    table = Table("score", "id", "question", *(["cluster"] if clustered else []), box=None)
    for hit in result.hits:
        cells = [f"{hit.score:.3f}", hit.external_id or str(hit.question_id), hit.text]
        table.add_row(*cells, *([_cluster_cell(hit)] if clustered else []))
    out.print(table)


def print_check(check: Check) -> None:
    """The verdict, where its threshold comes from, and the matches with their cluster and the
    canonical question of their group (the answer to point the asker at)."""
    colour = {"duplicate": "red", "possible": "yellow", "new": "green"}[check.verdict]
    chance = "" if check.probability is None else f", P(duplicate) {check.probability:.2f}"
    out.print(
        f"[bold {colour}]{check.verdict}[/] ({check.threshold_source} threshold "
        f"{check.threshold:.2f}, possible from {check.possible_threshold:.2f}{chance})",
        markup=True,
    )
    shown = check.matches or check.nearest[:3]
    if not check.matches and shown:
        out.print("nearest questions:")
    for hit in shown:
        out.print(f"  {hit.score:.3f}  {hit.text}", highlight=False)
        details = [cluster_label(hit.cluster, hit.cluster_name)] if hit.cluster is not None else []
        if hit.canonical_text and hit.canonical_id != hit.question_id:
            details.append(f"canonical: {hit.canonical_text}")
        if details:
            out.print("         " + "; ".join(details), highlight=False)


def not_encoded_message(count: int, corpus: str) -> str:
    are = "is" if count == 1 else "are"
    return (
        f"{plural(count, 'question')} of corpus '{corpus}' {are} not encoded yet; "
        "run 'qclust ingest' again (or wait for the ingest that is running)"
    )


def _cluster_cell(match: Match) -> str:
    if match.cluster is None or match.cluster < 0:
        return "-"
    return f"{match.cluster} {match.cluster_name or ''}".strip()
