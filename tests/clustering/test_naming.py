from __future__ import annotations

import numpy as np

from clustering.naming import ctfidf_keywords, name_from_keywords, representatives


def test_keywords_are_frequent_in_the_cluster_and_rare_elsewhere() -> None:
    texts = [
        "How do I reset my password?",
        "Password reset link expired",
        "Forgot password, how to reset it",
        "Where is my refund?",
        "How long does a refund take?",
        "Refund not received yet",
        "How do I export my data?",
    ]
    labels = np.array([0, 0, 0, 1, 1, 1, -1])
    keywords = ctfidf_keywords(texts, labels, top_n=3)
    assert set(keywords) == {0, 1}
    assert keywords[0][0] == "password"
    assert keywords[1][0] == "refund"
    assert "export" not in keywords[0] + keywords[1]  # outliers name nothing


def test_names_skip_keywords_contained_in_chosen_ones() -> None:
    assert name_from_keywords(["password", "password reset", "reset", "link"]) == (
        "password / reset / link"
    )
    assert name_from_keywords([]) == "(unnamed)"


def test_representatives_are_most_central_first() -> None:
    vectors = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]], dtype=np.float32)
    labels = np.array([0, 0, 0, -1])
    ordered = representatives(vectors, labels, np.ones(4, dtype=np.float32))
    assert ordered == {0: [1, 2, 0]} or ordered == {0: [1, 0, 2]}
    assert ordered[0][0] == 1
