"""Errors of the indexer; each message says what went wrong and where."""

from __future__ import annotations

from db.errors import CorpusBusyError, QclustError

__all__ = ["CorpusBusyError"]


class InputFileError(QclustError):
    """The file as a whole cannot be read: nothing from it can go in."""


class ColumnNotFoundError(InputFileError):
    pass


class EmptyQueryError(QclustError):
    def __init__(self) -> None:
        super().__init__("the query is empty: give a question to search for")


class ModelLoadError(QclustError):
    pass


class IndexFileError(QclustError):
    """An index file is missing or unreadable; callers rebuild it from the stored vectors."""


class NotEncodedError(QclustError):
    """Some questions are stored but not encoded: an answer of 'new' could be wrong."""


class InvalidQuestionError(QclustError):
    """A query or question that breaks the rules stored questions follow (too long, NUL)."""


INSTALL_RAY = "pip install 'qclust[ray]'"


class RayNotInstalledError(QclustError):
    def __init__(self) -> None:
        super().__init__(f"the Ray engine needs Ray, which is not installed: {INSTALL_RAY}")
