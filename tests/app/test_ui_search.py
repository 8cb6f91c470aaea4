"""The Search page through Streamlit's AppTest: the real router, page, database and index."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from db.queries import get_or_create_corpus
from db.session import open_database
from tests.app.conftest import ENTRYPOINT, SUPPORT_QUESTIONS, UiCorpus

TIMEOUT = 60  # the first run loads the model


def started_app() -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, query: str) -> AppTest:
    at.text_input(key="query").input(query).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def results(at: AppTest) -> pd.DataFrame:
    assert len(at.dataframe) == 1
    frame = at.dataframe[0].value
    assert isinstance(frame, pd.DataFrame)
    return frame


def verdict(at: AppTest) -> str:
    lines = [m.value for m in at.markdown if m.value.startswith("Verdict:")]
    assert len(lines) == 1, [m.value for m in at.markdown]
    return lines[0]


def test_renders_the_corpus_without_searching(app_env: UiCorpus) -> None:
    at = started_app()
    assert at.title[0].value == "Search"
    assert at.selectbox(key="corpus").value == app_env.name
    assert at.slider(key="k").value == 10
    assert at.text_input(key="query").value == ""
    assert not at.dataframe  # an empty box searches nothing
    assert any("20 questions" in c.value for c in at.caption)
    assert any("Type a question" in c.value for c in at.caption)


def test_paraphrase_is_the_top_result(app_env: UiCorpus) -> None:
    at = ask(started_app(), "I would like my money back for the last charge")
    frame = results(at)
    assert len(frame) == 10
    assert list(frame["rank"]) == list(range(1, 11))
    assert frame.iloc[0]["question"] == SUPPORT_QUESTIONS["s05"]
    assert frame.iloc[0]["id"] == "s05"
    assert frame["score"].is_monotonic_decreasing
    assert 0.5 < frame.iloc[0]["score"] < 1.0


def test_k_limits_the_results(app_env: UiCorpus) -> None:
    at = started_app()
    at.slider(key="k").set_value(3)
    frame = results(ask(at, "how to make the app use a dark theme"))
    assert len(frame) == 3
    assert frame.iloc[0]["id"] == "s08"


def test_latency_caption(app_env: UiCorpus) -> None:
    at = ask(started_app(), "Does the application work without internet?")
    captions = [c.value for c in at.caption]
    assert any(re.fullmatch(r"10 results in \d+ ms", c) for c in captions), captions


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (SUPPORT_QUESTIONS["s01"], "duplicate"),
        ("What is the boiling point of mercury?", "new"),
    ],
)
def test_verdict_against_the_threshold(app_env: UiCorpus, query: str, expected: str) -> None:
    line = verdict(ask(started_app(), query))
    assert f"-badge[{expected}]" in line
    assert "duplicate from 0.80" in line
    assert "possible from 0.70" in line


def test_no_corpus_shows_how_to_ingest(empty_env: UiCorpus) -> None:
    at = started_app()
    assert len(at.info) == 1
    assert "qclust ingest" in at.info[0].value
    assert not at.selectbox
    assert not at.text_input


def test_default_corpus_comes_from_the_environment(
    own_corpus_env: UiCorpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_database(own_corpus_env.database_url).begin() as session:
        get_or_create_corpus(session, "aaa-first")  # sorts before "support"
    at = started_app()
    assert at.selectbox(key="corpus").options == ["aaa-first", "support"]
    assert at.selectbox(key="corpus").value == "support"

    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", "no-such-corpus")
    assert started_app().selectbox(key="corpus").value == "aaa-first"


def test_errors_are_messages_not_tracebacks(own_corpus_env: UiCorpus) -> None:
    with open_database(own_corpus_env.database_url).begin() as session:
        get_or_create_corpus(session, "empty")
    at = started_app()
    at.selectbox(key="corpus").set_value("empty")
    at.text_input(key="query").input("How do I reset my password?").run()
    assert not at.exception
    assert len(at.error) == 1
    assert "no questions yet" in at.error[0].value
    assert not at.dataframe


def test_blank_query_does_not_search(app_env: UiCorpus) -> None:
    at = started_app()
    at.text_input(key="query").input("   ").run()
    assert not at.exception
    assert not at.error
    assert not at.dataframe


def _members(corpus: UiCorpus) -> dict[int, list[str]]:
    from tests.app.test_ui_clusters import members_by_key

    return members_by_key(corpus)


def _cluster_of(corpus: UiCorpus, text: str) -> int:
    return next(key for key, texts in _members(corpus).items() if text in texts)


def test_results_link_to_their_cluster_and_filter_by_it(clustered_env: UiCorpus) -> None:
    at = started_app()
    assert at.selectbox(key="corpus").value == "demo"
    frame = results(ask(at, "How do I reset my password?"))
    top_key = _cluster_of(clustered_env, frame.iloc[0]["question"])
    assert frame.iloc[0]["cluster"].startswith(f"{top_key} · ")
    assert frame.iloc[0]["link"] == f"clusters?corpus=demo&cluster={top_key}"

    keys = [int(label.split(" · ")[0]) for label in frame["cluster"]]
    wanted = next((key for key in keys if key != top_key), top_key)  # another cluster if any
    at.multiselect(key="cluster_filter_search").select(wanted).run()
    filtered = results(at)
    assert len(filtered) > 0
    assert all(label.startswith(f"{wanted} · ") for label in filtered["cluster"])
    assert any("Filtered from the" in c.value for c in at.caption)
    # The verdict speaks of the rows shown, not of a better match the filter hides.
    line = verdict(at)
    assert f"best match in the chosen clusters {filtered.iloc[0]['score']:.3f}" in line
    members = len(_members(clustered_env)[wanted])
    assert len(filtered) == min(10, members)  # the filter looks further until it has k


def test_a_cluster_link_opens_that_cluster(clustered_env: UiCorpus) -> None:
    key = _cluster_of(clustered_env, "How do I reset my password?")
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT)
    at.query_params["corpus"] = "demo"
    at.query_params["cluster"] = str(key)
    at.switch_page("pages/clusters.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="corpus").value == "demo"
    assert at.selectbox(key="cluster_key").value == key
