"""The corpus's state revision: one counter that every change a reader may cache bumps.

Labels are the exception: they change no answer until a calibration, which notes its change.
Writers call `note_change` in the transaction that makes the change, so the new revision and
the change commit together; readers (`app.service`) read `state_revision` on each request and
rebuild what they hold when it moved. One indexed read of one row: cheap enough for every call.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Corpus


def note_change(session: Session, corpus_id: int) -> None:
    """Bump the corpus's state revision in the caller's transaction."""
    session.execute(
        update(Corpus)
        .where(Corpus.id == corpus_id)
        .values(state_revision=Corpus.state_revision + 1)
        .execution_options(synchronize_session=False)
    )


def corpus_state(session: Session, name: str) -> tuple[str, int] | None:
    """The corpus's uid and state revision; None when there is no such corpus (any more). The
    uid tells a corpus deleted and made again under the same name from the one cached."""
    row = session.execute(
        select(Corpus.uid, Corpus.state_revision).where(Corpus.name == name)
    ).first()
    return None if row is None else (str(row[0]), int(row[1]))
