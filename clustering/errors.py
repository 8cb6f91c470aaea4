"""Errors of the clustering stage; each says what to change."""

from __future__ import annotations

from db.errors import QclustError


class ClusteringError(QclustError):
    pass


class NotEnoughQuestionsError(ClusteringError):
    pass


class ParameterError(ClusteringError, ValueError):
    pass
