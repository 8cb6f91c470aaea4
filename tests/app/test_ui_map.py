"""The Map page through AppTest, and the sampling query under it."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.pages.map import distinct_colours, selected_frame, selected_ids
from db.cluster_queries import cluster_views, latest_run
from db.models import ClusterMember
from db.queries import get_corpus
from db.session import open_database
from db.ui_queries import map_points
from tests.app.conftest import CLUSTERED_ROWS, ENTRYPOINT, UiCorpus

TIMEOUT = 60


def map_page() -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/map.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def figure(at: AppTest) -> dict[str, Any]:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec: dict[str, Any] = json.loads(charts[0].proto.spec)
    return spec


def values(array: Any) -> list[Any]:
    """A figure array as plotly wrote it: a list, or typed-array base64 (plotly 6)."""
    if isinstance(array, dict):
        return list(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]))
    return list(array)


def point_ids(spec: dict[str, Any]) -> list[int]:
    return [int(i) for trace in spec["data"] for i in values(trace["customdata"])]


def latest_members(corpus: UiCorpus) -> dict[int, tuple[int, float, float]]:
    """Question id -> (cluster key, x, y) of the latest run, from the database."""
    with open_database(corpus.database_url)() as session:
        run = latest_run(session, get_corpus(session, corpus.name).id)
        assert run is not None
        rows = session.execute(
            select(ClusterMember.question_id, ClusterMember.cluster_key, ClusterMember.x,
                   ClusterMember.y).where(ClusterMember.run_id == run.id)
        ).all()  # fmt: skip
    return {question_id: (key, x, y) for question_id, key, x, y in rows}


def test_every_question_is_a_point_coloured_by_cluster(clustered_env: UiCorpus) -> None:
    at = map_page()
    assert at.title[0].value == "Map"
    assert at.slider(key="map_points").value == 20_000
    assert any(
        c.value.startswith(f"showing {CLUSTERED_ROWS} of {CLUSTERED_ROWS} questions")
        for c in at.caption
    )
    members = latest_members(clustered_env)
    spec = figure(at)
    ids = point_ids(spec)
    assert sorted(ids) == sorted(members)
    traces = {trace["name"]: trace for trace in spec["data"]}
    assert len(traces) == len({key for key, _, _ in members.values()})
    outliers = spec["data"][0]  # drawn first, underneath the clusters
    assert outliers["name"] == "-1 · outliers"
    assert outliers["marker"]["color"] == "#c4c4c4"
    assert all(members[i][0] == -1 for i in values(outliers["customdata"]))
    colours = [trace["marker"]["color"] for trace in spec["data"][1:]]
    assert len(set(colours)) == len(colours)
    for trace in spec["data"][1:]:
        keys = {members[int(i)][0] for i in values(trace["customdata"])}
        assert len(keys) == 1
        assert trace["name"].startswith(f"{keys.pop()} · ")
    first = spec["data"][1]
    some = int(values(first["customdata"])[0])
    assert values(first["x"])[0] == members[some][1]
    assert len(first["text"]) == len(values(first["customdata"]))
    assert spec["layout"]["dragmode"] == "lasso"


def test_hover_shows_the_question(clustered_env: UiCorpus) -> None:
    spec = figure(map_page())
    texts = [text.replace("<br>", " ") for trace in spec["data"] for text in trace["text"]]
    assert "How do I reset my password?" in texts


def test_large_corpora_are_sampled(clustered_env: UiCorpus) -> None:
    at = map_page()
    at.slider(key="map_points").set_value(100).run()
    assert not at.exception
    assert any(c.value.startswith(f"showing 100 of {CLUSTERED_ROWS} questions") for c in at.caption)
    ids = point_ids(figure(at))
    assert len(ids) == len(set(ids)) == 100
    again = map_page()
    again.slider(key="map_points").set_value(100).run()
    assert sorted(point_ids(figure(again))) == sorted(ids)  # a fixed sample


def test_the_sample_is_spread_over_the_corpus(clustered_env: UiCorpus) -> None:
    with open_database(clustered_env.database_url)() as session:
        run = latest_run(session, get_corpus(session, clustered_env.name).id)
        assert run is not None
        everything = map_points(session, run.id, limit=CLUSTERED_ROWS)
        sample = map_points(session, run.id, limit=150)
        other_seed = map_points(session, run.id, limit=150, seed=12_345)
    assert len(everything) == CLUSTERED_ROWS
    assert len(sample) == 150
    ordered = sorted(p.question_id for p in everything)
    chosen = {p.question_id for p in sample}
    assert chosen <= set(ordered)
    for part in np.array_split(np.array(ordered), 5):  # each fifth of the ids: about 30 points
        assert 20 <= len(chosen & set(part.tolist())) <= 40
    assert chosen != {p.question_id for p in other_seed}
    by_id = {p.question_id: p for p in everything}
    assert all(by_id[p.question_id] == p for p in sample)


def test_selected_points_are_listed() -> None:
    points = pd.DataFrame(
        {
            "id": [10, 11, 12],
            "x": [0.0, 1.0, 2.0],
            "y": [0.0, 1.0, 2.0],
            "cluster": [3, -1, 3],
            "question": ["a?", "b?", "c?"],
        }
    )
    selection = {
        "points": [
            {"curve_number": 1, "point_index": 1, "customdata": 12},
            {"curve_number": 0, "point_index": 0, "customdata": [11]},
            {"curve_number": 1, "point_index": 1, "customdata": 12},
        ]
    }
    assert selected_ids(selection) == [12, 11]
    frame = selected_frame(points, [12, 11, 99], {3: "3 · billing", -1: "-1 · outliers"})
    assert frame.to_dict("list") == {
        "question": ["c?", "b?"],
        "cluster": ["3 · billing", "-1 · outliers"],
    }


def test_a_corpus_without_clustering_says_how_to_cluster(clustered_env: UiCorpus) -> None:
    at = map_page()
    at.selectbox(key="corpus").set_value("support").run()
    assert not at.exception
    assert "qclust cluster --corpus support" in at.info[0].value
    assert not at.get("plotly_chart")


def test_the_corpus_chosen_on_one_page_stays_chosen(clustered_env: UiCorpus) -> None:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/clusters.py").run()
    at.selectbox(key="corpus").set_value("support").run()
    at.switch_page("pages/map.py").run()
    assert not at.exception
    assert at.selectbox(key="corpus").value == "support"
    assert "qclust cluster --corpus support" in at.info[0].value
    at.selectbox(key="corpus").set_value("demo").run()
    at.switch_page("pages/duplicates.py").run()
    assert at.selectbox(key="corpus").value == "demo"


def test_the_largest_clusters_are_named_on_the_map(clustered_env: UiCorpus) -> None:
    spec = figure(map_page())
    written = [annotation["text"] for annotation in spec["layout"]["annotations"]]
    legend = [trace["name"].split(" · ", 1)[1] for trace in spec["data"][1:]]
    assert written
    assert set(written) <= set(legend)
    assert spec["layout"]["margin"]["t"] >= 30  # the toolbar sits above the plot, not on it


def test_colours_stay_distinct_past_two_dozen() -> None:
    colours = distinct_colours(64)
    assert len(set(colours)) == 64
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=float)
    for number in range(63):  # legend neighbours differ plainly
        assert np.abs(rgb[number] - rgb[number + 1]).sum() > 60


def test_colour_by_a_stored_column_and_by_outlier(clustered_env: UiCorpus) -> None:
    at = map_page()
    options = at.selectbox(key="map_colour").options
    assert options[:3] == ["cluster", "coarse topics", "outlier or not"]
    assert "change since the last run" in options
    assert "topic" in options  # the demo file's own column, stored at ingest
    at.selectbox(key="map_colour").set_value("topic").run()
    assert not at.exception
    names = {trace["name"] for trace in figure(at)["data"]}
    assert "password_reset" in names
    at.selectbox(key="map_colour").set_value("outlier or not").run()
    names = {trace["name"] for trace in figure(at)["data"]}
    assert names <= {"outlier", "in a cluster"}
    assert sorted(point_ids(figure(at))) == sorted(latest_members(clustered_env))


def test_search_hits_are_starred(clustered_env: UiCorpus) -> None:
    at = map_page()
    at.text_input(key="map_search").input("How do I reset my password?").run()
    assert not at.exception
    stars = [trace for trace in figure(at)["data"] if trace["name"] == "search hits"]
    assert len(stars) == 1
    assert len(values(stars[0]["customdata"])) == 50
    assert stars[0]["marker"]["symbol"] == "star"
    assert any("50 of 50 search hits shown" in c.value for c in at.caption)


def test_colour_and_names_by_coarse_topic(clustered_env: UiCorpus) -> None:
    at = map_page()
    at.selectbox(key="map_colour").set_value("coarse topics").run()
    assert not at.exception
    with open_database(clustered_env.database_url)() as session:
        run = latest_run(session, get_corpus(session, clustered_env.name).id)
        assert run is not None
        coarse = {view.key: view.name for view in cluster_views(session, run, level=1)}
        parents = {view.key: view.parent_key for view in cluster_views(session, run)}
    spec = figure(at)
    legend = {trace["name"] for trace in spec["data"]}
    assert legend - {"outlier"} == {f"{key} · {name}" for key, name in coarse.items()}
    # Each point sits in the trace of the coarse topic holding its topic.
    members = latest_members(clustered_env)
    for trace in spec["data"]:
        for question in values(trace["customdata"]):
            topic = members[int(question)][0]
            expected = "outlier" if topic == -1 else f"{parents[topic]} · {coarse[parents[topic]]}"
            assert trace["name"] == expected
    written = {annotation["text"] for annotation in spec["layout"]["annotations"]}
    assert written
    assert written <= set(coarse.values())  # the coarse topics' names, not the topics'
