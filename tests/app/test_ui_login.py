"""An exposed UI (`QCLUST_UI_LOGIN`): nothing shows before a valid token, the token's name is
the analyst's, and a read-only token searches but cannot label."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db.models import PairLabel, TokenScope
from db.session import open_database
from db.tokens import create_token, revoke_token
from tests.app.conftest import ENTRYPOINT, UiCorpus

TIMEOUT = 60


@pytest.fixture
def login_env(own_corpus_env: UiCorpus, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("QCLUST_UI_LOGIN", "1")
    with open_database(own_corpus_env.database_url).begin() as session:
        secrets = {
            "writer": create_token(session, "ana", TokenScope.WRITE),
            "reader": create_token(session, "bob", TokenScope.READ),
            "revoked": create_token(session, "old", TokenScope.WRITE),
        }
        session.flush()
        revoke_token(session, "old")
    return secrets


def signed_in(secret: str) -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    assert [b.label for b in at.button] == ["Sign in"]
    at.text_input[0].input(secret)
    at.button[0].click().run()
    return at


def test_nothing_shows_before_a_valid_token(login_env: dict[str, str]) -> None:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["API token"]
    for wrong in ("qc_wrong", login_env["revoked"], ""):
        at.text_input[0].input(wrong)
        at.button[0].click().run()
        assert at.error[0].value == "That token is not valid, or it was revoked."
        assert all(t.key != "query" for t in at.text_input)


def test_a_write_token_signs_in_as_its_name(login_env: dict[str, str]) -> None:
    at = signed_in(login_env["writer"])
    assert not at.exception
    assert at.title[0].value == "Search"
    at.switch_page("pages/labelling.py").run()
    analyst = next(t for t in at.sidebar.text_input if t.label == "Analyst")
    assert (analyst.value, analyst.disabled) == ("ana", True)


def test_a_read_token_searches_but_cannot_label(
    login_env: dict[str, str], own_corpus_env: UiCorpus
) -> None:
    at = signed_in(login_env["reader"])
    at.text_input(key="query").input("How do I reset my password?").run()
    assert not at.exception
    assert at.dataframe, "the search answers"
    at.switch_page("pages/labelling.py").run()
    label = next(b for b in at.button if b.key.endswith("_duplicate") and "not" not in b.key)
    label.click().run()
    assert "read-only token" in at.error[0].value
    with open_database(own_corpus_env.database_url)() as session:
        assert not session.scalars(select(PairLabel)).all()
