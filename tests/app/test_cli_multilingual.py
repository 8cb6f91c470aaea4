"""Scores per language: `qclust data cross-lingual`, `eval sts|retrieval --lang-column`.

These check the bookkeeping (groups, pools, averages, filters) with the default model; what a
multilingual model scores on real data is in BENCHMARKS.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from db.settings import Settings
from indexer.eval_data import EvalDataError
from tests.conftest import write_csv

# The same three scored pairs in English and German, in the same order.
PARALLEL = [
    ("en", "How do I reset my password?", "I forgot my password, how do I reset it?", "4.8"),
    ("en", "Where are my invoices?", "Can I switch the app to a dark theme?", "0.2"),
    ("en", "How can I cancel my subscription?", "How do I stop my plan from renewing?", "4.2"),
    ("de", "Wie setze ich mein Passwort zurück?", "Passwort vergessen, wie geht das?", "4.8"),
    ("de", "Wo finde ich meine Rechnungen?", "Gibt es ein dunkles Design für die App?", "0.2"),
    ("de", "Wie kündige ich mein Abo?", "Wie stoppe ich die Verlängerung meines Tarifs?", "4.2"),
]  # fmt: skip

# Translation pairs: two languages, each with a pool of its own English sentences.
TRANSLATIONS = [
    ("fra", "Comment réinitialiser mon mot de passe ?", "How do I reset my password?"),
    ("fra", "Où sont mes factures ?", "Where are my invoices?"),
    ("fra", "Comment annuler mon abonnement ?", "How do I cancel my subscription?"),
    ("deu", "Wie setze ich mein Passwort zurück?", "How do I reset my password?"),
    ("deu", "Wo sind meine Rechnungen?", "Where are my invoices?"),
    ("deu", "Gibt es einen dunklen Modus?", "Is there a dark mode?"),
    ("deu", "Wie lade ich Teammitglieder ein?", "How do I invite teammates?"),
]  # fmt: skip


@pytest.fixture
def cli(sqlite_settings: Settings, cli_for: Callable[[Settings], CliRunner]) -> CliRunner:
    return cli_for(sqlite_settings)


@pytest.fixture
def parallel(tmp_path: Path) -> Path:
    rows = [{"lang": lang, "sentence1": a, "sentence2": b, "score": score}
            for lang, a, b, score in PARALLEL]  # fmt: skip
    return write_csv(tmp_path / "parallel.csv", rows)


def test_cross_lingual_pairs_are_written_then_scored_per_language_pair(
    cli: CliRunner, parallel: Path, tmp_path: Path
) -> None:
    pairs = tmp_path / "en-xx.tsv"
    result = cli.invoke(app, ["data", "cross-lingual", str(parallel), str(pairs)])
    assert result.exit_code == 0, result.output
    assert "6 pairs written" in result.output
    lines = pairs.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "lang\tsentence1\tsentence2\tscore"
    assert lines[1] == (
        "en-de\tHow do I reset my password?\tPasswort vergessen, wie geht das?\t4.8"
    )
    again = cli.invoke(app, ["data", "cross-lingual", str(parallel), str(pairs)])
    assert "exists" in str(again.exception)  # never overwritten

    result = cli.invoke(app, ["eval", "sts", str(pairs), "--lang-column", "lang", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["rows"] == 6
    assert set(record["metrics"]) == {"en-de", "all"}
    assert set(record["metrics"]["en-de"]) == {"cosine", "dot", "manhattan", "euclidean"}
    assert record["metrics"]["en-de"]["cosine"] == record["metrics"]["all"]["cosine"]


def test_sts_per_language_filters_and_renders_a_row_per_language(
    cli: CliRunner, parallel: Path
) -> None:
    result = cli.invoke(
        app, ["eval", "sts", str(parallel), "--lang-column", "lang", "--langs", "de", "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["rows"] == 3
    assert set(record["metrics"]) == {"de", "all"}
    table = cli.invoke(app, ["eval", "sts", str(parallel), "--lang-column", "lang"])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["language", "pairs", "Pearson", "Spearman"]
    assert [line.split()[:2] for line in lines[1:4]] == [["en", "3"], ["de", "3"], ["all", "6"]]


def test_cross_lingual_retrieval_searches_each_language_in_its_own_pool(
    cli: CliRunner, tmp_path: Path
) -> None:
    rows = [{"lang": lang, "text": text, "english": english}
            for lang, text, english in TRANSLATIONS]  # fmt: skip
    path = write_csv(tmp_path / "tatoeba.csv", rows)
    result = cli.invoke(app, ["eval", "retrieval", str(path), "--lang-column", "lang", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert list(metrics) == ["fra", "deu", "average"]
    assert (metrics["fra"]["queries"], metrics["fra"]["candidates"]) == (3, 3)
    assert (metrics["deu"]["queries"], metrics["deu"]["candidates"]) == (4, 4)
    assert metrics["average"]["queries"] == 7
    for k in ("1", "5", "10"):
        mean = (metrics["fra"]["recall"][k] + metrics["deu"]["recall"][k]) / 2
        assert metrics["average"]["recall"][k] == pytest.approx(mean)
    assert metrics["deu"]["recall"]["5"] == 1.0  # a pool of four: everything is in the top 5


def test_a_language_column_is_never_guessed_as_a_text_column(
    cli: CliRunner, parallel: Path
) -> None:
    """stsb_multi_mt and Tatoeba put the language first; it must not become sentence 1."""
    result = cli.invoke(app, ["eval", "sts", str(parallel), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == 6  # read as sentence1 / sentence2 pairs
    rows = [{"lang": lang, "text": text, "english": english}
            for lang, text, english in TRANSLATIONS]  # fmt: skip
    from indexer.eval_data import read_table, text_columns

    table = read_table(write_csv(parallel.parent / "t.csv", rows))
    assert text_columns(table, None, 2, "") == ["text", "english"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--langs", "de"], "needs a language column"),
        (["--lang-column", "language"], "no column 'language'"),
        (["--lang-column", "lang", "--langs", "de,xx"], "no rows in xx"),
    ],
)
def test_language_options_that_cannot_work_are_explained(
    cli: CliRunner, parallel: Path, args: list[str], message: str
) -> None:
    result = cli.invoke(app, ["eval", "sts", str(parallel), *args])
    assert isinstance(result.exception, EvalDataError), result.output
    assert message in str(result.exception)


def test_translation_pairs_need_no_score_column(cli: CliRunner, tmp_path: Path) -> None:
    rows = [{"lang": lang, "question": a} for lang, a, _, _ in PARALLEL]
    path = write_csv(tmp_path / "parallel.csv", rows)
    out = tmp_path / "translations.csv"
    result = cli.invoke(
        app, ["data", "cross-lingual", str(path), str(out), "--translations", "--text-column",
              "question,question"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 pairs written" in result.output
