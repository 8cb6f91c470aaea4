"""The Labelling page through AppTest: the queue, a stored label, and the threshold's quality."""

from __future__ import annotations

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.service import Service
from db.models import Corpus, PairLabel, PairVerdict
from db.session import open_database
from tests.app.conftest import ENTRYPOINT, UiCorpus

TIMEOUT = 60


def labelling_page() -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/labelling.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def labels(corpus: UiCorpus) -> list[PairLabel]:
    with open_database(corpus.database_url)() as session:
        return list(session.scalars(select(PairLabel)))


def _shown_similarities(at: AppTest) -> list[float]:
    return [
        float(m.value.split("similarity ")[1]) for m in at.markdown if m.value.startswith("**Pair ")
    ]


def test_the_queue_shows_pairs_nearest_the_threshold_first(app_env: UiCorpus) -> None:
    at = labelling_page()
    assert at.title[0].value == "Labelling"
    similarities = _shown_similarities(at)
    assert len(similarities) == 10
    distances = [abs(s - 0.80) for s in similarities]
    assert distances == sorted(distances)
    assert [m.value for m in at.metric] == ["0", "0", "0"]
    assert any("Label 20 pairs to know its precision" in c.value for c in at.caption)


def test_a_label_is_stored_with_who_and_leaves_the_queue(own_corpus_env: UiCorpus) -> None:
    at = labelling_page()
    at.text_input(key="analyst").input("Ana").run()
    first = next(b for b in at.button if b.key.endswith("_duplicate") and "not" not in b.key)
    first_pair = first.key.split("_")[1:3]
    first.click().run()
    assert not at.exception
    stored = labels(own_corpus_env)
    assert len(stored) == 1
    assert [str(stored[0].first_id), str(stored[0].second_id)] == first_pair
    assert (stored[0].verdict, stored[0].labelled_by) == (PairVerdict.DUPLICATE, "Ana")
    assert at.metric[0].value == "1"
    assert at.success[0].value.startswith("Labelled a duplicate: “")
    assert not any(b.key.startswith(f"label_{'_'.join(first_pair)}_") for b in at.button)

    not_duplicate = next(b for b in at.button if b.key.endswith("_not_duplicate"))
    not_duplicate.click().run()
    verdicts = sorted(label.verdict.value for label in labels(own_corpus_env))
    assert verdicts == ["duplicate", "not_duplicate"]
    assert any("precision" in c.value and "1 of 1 duplicates" in c.value for c in at.caption)


def test_without_a_corpus_the_page_says_what_to_do(empty_env: UiCorpus) -> None:
    at = labelling_page()
    assert "No corpus yet" in at.info[0].value


def test_calibrate_says_what_it_needs_then_sets_the_threshold(own_corpus_env: UiCorpus) -> None:
    at = labelling_page()
    at.button(key="calibrate").click().run()
    assert "at least" in at.error[0].value  # no labels yet: nothing to fit
    service = Service(own_corpus_env.settings)
    ids = list(range(1, 22))
    for first, second in zip(ids[:10], ids[1:11], strict=True):
        service.label_pair("support", first, second, PairVerdict.DUPLICATE, by="test")
    for first, second in zip(ids[10:20], ids[:10], strict=True):
        service.label_pair("support", first, second, PairVerdict.NOT_DUPLICATE, by="test")
    at.button(key="calibrate").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("The duplicate threshold is now ")
    with open_database(own_corpus_env.database_url)() as session:
        corpus = session.scalars(select(Corpus)).one()
    assert corpus.duplicate_threshold is not None
    assert f"{corpus.duplicate_threshold:.3f}" in at.success[0].value


def test_undo_takes_back_the_last_label(own_corpus_env: UiCorpus) -> None:
    at = labelling_page()
    at.text_input(key="analyst").input("Ana").run()
    at.button(key="undo_label").click().run()
    assert at.error[0].value == "You have no label to take back here."
    first = next(b for b in at.button if b.key.endswith("_not_duplicate"))
    first.click().run()
    assert len(labels(own_corpus_env)) == 1
    at.button(key="undo_label").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Took back your last label")
    assert labels(own_corpus_env) == []
    assert any(b.key == first.key for b in at.button)  # the pair is back in the queue


def test_more_pairs_at_a_time(own_corpus_env: UiCorpus) -> None:
    at = labelling_page()
    assert len(_shown_similarities(at)) == 10
    at.segmented_control(key="queue_length").set_value(25).run()
    assert len(_shown_similarities(at)) == 25


def test_the_first_pair_answers_to_keys(own_corpus_env: UiCorpus) -> None:
    at = labelling_page()
    keyed = {b.key: b.proto.shortcut for b in at.button if b.proto.shortcut}
    assert sorted(keyed.values()) == ["d", "n", "s"]
    assert len({"_".join(key.split("_")[:3]) for key in keyed}) == 1  # one pair's buttons
