"""Renaming and deleting a corpus: both under the corpus's write lock, so no ingest or
re-index is half way through it, and both bump nothing a reader could keep using (a renamed or
deleted corpus is simply not found under its old name)."""

from __future__ import annotations

import shutil

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from db.errors import QclustError
from db.locks import corpus_write_lock
from db.models import Corpus
from db.queries import count_questions, get_corpus
from db.settings import Settings

MAX_NAME = 200  # the width of corpus.name


def rename_corpus(sessions: sessionmaker[Session], old: str, new: str) -> None:
    new = new.strip()
    if not new or len(new) > MAX_NAME:
        raise QclustError(f"a corpus name is 1 to {MAX_NAME} characters")
    with corpus_write_lock(sessions, old, "rename", wait=False), sessions.begin() as session:
        corpus = get_corpus(session, old)
        if session.scalar(select(Corpus.id).where(Corpus.name == new)) is not None:
            raise QclustError(f"a corpus named '{new}' exists already")
        corpus.name = new


def delete_corpus(sessions: sessionmaker[Session], settings: Settings, name: str) -> int:
    """Delete the corpus with its questions, vectors, runs, labels and edits (the database's
    cascades), then its cache folder; returns how many questions went."""
    with corpus_write_lock(sessions, name, "delete", wait=False), sessions.begin() as session:
        corpus = get_corpus(session, name)
        uid = corpus.uid
        count = count_questions(session, corpus.id)
        session.execute(delete(Corpus).where(Corpus.id == corpus.id))
    shutil.rmtree(settings.data_dir / "cache" / uid, ignore_errors=True)  # only a cache
    return count


def question_count(sessions: sessionmaker[Session], name: str) -> int:
    with sessions() as session:
        return count_questions(session, get_corpus(session, name).id)
