from __future__ import annotations

import numpy as np

from clustering.naming import (
    ctfidf_keywords,
    name_from_keywords,
    one_typo_apart,
    one_typo_variants,
    representatives,
)


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
        "password reset / link"
    )
    assert name_from_keywords(
        ["birthday", "birthday party", "mary", "mary birthday", "friday"]
    ) == ("birthday party / mary / friday")
    assert name_from_keywords([]) == "(unnamed)"


def test_misspellings_of_a_keyword_name_nothing() -> None:
    """At a million questions "pasword" is frequent enough to rank among the keywords."""
    texts = (
        ["How do I reset my password?"] * 6
        + ["how do i reset my pasword", "Reset passwrod link", "reset my password link"]
        + ["Where is my refund?"] * 4
        + ["wher is my refnd", "refunds take how long"]
    )
    labels = np.array([0] * 9 + [1] * 6)
    keywords = ctfidf_keywords(texts, labels, top_n=8)
    assert set(keywords[0][:2]) == {"password", "reset"}
    assert not {"pasword", "passwrod", "reset pasword", "reset passwrod"} & set(keywords[0])
    assert "link" in keywords[0]  # a different word stays
    assert "refund" in keywords[1]
    assert not {"refnd", "refunds"} & set(keywords[1])
    assert name_from_keywords(keywords[0]) == "reset password / link"


def test_a_topic_of_misspellings_is_not_named_by_them() -> None:
    """A subword model gathers "whhat" and "plaese" questions; the texts use "what" and
    "please" (stop words, never keywords) ten times as often, so neither names the topic."""
    texts = (
        ["whhat is the weather in paris", "plaese tell me the weather in paris"] * 2
        + ["What is my balance? Please check my balance"] * 12
        + ["what time is it please"] * 12
    )
    labels = np.array([0] * 4 + [1] * 12 + [2] * 12)
    keywords = ctfidf_keywords(texts, labels, top_n=8)
    assert not {"whhat", "plaese"} & {word for term in keywords[0] for word in term.split()}
    assert {"weather", "paris"} <= set(keywords[0])
    assert "balance" in keywords[1]


def test_one_typo_variants() -> None:
    variants = one_typo_variants("what", "ahtwz")
    assert {"wht", "whhat", "waht", "whzt", "whatz"} <= variants
    assert "what" not in variants
    assert "wzzt" not in variants


def test_one_typo_apart() -> None:
    for word, typo in (("password", "pasword"), ("password", "passwrod"), ("card", "cards"),
                       ("transfer", "transfar"), ("account", "acount")):  # fmt: skip
        assert one_typo_apart(word, typo)
        assert one_typo_apart(typo, word)
    for a, b in (("card", "card"), ("app", "apps"), ("login", "logout"), ("cancel", "cancelled"),
                 ("form", "farm2")):  # fmt: skip
        assert not one_typo_apart(a, b)


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


def test_contractions_possessives_letters_and_wake_words_name_nothing() -> None:
    """The names the issue found: 'olly / t / wouldn', 'birthday / party / mary s'."""
    texts = [
        "olly, I wouldn't want to miss Mary's birthday party",
        "Olly, don't forget Mary’s birthday party on Friday",
        "Hey Olly, what's planned for Mary's birthday party?",
        "I can't top-up my card, why don't payments work",
        "Why won't the top-up go through, it's my card",
        "My card top-up isn't working, what's wrong",
    ]
    labels = np.array([0, 0, 0, 1, 1, 1])
    keywords = ctfidf_keywords(texts, labels, top_n=8)
    words = {
        word for cluster in keywords.values() for keyword in cluster for word in keyword.split()
    }
    assert not words & {"t", "s", "ve", "wouldn", "don", "won", "isn", "olly", "hey", "mary s"}
    assert all(len(word) > 1 for word in words)
    assert "birthday party" in keywords[0]
    assert "top-up" in keywords[1]
    assert name_from_keywords(keywords[0]).startswith("birthday party")
    assert "mary" in keywords[0]  # the possessive's name stays, without its 's


def test_short_programming_names_survive() -> None:
    texts = ["c# async await question", "c# generics question", "c++ template error",
             "c++ linker error", "python list question", "python dict question"]  # fmt: skip
    keywords = ctfidf_keywords(texts, np.array([0, 0, 1, 1, 2, 2]), top_n=2)
    assert keywords[0][0] == "c#"
    assert keywords[1][0] == "c++"


def test_names_of_a_huge_corpus_count_a_share_of_every_cluster() -> None:
    from clustering.naming import MIN_NAMING_TEXTS, naming_sample

    labels = np.concatenate([np.zeros(9_000), np.ones(300), np.full(30, 2), np.full(70, -1)])
    rows = naming_sample(labels.astype(np.int64), cap=1_000)
    counts = np.bincount(labels[rows].astype(np.int64))
    assert list(counts) == [965, MIN_NAMING_TEXTS, 30]  # its share, at least 50, or all
    assert np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(naming_sample(labels.astype(np.int64), cap=1_000), rows)
    assert len(naming_sample(labels.astype(np.int64), cap=20_000)) == 9_330


def test_greetings_and_courtesies_name_nothing() -> None:
    """At a million questions, 'tom thanks / room / school' and 'time tia / love'."""
    texts = [
        "Hi team, Tom left his keys in the room, thanks!",
        "Tom is still at school TIA",
        "Hello, is Tom in his room? thx",
        "Hey, my card payment is pending, please help, cheers",
        "Card payment pending for days pls",
        "Why is my card payment still pending? Thanks in advance, appreciated",
    ]
    keywords = ctfidf_keywords(texts, np.array([0, 0, 0, 1, 1, 1]), top_n=8)
    words = {
        word for cluster in keywords.values() for keyword in cluster for word in keyword.split()
    }
    courtesies = {"hi", "hello", "hey", "thanks", "thx", "tia", "cheers", "pls", "please"}
    assert not words & courtesies
    assert "tom" in keywords[0]
    assert "card payment" in keywords[1]
