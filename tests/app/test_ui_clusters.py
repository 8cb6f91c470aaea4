"""The Clusters page through AppTest, on the clustered demo corpus."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.pages.clusters import filter_clusters
from db.cluster_queries import cluster_views, latest_run, level_counts
from db.models import ClusterIdentity, ClusterMember, Question
from db.queries import get_corpus
from db.session import open_database
from tests.app.conftest import CLUSTERED_ROWS, ENTRYPOINT, UiCorpus

TIMEOUT = 60


def clusters_page() -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/clusters.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


# AppTest exposes the key of a selectable table only; the others are told apart by a column.
TABLE_COLUMN = {
    "cluster_table": "representative",
    "cluster_members": "#",
    "cluster_groups": "canonical",
}


def frames(at: AppTest) -> dict[str, pd.DataFrame]:
    found: dict[str, pd.DataFrame] = {}
    for df in at.dataframe:
        frame = df.value
        assert isinstance(frame, pd.DataFrame)
        names = [name for name, column in TABLE_COLUMN.items() if column in frame.columns]
        assert len(names) == 1, list(frame.columns)
        assert names[0] not in found, names
        found[names[0]] = frame
    return found


def members_by_key(corpus: UiCorpus) -> dict[int, list[str]]:
    """Cluster key -> member texts of the latest run, most central first, from the database."""
    with open_database(corpus.database_url)() as session:
        run = latest_run(session, get_corpus(session, corpus.name).id)
        assert run is not None
        rows = session.execute(
            select(ClusterMember.cluster_key, Question.text)
            .join(Question, ClusterMember.question_id == Question.id)
            .where(ClusterMember.run_id == run.id)
            .order_by(ClusterMember.centrality.desc(), Question.id)
        ).all()
    found: dict[int, list[str]] = {}
    for key, text in rows:
        found.setdefault(key, []).append(text)
    return found


def identity_name(corpus: UiCorpus, key: int) -> str | None:
    with open_database(corpus.database_url)() as session:
        return session.scalar(
            select(ClusterIdentity.name).where(
                ClusterIdentity.corpus_id == get_corpus(session, corpus.name).id,
                ClusterIdentity.key == key,
            )
        )


def test_table_lists_every_cluster_and_the_outliers(clustered_env: UiCorpus) -> None:
    at = clusters_page()
    assert at.title[0].value == "Clusters"
    assert at.selectbox(key="corpus").value == "demo"
    members = members_by_key(clustered_env)
    table = frames(at)["cluster_table"]
    assert list(table.columns) == ["id", "size", "name", "keywords", "representative", "change"]
    assert sorted(table["id"]) == sorted(members)
    assert table.iloc[-1]["id"] == -1
    assert table.iloc[-1]["name"] == "(outliers)"
    assert table["size"].sum() == CLUSTERED_ROWS
    assert dict(zip(table["id"], table["size"], strict=True)) == {
        key: len(texts) for key, texts in members.items()
    }
    clusters = table[table["id"] >= 0]
    assert clusters["size"].is_monotonic_decreasing
    assert set(clusters["change"]) == {"new"}  # the first run
    assert all(row["representative"] in members[row["id"]] for _, row in clusters.iterrows())
    captions = [c.value for c in at.caption]
    assert any(
        c.startswith(f"Run 1 · {CLUSTERED_ROWS} questions · {len(clusters)} clusters")
        for c in captions
    )


def test_largest_cluster_is_shown_first_most_central_first(clustered_env: UiCorpus) -> None:
    at = clusters_page()
    table = frames(at)["cluster_table"]
    largest = int(table.iloc[0]["id"])
    assert at.selectbox(key="cluster_key").value == largest
    shown = frames(at)["cluster_members"]
    expected = members_by_key(clustered_env)[largest]
    assert list(shown["question"]) == expected[:50]
    assert shown["centrality"].is_monotonic_decreasing
    assert at.subheader[0].value == f"{largest} · {table.iloc[0]['name']}"


def test_filter_matches_names_and_keywords(clustered_env: UiCorpus) -> None:
    at = clusters_page()
    everything = frames(at)["cluster_table"]
    at.text_input(key="cluster_filter").input("PASSWORD").run()
    table = frames(at)["cluster_table"]
    assert 0 < len(table) < len(everything)
    text = (table["name"] + " " + table["keywords"]).str.lower()
    assert text.str.contains("password").all()
    assert at.selectbox(key="cluster_key").options == [
        f"{key} · {name} · {size:,} questions"
        for key, name, size in zip(table["id"], table["name"], table["size"], strict=True)
    ]
    at.text_input(key="cluster_filter").input("no such topic at all").run()
    assert not at.exception
    assert "No cluster matches the filter." in [i.value for i in at.info]


def test_a_cluster_with_duplicates_shows_its_groups(clustered_env: UiCorpus) -> None:
    members = members_by_key(clustered_env)
    key = next(k for k, texts in members.items() if "How do I reset my password?" in texts)
    at = clusters_page()
    at.selectbox(key="cluster_key").set_value(key).run()
    assert list(frames(at)["cluster_members"]["question"]) == members[key][:50]
    groups = frames(at)["cluster_groups"]
    row = groups[groups["canonical"] == "How do I reset my password?"].iloc[0]
    assert row["size"] == 2
    assert list(row["other questions"]) == ["What's the process to reset a forgotten password?"]


def test_outliers_page_through_with_their_nearest_cluster(clustered_env: UiCorpus) -> None:
    outliers = members_by_key(clustered_env)[-1]
    assert len(outliers) > 50  # so that there is a second page
    at = clusters_page()
    at.selectbox(key="cluster_key").set_value(-1).run()
    assert at.subheader[0].value == "-1 (outliers)"
    assert "rename" not in [button.key for button in at.button]  # no renaming the outliers
    first = frames(at)["cluster_members"]
    assert len(first) == 50
    assert list(first["#"]) == list(range(1, 51))
    assert first["similarity"].is_monotonic_decreasing
    assert first["nearest cluster"].str.match(r"^\d+ · ").all()
    page = at.number_input(key="members_page_1_-1")
    assert page.max == 2
    page.set_value(2).run()
    second = frames(at)["cluster_members"]
    assert len(second) == len(outliers) - 50
    assert list(second["#"])[0] == 51
    assert set(first["question"]) | set(second["question"]) == set(outliers)
    assert any(f"Questions 51 to {len(outliers)} of {len(outliers)}" in c.value for c in at.caption)


def test_rename_persists_and_shows_at_once(own_clustered_env: UiCorpus) -> None:
    at = clusters_page()
    key = int(at.selectbox(key="cluster_key").value)
    at.text_input(key=f"rename_1_{key}").input("Plans, SSO and invites").run()
    at.button(key="rename").click().run()
    assert not at.exception
    assert f"Cluster {key} is now called Plans, SSO and invites." in [s.value for s in at.success]
    table = frames(at)["cluster_table"]
    assert table[table["id"] == key].iloc[0]["name"] == "Plans, SSO and invites"
    assert identity_name(own_clustered_env, key) == "Plans, SSO and invites"

    again = clusters_page()  # a new session reads it back from the database
    table = frames(again)["cluster_table"]
    assert table[table["id"] == key].iloc[0]["name"] == "Plans, SSO and invites"

    again.text_input(key=f"rename_1_{key}").input("  ").run()
    again.button(key="rename").click().run()
    assert identity_name(own_clustered_env, key) is None  # back to the automatic name
    assert "its automatic name" in again.success[0].value


def test_a_corpus_without_clustering_says_how_to_cluster(clustered_env: UiCorpus) -> None:
    at = clusters_page()
    at.selectbox(key="corpus").set_value("support").run()
    assert not at.exception
    assert [i.value for i in at.info] == [
        "No clustering yet: run `qclust cluster --corpus support` or use the Corpora page."
    ]
    assert not at.dataframe


def test_filter_ignores_case_and_keeps_the_order() -> None:
    frame = pd.DataFrame(
        {
            "id": [3, 1, -1],
            "name": ["Billing / refund", "Password reset", "(outliers)"],
            "keywords": ["billing, refund", "password, reset, login", ""],
        }
    )
    assert list(filter_clusters(frame, "  REFUND ")["id"]) == [3]
    assert list(filter_clusters(frame, "login")["id"]) == [1]
    assert list(filter_clusters(frame, "")["id"]) == [3, 1, -1]


def test_merge_and_move_from_the_page_persist(own_clustered_env: UiCorpus) -> None:
    at = clusters_page()
    table = frames(at)["cluster_table"]
    target, source = int(table.iloc[0]["id"]), int(table.iloc[1]["id"])
    members = members_by_key(own_clustered_env)
    names = dict(zip(table["id"], table["name"], strict=True))
    at.selectbox(key="cluster_key").set_value(source).run()
    # The default target is the nearest cluster, the first option.
    merge_target = at.selectbox(key=f"merge_target_{source}")
    assert merge_target.index == 0
    similarities = [float(o.rsplit("similarity ", 1)[1][:-1]) for o in merge_target.options]
    assert similarities == sorted(similarities, reverse=True)
    merge_target.set_value(target).run()
    assert at.button(key="merge").disabled  # until the analyst confirms
    at.checkbox(key="confirm_merge").check().run()
    at.button(key="merge").click().run()
    assert not at.exception
    size = len(members[source])
    merged = f"“{names[source]}” ({size} questions) is merged into “{names[target]}”."
    assert merged in [s.value for s in at.success]
    after = members_by_key(own_clustered_env)
    assert source not in after
    assert set(after[target]) == set(members[target]) | set(members[source])
    assert source not in list(frames(at)["cluster_table"]["id"])
    assert at.selectbox(key="cluster_key").value == target  # the page follows the questions

    question = at.selectbox(key="move_question").value
    text = next(o for o in [at.selectbox(key="move_question").format_func(question)])
    at.selectbox(key="move_target").set_value(-1).run()
    at.button(key="move").click().run()
    assert not at.exception
    assert f"“{text}” is moved out of every cluster." in [s.value for s in at.success]
    assert len(members_by_key(own_clustered_env)[target]) == len(after[target]) - 1

    # Undo takes back the move, then the merge: the clusters are as the run left them.
    at.button(key="undo_edit").click().run()
    assert "Undid the move out of every cluster." in [s.value for s in at.success]
    assert members_by_key(own_clustered_env) == after
    at.button(key="undo_edit").click().run()
    undone = f"Undid the merge into “{names[target]}” ({size} questions back in place)."
    assert undone in [s.value for s in at.success]
    assert members_by_key(own_clustered_env) == members
    assert source in list(frames(at)["cluster_table"]["id"])
    at.button(key="undo_edit").click().run()
    assert not at.exception
    assert any("has no change to the clusters to undo" in e.value for e in at.error)


def test_outliers_that_plainly_belong_are_attached_in_bulk(own_clustered_env: UiCorpus) -> None:
    before = members_by_key(own_clustered_env)
    at = clusters_page()
    at.selectbox(key="cluster_key").set_value(-1).run()
    at.slider(key="attach_at").set_value(0.5).run()
    at.button(key="attach_outliers").click().run()
    assert not at.exception
    after = members_by_key(own_clustered_env)
    moved = len(before[-1]) - len(after.get(-1, []))
    assert moved > 0
    assert at.success[0].value.startswith(f"Attached {moved:,} outliers")
    sizes = dict(
        zip(frames(at)["cluster_table"]["id"], frames(at)["cluster_table"]["size"], strict=True)
    )
    assert sum(size for key, size in sizes.items() if key != -1) == sum(
        len(texts) for key, texts in after.items() if key != -1
    )  # the table's sizes count the attached questions


def test_levels_from_coarse_topic_down_to_its_topics(clustered_env: UiCorpus) -> None:
    at = clusters_page()
    with open_database(clustered_env.database_url)() as session:
        run = latest_run(session, get_corpus(session, clustered_env.name).id)
        assert run is not None
        counts = level_counts(session, run)
        coarse = cluster_views(session, run, level=1)
        topics = cluster_views(session, run)
    assert len(counts) >= 2, "the clustered demo sample has coarse topics"
    level = at.get("button_group")[0]
    assert list(level.options)[:2] == [
        f"Topics ({counts[0]})", f"Coarse topics ({counts[1]})",
    ]  # fmt: skip
    # At the topics level, a breadcrumb names the coarse topic above the chosen topic.
    topic = next(t for t in topics if t.key == int(at.selectbox(key="cluster_key").value))
    parent = next(c for c in coarse if c.key == topic.parent_key)
    assert any(f"{parent.key} · {parent.name} › **{topic.key}" in c.value for c in at.caption)

    level.set_value(1).run()
    assert not at.exception
    table, children = (frame.value for frame in at.dataframe)  # the level, then the children
    assert list(table["id"]) == [c.key for c in coarse]  # no outliers row at a coarse level
    chosen = int(at.selectbox(key="cluster_key").value)
    expected = [t.key for t in topics if t.parent_key == chosen]
    assert list(children["id"]) == expected
    assert sum(children["size"]) == table[table["id"] == chosen].iloc[0]["size"]

    at.selectbox(key="open_child").set_value(expected[-1]).run()
    at.button(key="open_child_button").click().run()
    assert not at.exception
    assert at.get("button_group")[0].value == 0
    assert int(at.selectbox(key="cluster_key").value) == expected[-1]
    assert "cluster_members" in frames(at)  # the topic's questions, as at the topics level
