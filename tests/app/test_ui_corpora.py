"""The Corpora page through AppTest, and its upload ingest as a plain function."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.pages.corpora import NEW_CORPUS, ingest_upload
from app.service import Service
from app.ui_text import escape_markdown
from db.errors import QclustError
from db.models import IngestRun
from indexer.encoder import Encoder
from indexer.errors import ColumnNotFoundError, InputFileError
from tests.app.conftest import CLUSTERED_ROWS, ENTRYPOINT, SUPPORT_QUESTIONS, UiCorpus

TIMEOUT = 120  # ingesting loads the model; clustering compiles numba kernels on a cold cache
NEW_QUESTIONS = [
    "Can I pay my invoice with a bank transfer from abroad?",
    "Does the desktop app support right-to-left languages?",
    "How do I pin a project to the top of my dashboard?",
]
UPLOAD = (
    "id,question\n"
    + "".join(f"n{number},{text}\n" for number, text in enumerate(NEW_QUESTIONS, start=1))
    + "n4,How do I reset my password?\n"  # already in the demo corpus
    + "n5,\n"  # empty: rejected, on line 6
).encode()


def corpora_page() -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/corpora.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def corpora_table(at: AppTest) -> pd.DataFrame:
    tables = [df.value for df in at.dataframe if "corpus" in df.value.columns]
    assert len(tables) == 1
    frame = tables[0].set_index("corpus")
    assert isinstance(frame, pd.DataFrame)
    return frame


def upload(at: AppTest, name: str, content: bytes, *, corpus: str | None = None) -> AppTest:
    at.file_uploader(key="ingest_file").set_value((name, content, "application/octet-stream"))
    at.run()
    if corpus is not None:
        at.selectbox(key="ingest_corpus").set_value(corpus).run()
    return at


def test_table_shows_each_corpus_and_its_clustering(clustered_env: UiCorpus) -> None:
    at = corpora_page()
    assert at.title[0].value == "Corpora"
    assert not at.error
    table = corpora_table(at)
    assert list(table.index) == ["demo", "support"]
    assert table.loc["demo", "questions"] == CLUSTERED_ROWS
    assert table.loc["support", "questions"] == len(SUPPORT_QUESTIONS)
    assert table.loc["demo", "model"] == "all-MiniLM-L6-v2"
    assert table.loc["demo", "threshold"] == "0.80 (default)"
    assert table.loc["demo", "run"] == "1"
    assert int(table.loc["demo", "clusters"]) > 5
    outliers = table.loc["demo", "outliers"]
    assert re.fullmatch(r"\d{1,2}\.\d%", outliers), outliers  # one decimal, as everywhere
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", table.loc["demo", "last clustering"])
    # A corpus with no run says so in words, never "None".
    assert table.loc["support", "last clustering"] == "not clustered yet"
    assert (table.loc["support", "run"], table.loc["support", "outliers"]) == ("", "")
    assert at.selectbox(key="ingest_corpus").value == "demo"  # QCLUST_DEFAULT_CORPUS
    assert at.button(key="ingest").disabled  # nothing uploaded yet


def test_ingest_upload_adds_new_questions(
    own_clustered_env: UiCorpus, default_encoder: Encoder
) -> None:
    service = Service(own_clustered_env.settings)
    service.searchers.adopt(default_encoder)
    sessions = service.sessions
    stages: list[tuple[str, int, int | None]] = []
    report, placed = ingest_upload(
        UPLOAD,
        "more.csv",
        "demo",
        service=service,
        id_column="id",
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    assert placed.placed + placed.unassigned == 3
    assert (report.added, report.already_in_corpus, report.rejected) == (3, 1, 1)
    assert [(r.line, r.reason) for r in report.rejections] == [
        (6, "empty or whitespace-only question")
    ]
    assert report.encoded == 3
    assert report.index_size == CLUSTERED_ROWS + 3
    assert ("encoding", 3, 3) in stages
    assert stages[-1] == ("indexing", 1, 1)
    with sessions() as session:
        sources = session.scalars(select(IngestRun.source).order_by(IngestRun.id)).all()
    assert sources[-1] == "upload: more.csv"


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("q.csv", b"id,text\n1,hello\n", ColumnNotFoundError, "q.csv: no column 'question'"),
        ("q.parquet", b"not parquet at all", InputFileError, "q.parquet: not a Parquet file"),
        ("q.txt", b"\x00\x01\x02binary", InputFileError, "q.txt: looks like a binary file"),
        ("q.xlsx", b"PK\x03\x04", InputFileError, "q.xlsx: cannot tell the format"),
    ],
)
def test_ingest_upload_rejects_bad_files(
    own_clustered_env: UiCorpus,
    name: str,
    content: bytes,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error) as caught:
        ingest_upload(
            content,
            name,
            "demo",
            service=Service(own_clustered_env.settings),
            text_column="question",
        )
    assert str(caught.value).startswith(message)
    assert "qclust-upload-" not in str(caught.value)  # the upload's name, not the temp file's


def test_ingest_upload_needs_a_corpus_name(own_clustered_env: UiCorpus) -> None:
    with pytest.raises(QclustError, match="give the corpus a name"):
        ingest_upload(
            UPLOAD,
            "more.csv",
            "  ",
            service=Service(own_clustered_env.settings),
        )


def test_upload_through_the_page_updates_table_and_search(own_clustered_env: UiCorpus) -> None:
    at = corpora_page()
    upload(at, "more.csv", UPLOAD)
    at.text_input(key="ingest_id_column").input("id").run()
    at.button(key="ingest").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value.startswith(
        "Ingested more.csv into 'demo': 3 added, 1 already in the corpus, "
        "0 repeated in the file, 1 rejected"
    )
    assert at.info[0].value.startswith("Placed ")  # into the latest run's clusters
    assert at.warning[0].value == "1 row rejected"
    rejected = [df.value for df in at.dataframe if "reason" in df.value.columns]
    assert rejected[0].to_dict("list") == {
        "line": [6],
        "reason": ["empty or whitespace-only question"],
    }
    assert corpora_table(at).loc["demo", "questions"] == CLUSTERED_ROWS + 3

    # The cached searcher of the corpus must not serve the index from before the ingest.
    at.switch_page("pages/duplicates.py").run()
    at.text_area(key="dup_text").input(NEW_QUESTIONS[2]).run()
    assert not at.exception
    results = at.dataframe[0].value
    assert results.loc[0, "verdict"] == "duplicate"
    assert results.loc[0, "best match"] == NEW_QUESTIONS[2]
    assert results.loc[0, "best match id"] == "n3"


def test_clustering_after_the_upload(own_clustered_env: UiCorpus) -> None:
    at = corpora_page()
    upload(at, "more.csv", UPLOAD)
    at.checkbox(key="ingest_cluster").check().run()
    at.button(key="ingest").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert len(at.success) == 2
    assert at.success[1].value.startswith("Clustering run 2: ")
    table = corpora_table(at)
    assert table.loc["demo", "run"] == "2"
    assert table.loc["demo", "questions"] == CLUSTERED_ROWS + 3


def test_bad_uploads_are_messages(own_clustered_env: UiCorpus) -> None:
    at = corpora_page()
    upload(at, "bad.csv", b"\x00\x01\x02\x03 not text")
    at.button(key="ingest").click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert "bad.csv: looks like a binary file" in at.error[0].value
    assert corpora_table(at).loc["demo", "questions"] == CLUSTERED_ROWS  # still drawn

    upload(at, "cols.csv", b"id,body_text\n1,Where is my order?\n")
    at.text_input(key="ingest_text_column").input("body").run()
    at.button(key="ingest").click().run()
    message = "cols.csv: no column 'body' (did you mean 'body_text'?)"
    assert escape_markdown(message) in at.error[0].value  # shown as text, not Markdown

    upload(at, "blank.csv", b"question\n   \n\t\n")
    at.text_input(key="ingest_text_column").input("").run()
    at.button(key="ingest").click().run()
    assert not at.exception
    assert at.error[0].value == "No usable question in blank.csv: all 2 rows were rejected."
    rejected = [df.value for df in at.dataframe if "reason" in df.value.columns]
    assert list(rejected[0]["line"]) == [2, 3]


def test_a_new_corpus_from_an_empty_database(empty_env: UiCorpus) -> None:
    at = corpora_page()
    assert "No corpus yet" in at.info[0].value
    assert at.selectbox(key="ingest_corpus").value == NEW_CORPUS
    upload(at, "list.txt", "\n".join(NEW_QUESTIONS).encode())
    at.text_input(key="ingest_new_corpus").input("fresh").run()
    at.button(key="ingest").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    table = corpora_table(at)
    assert list(table.index) == ["fresh"]
    assert table.loc["fresh", "questions"] == 3
    assert table.loc["fresh", "run"] == ""


def test_cluster_now_finer_and_coarser(own_clustered_env: UiCorpus) -> None:
    """The granularity control asks for finer or coarser topics than the automatic level."""
    chosen: dict[str, int] = {}
    for granularity in ("auto", "finer", "coarser"):
        at = corpora_page()
        at.selectbox(key="cluster_corpus").set_value("demo").run()
        at.get("button_group")[0].set_value(granularity).run()
        at.button(key="cluster_now").click().run()
        assert not at.exception, [e.value for e in at.exception]
        (message,) = [s.value for s in at.success]
        match = re.search(r"smallest topic (\d+) questions", message)
        assert match, message
        chosen[granularity] = int(match.group(1))
    assert chosen["finer"] <= chosen["auto"] <= chosen["coarser"]
    assert chosen["finer"] < chosen["coarser"]
