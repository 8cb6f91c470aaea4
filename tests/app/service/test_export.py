"""The export: every question, where the latest run put it, and the file's own columns."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from app.pages.clusters import _export
from app.service import Service
from app.service.export import FIXED_COLUMNS, RUN_COLUMNS
from indexer.encoder import Encoder
from tests.app.conftest import CLUSTERED, CLUSTERED_ROWS, UiCorpus
from tests.app.test_ui_clusters import members_by_key
from tests.conftest import write_csv


def test_every_question_with_its_cluster_group_and_canonical(clustered_corpus: UiCorpus) -> None:
    frame = Service(clustered_corpus.settings).export(CLUSTERED)
    assert len(frame) == CLUSTERED_ROWS
    assert list(frame.columns[:3]) == FIXED_COLUMNS
    levels = [c for c in frame.columns if c.startswith("level_")]
    assert levels[:2] == ["level_1_cluster", "level_1_name"]  # the demo sample has coarse topics
    assert list(frame.columns[-len(RUN_COLUMNS) - len(levels) :]) == RUN_COLUMNS + levels
    assert {"topic", "group"} <= set(frame.columns)  # the demo file's own columns
    assert frame["question_id"].is_unique
    assert frame["external_id"].notna().all()
    members = members_by_key(clustered_corpus)
    for key, texts in members.items():
        rows = frame[frame["cluster"] == key]
        assert sorted(rows["question"]) == sorted(texts)
        assert rows["outlier"].all() == (key == -1)
    grouped = frame[frame["duplicate_group"].notna()]
    assert len(grouped) > 0
    for _, rows in grouped.groupby("duplicate_group"):
        assert rows["canonical_question"].nunique() == 1
        assert rows["canonical_question"].iloc[0] in set(rows["question"])
    clustered = frame[frame["cluster"] >= 0]
    assert clustered["cluster_name"].notna().all()
    # Every clustered question has its coarse topic; a topic's questions share one.
    assert clustered["level_1_cluster"].notna().all()
    assert clustered["level_1_name"].notna().all()
    assert (clustered.groupby("cluster")["level_1_cluster"].nunique() == 1).all()
    assert frame[frame["outlier"].fillna(False)]["level_1_cluster"].isna().all()


def test_own_columns_come_between_the_question_and_the_run(
    tmp_path: Path, own_clustered_env: UiCorpus, default_encoder: Encoder
) -> None:
    service = Service(own_clustered_env.settings)
    service.searchers.adopt(default_encoder)
    rows = [
        {"ticket": "T1", "question": '=HYPERLINK("http://x")', "priority": "high"},
        {"ticket": "T2", "question": "Can I pay by bank transfer?", "priority": ""},
    ]
    service.ingest_file(
        write_csv(tmp_path / "own.csv", rows), "own", text_column="question", id_column="ticket"
    )
    frame = service.export("own")
    assert list(frame.columns) == [*FIXED_COLUMNS, "priority", *RUN_COLUMNS]
    assert list(frame["external_id"]) == ["T1", "T2"]
    assert frame["cluster"].isna().all()  # never clustered
    csv = pd.read_csv(io.BytesIO(_export(own_clustered_env.settings, "own", "csv")))
    assert csv.loc[0, "question"] == '\'=HYPERLINK("http://x")'  # a spreadsheet shows text
    parquet = pd.read_parquet(io.BytesIO(_export(own_clustered_env.settings, "own", "parquet")))
    assert list(parquet["question"]) == list(frame["question"])
