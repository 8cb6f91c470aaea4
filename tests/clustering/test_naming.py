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
    assert set(keywords[0][:2]) == {"password", "reset"}  # three times each
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


def test_mixed_language_clusters_are_named_by_topic_words_not_function_words() -> None:
    topics = {
        "password": [
            "How do I reset my password?",
            "¿Cómo restablezco mi contraseña?",
            "Wie kann ich mein Passwort zurücksetzen?",
            "Comment réinitialiser mon mot de passe ?",
            "Как сбросить мой пароль?",
            "パスワードをリセットするにはどうすればいいですか？",
        ],
        "invoice": [
            "Where is my invoice?",
            "¿Dónde está mi factura?",
            "Wo ist meine Rechnung?",
            "Où est ma facture ?",
            "Где мой счёт?",
        ],
        "refund": [
            "Can I get a refund?",
            "¿Me pueden hacer un reembolso?",
            "Kann ich eine Rückerstattung bekommen?",
            "Puis-je avoir un remboursement ?",
        ],
        "export": [
            "How do I export my data?",
            "¿Cómo exporto mis datos?",
            "Wie exportiere ich meine Daten?",
            "Comment exporter mes données ?",
        ],
    }
    texts = [text for group in topics.values() for text in group]
    labels = np.array([i for i, group in enumerate(topics.values()) for _ in group])
    keywords = ctfidf_keywords(texts, labels, top_n=4)
    function_words = {"mi", "mon", "mein", "meine", "ich", "la", "de", "de passe", "est", "my"}
    for words in keywords.values():
        assert words
        assert not set(words) & function_words, words
        assert all(len(word) <= 24 for word in words)  # no whole Japanese sentence
    assert {"password", "contraseña", "passwort", "пароль"} & set(keywords[0])
    assert {"invoice", "factura", "rechnung", "facture"} & set(keywords[1])
