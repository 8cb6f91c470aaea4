"""The Duplicate check page through AppTest, on the clustered demo corpus."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from app.pages.duplicates import pasted_questions, uploaded_questions
from tests.app.conftest import ENTRYPOINT, UiCorpus

TIMEOUT = 60
PARAPHRASE = "How does resetting a forgotten password work?"  # of q0297, grouped under q0217
CANONICAL = "How do I reset my password?"  # q0217: the group's canonical question
POSSIBLE = "Can I pay using Apple Pay in the app?"  # q0206 scores between 0.70 and 0.80
NEW = "How do I bake sourdough bread?"


def duplicates_page() -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/duplicates.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def paste(at: AppTest, text: str) -> AppTest:
    at.text_area(key="dup_text").input(text).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def results(at: AppTest) -> pd.DataFrame:
    assert len(at.dataframe) == 1, len(at.dataframe)
    frame = at.dataframe[0].value
    assert isinstance(frame, pd.DataFrame)
    return frame


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What download buttons hand to Streamlit's media store (AppTest drops it after a run)."""
    saved: list[dict[str, Any]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self: MemoryMediaFileStorage, data: Any, mimetype: str, *args: Any) -> str:
        saved.append({"data": data, "mimetype": mimetype, "args": args})
        return original(self, data, mimetype, *args)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return saved


def test_renders_the_corpus_and_waits_for_questions(clustered_env: UiCorpus) -> None:
    at = duplicates_page()
    assert at.title[0].value == "Duplicate check"
    assert at.selectbox(key="corpus").value == "demo"
    assert at.radio(key="dup_source").value == "Paste"
    assert not at.dataframe
    assert not at.get("download_button")
    assert any("Paste questions" in c.value for c in at.caption)


def test_paraphrase_is_a_duplicate_with_its_groups_canonical(
    clustered_env: UiCorpus, downloads: list[dict[str, Any]]
) -> None:
    at = paste(duplicates_page(), PARAPHRASE)
    row = results(at).iloc[0]
    assert row["verdict"] == "duplicate"
    assert row["best match id"] == "q0297"
    assert row["best match"] == "What's the process to reset a forgotten password?"
    assert 0.8 <= row["score"] < 1.0
    assert row["canonical"] == CANONICAL
    assert f"Canonical question of its group: **{CANONICAL}**" in [m.value for m in at.markdown]

    buttons = at.get("download_button")
    assert len(buttons) == 1
    assert buttons[0].label == "Download results (CSV)"
    csvs = [d for d in downloads if d["mimetype"].startswith("text/csv")]
    assert csvs, downloads
    downloaded = pd.read_csv(io.BytesIO(csvs[-1]["data"]))
    assert downloaded.loc[0, "question"] == PARAPHRASE
    assert downloaded.loc[0, "verdict"] == "duplicate"
    assert downloaded.loc[0, "canonical"] == CANONICAL
    assert "What's the process to reset a forgotten password?" in downloaded.loc[0, "matches"]


def test_one_verdict_per_pasted_line(clustered_env: UiCorpus) -> None:
    at = paste(duplicates_page(), f"{PARAPHRASE}\n\n{POSSIBLE}\n{NEW}\n")
    frame = results(at)
    assert list(frame["line"]) == [1, 3, 4]
    assert list(frame["verdict"]) == ["duplicate", "possible", "new"]
    assert frame.loc[1, "best match id"] == "q0206"
    assert frame.loc[2, "canonical"] == ""  # a new question gets no canonical
    assert frame.loc[2, "matches"] == ""  # nothing reaches the 'possible' threshold
    verdicts = [m.value for m in at.markdown if m.value.startswith("Verdicts:")]
    assert verdicts == [
        "Verdicts: :red-badge[1 duplicate] :orange-badge[1 possible] :green-badge[1 new] "
        "· duplicate from 0.80, possible from 0.70"
    ]


def test_uploaded_file_is_checked_row_by_row(clustered_env: UiCorpus) -> None:
    at = duplicates_page()
    at.radio(key="dup_source").set_value("File").run()
    content = f'id,text\na1,"{PARAPHRASE}"\na2,\na3,{NEW}\n'.encode()
    at.file_uploader(key="dup_file").set_value(("mine.csv", content, "text/csv"))
    at.text_input(key="dup_column").input("text").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.warning[0].value == "1 row skipped."
    skipped, frame = (df.value for df in at.dataframe)
    assert list(skipped["line"]) == [3]
    assert list(frame["line"]) == [2, 4]
    assert list(frame["verdict"]) == ["duplicate", "new"]


def test_bad_file_and_column_are_messages(clustered_env: UiCorpus) -> None:
    at = duplicates_page()
    at.radio(key="dup_source").set_value("File").run()
    at.file_uploader(key="dup_file").set_value(("mine.csv", b"id,text\na1,hi\n", "text/csv"))
    at.text_input(key="dup_column").input("question").run()
    assert not at.exception
    assert len(at.error) == 1
    assert "mine.csv: no column 'question'" in at.error[0].value
    assert "/tmp" not in at.error[0].value  # names the upload, not the temporary file

    binary = b"PK\x03\x04\x00\x00binary"
    at.file_uploader(key="dup_file").set_value(("mine.txt", binary, "text/plain")).run()
    assert not at.exception
    assert "looks like a binary file" in at.error[0].value


def test_pasted_lines_keep_their_numbers_and_skip_bad_ones() -> None:
    found, rejected = pasted_questions("  first  question \n\nsecond\x07\nthird\n", max_chars=50)
    assert [(c.line, c.text) for c in found] == [(1, "first question"), (4, "third")]
    assert [(r.line, "control character U+0007" in r.reason) for r in rejected] == [(3, True)]


def test_text_files_are_one_question_a_line() -> None:
    found, rejected = uploaded_questions(
        b"one\n\ntwo\n", "list.TXT", text_column=None, max_chars=50
    )
    assert [(c.line, c.text) for c in found] == [(1, "one"), (3, "two")]
    assert [r.line for r in rejected] == [2]


def test_an_unguessable_column_names_the_pages_field(clustered_env: UiCorpus) -> None:
    at = duplicates_page()
    at.radio(key="dup_source").set_value("File").run()
    content = b"ticket,words,priority\nT1,hello there,high\n"
    at.file_uploader(key="dup_file").set_value(("mine.csv", content, "text/csv")).run()
    assert not at.exception
    assert "Name it in the 'Question column' box" in at.error[0].value
    assert "--text-column" not in at.error[0].value


def test_pasted_questions_have_a_check_button(clustered_env: UiCorpus) -> None:
    at = duplicates_page()
    at.text_area(key="dup_text").input(PARAPHRASE)
    at.button(key="dup_check").click().run()
    assert list(results(at)["verdict"]) == ["duplicate"]


def test_the_download_keeps_the_uploaded_files_columns(
    clustered_env: UiCorpus, downloads: list[dict[str, Any]]
) -> None:
    at = duplicates_page()
    at.radio(key="dup_source").set_value("File").run()
    content = f'ticket,text,line\nT-1,"{PARAPHRASE}",x\nT-2,{NEW},y\n'.encode()
    at.file_uploader(key="dup_file").set_value(("mine.csv", content, "text/csv"))
    at.text_input(key="dup_column").input("text").run()
    assert not at.exception
    csvs = [d for d in downloads if d["mimetype"].startswith("text/csv")]
    downloaded = pd.read_csv(io.BytesIO(csvs[-1]["data"]))
    assert list(downloaded.columns[:3]) == ["ticket", "text", "line"]  # the file's, in order
    assert list(downloaded["ticket"]) == ["T-1", "T-2"]
    assert list(downloaded["qclust_line"]) == [2, 3]  # the file has its own 'line' column
    assert list(downloaded["verdict"]) == ["duplicate", "new"]
