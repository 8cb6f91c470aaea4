"""A data folder from before vectors lived in the database: moved in on first use, without
re-encoding; on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from db.settings import Settings
from db.vectors import drop_vectors, read_all_vectors
from indexer.corpus_index import locate_corpus
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from indexer.legacy import legacy_folder
from tests.app.conftest import first_demo_rows
from tests.invariants import assert_consistent


def test_an_old_vector_store_is_moved_into_the_database(
    tmp_path: Path,
    settings: Settings,
    sessions: sessionmaker[Session],
    default_encoder: Encoder,
) -> None:
    questions = first_demo_rows(tmp_path / "q.csv", 60)
    ingest_file(
        questions, "demo", settings=settings, sessions=sessions, text_column="question",
        encoder=default_encoder,
    )  # fmt: skip
    location = locate_corpus(sessions, settings, "demo")
    with sessions.begin() as session:  # what the old version left: vectors only in files
        ids, vectors = read_all_vectors(
            session, location.corpus_id, location.encoder_id, dimension=location.dimension,
            dtype="float32",
        )  # fmt: skip
        drop_vectors(session, location.corpus_id, location.encoder_id)
    old = legacy_folder(settings.data_dir, location.uid, location.encoder_id)
    (old / "vectors").mkdir(parents=True)
    (old / "vectors" / "store.json").write_text(json.dumps({"dimension": 384, "dtype": "float32"}))
    vectors.astype(np.float32).tofile(old / "vectors" / "vectors.bin")
    with (old / "vectors" / "ids.bin").open("wb") as handle:
        handle.write(ids.astype("<i8").tobytes())
        handle.write(b"\x01\x02\x03")  # a torn tail, as a kill mid-append left it
    (old / "index.faiss").write_bytes(b"an old index")

    # The move reads files and writes rows; no model is involved, so none is passed.
    moved = locate_corpus(sessions, settings, "demo")
    assert (moved.vector_count, moved.not_encoded) == (60, 0)
    assert not old.exists()
    assert_consistent(settings, sessions, default_encoder, "demo")
