"""`qclust eval` end to end on small files, with the default model; results land in the database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import app
from db.models import EvalResult
from db.session import open_database
from db.settings import Settings
from indexer.eval_data import EvalDataError
from indexer.evaluate import similarities
from tests.conftest import write_csv

PAIRS = [
    ("How do I reset my password?", "I forgot my password, how do I reset it?", "1"),
    ("How can I cancel my subscription?", "How do I stop my plan from renewing?", "1"),
    ("Where are my invoices?", "Where can I download my past invoices?", "1"),
    ("Is there a dark mode?", "Can I switch the app to a dark theme?", "1"),
    ("How do I reset my password?", "Is there a dark mode?", "0"),
    ("Where are my invoices?", "How can I cancel my subscription?", "0"),
    ("Does the app work offline?", "How do I export my data to CSV?", "0"),
    ("Can I invite teammates?", "Why was my card declined?", "0"),
]


@pytest.fixture
def cli(settings: Settings, cli_for: Callable[[Settings], CliRunner]) -> CliRunner:
    return cli_for(settings)


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    rows = [{"id": str(i), "question1": a, "question2": b, "is_duplicate": y}
            for i, (a, b, y) in enumerate(PAIRS)]  # fmt: skip
    return write_csv(tmp_path / "pairs.csv", rows)


def stored(settings: Settings) -> list[EvalResult]:
    with open_database(settings.resolved_database_url)() as session:
        return list(session.scalars(select(EvalResult).order_by(EvalResult.id)))


def test_pairs_reports_every_similarity_and_is_stored(
    cli: CliRunner, pairs_file: Path, settings: Settings
) -> None:
    result = cli.invoke(app, ["eval", "pairs", str(pairs_file), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["kind"] == "pairs"
    assert record["rows"] == len(PAIRS)
    assert set(record["metrics"]) == {"cosine", "dot", "manhattan", "euclidean"}
    cosine = record["metrics"]["cosine"]
    assert cosine["accuracy"] == pytest.approx(1.0)  # these pairs are easy
    assert cosine["average_precision"] == pytest.approx(1.0)
    assert 0.0 < cosine["f1_threshold"] < 1.0
    # Unit vectors: dot is cosine, so both find the same thresholds.
    assert record["metrics"]["dot"]["f1_threshold"] == pytest.approx(cosine["f1_threshold"])
    rows = stored(settings)
    assert [(r.kind, r.rows, r.data_sha256) for r in rows] == [
        ("pairs", len(PAIRS), record["sha256"])
    ]
    assert rows[0].metrics["cosine"]["f1"] == pytest.approx(cosine["f1"])

    table = cli.invoke(app, ["eval", "pairs", str(pairs_file)])
    assert table.exit_code == 0, table.output
    assert "euclidean" in table.output
    assert "pairs on" in table.output
    header = next(line for line in table.output.splitlines() if "similarity" in line).split()
    # Each threshold is named with its score, not two columns both called "threshold" (an
    # 80-column terminal may cut the names short).
    assert header[:2] == ["similarity", "accuracy"]
    assert header[2].startswith("acc-thr")
    assert header[3] == "F1"
    assert header[4].startswith("F1-thr")


def test_sts_correlates_with_gold_scores(cli: CliRunner, tmp_path: Path) -> None:
    rows = [{"sentence1": a, "sentence2": b, "score": str(4.5 if y == "1" else 0.5 + i / 10)}
            for i, (a, b, y) in enumerate(PAIRS)]  # fmt: skip
    path = tmp_path / "sts.tsv"
    path.write_text(
        "sentence1\tsentence2\tscore\n"
        + "".join(f"{r['sentence1']}\t{r['sentence2']}\t{r['score']}\n" for r in rows)
    )
    result = cli.invoke(app, ["eval", "sts", str(path), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert metrics["cosine"]["spearman"] > 0.6
    assert metrics["cosine"]["pearson"] > 0.8


def test_retrieval_finds_each_partner(cli: CliRunner, pairs_file: Path) -> None:
    result = cli.invoke(app, ["eval", "retrieval", str(pairs_file), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert metrics["queries"] == 4  # the duplicate pairs only
    assert metrics["candidates"] == 4
    assert metrics["recall"]["1"] == pytest.approx(1.0)
    assert metrics["mrr_at_10"] == pytest.approx(1.0)


def test_clusters_scores_against_labels(cli: CliRunner, tmp_path: Path) -> None:
    topics = {
        "password": ["reset my password", "forgot password", "password reset link"],
        "billing": ["refund my payment", "download an invoice", "card charged twice"],
        "mobile": ["app crashes on iphone", "android app login", "mobile app offline"],
    }
    rows = [
        {"text": f"{text} ({n})", "label": label}
        for n in range(4)
        for label, texts in topics.items()
        for text in texts
    ]
    path = write_csv(tmp_path / "topics.csv", rows)
    result = cli.invoke(
        app, ["eval", "clusters", str(path), "--min-cluster-size", "3", "--seed", "0", "--json"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    assert metrics["questions"] == 36
    assert metrics["true_labels"] == 3
    # Each text's four variants group together, and never across topics: complete and pure.
    assert metrics["v_measure"] > 0.5
    assert 3 <= metrics["clusters"] <= 12


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("question1,question2,is_duplicate\na,b,1\nc,d,2\n", [], "labels must be 0 or 1"),
        ("question1,question2,is_duplicate\na,b,1\nc,d,x\n", [], "is not a number"),
        ("question1,question2\na,b\nc,d\n", [], "no label or score column"),
        ("question1,is_duplicate\na,1\nc,0\n", [], "needs 2 text columns"),
        ("question1,question2,is_duplicate\na,b,1\n", [], "at least 2"),
        ("q1,q2,label\na,b,1\nc,d,0\n", ["--text-column", "q1,nope"], "no column nope"),
        ("q1,q2,label\na,b,1\nc,d,1\n", [], "both must occur"),
    ],
)
def test_bad_pair_files_say_what_is_wrong(
    cli: CliRunner, tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = cli.invoke(app, ["eval", "pairs", str(path), *args])
    assert isinstance(result.exception, EvalDataError), result.output
    assert message in str(result.exception)


def test_a_missing_model_or_file_is_a_clear_error(cli: CliRunner, pairs_file: Path) -> None:
    result = cli.invoke(app, ["eval", "pairs", str(pairs_file), "--model", "/no/such/model"])
    assert "no model folder at /no/such/model" in str(result.exception)
    result = cli.invoke(app, ["eval", "sts", "/no/such/file.tsv"])
    assert "no such file" in str(result.exception)


def test_distances_are_negated_so_higher_is_more_similar() -> None:
    import numpy as np

    a = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    b = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    found = similarities(a, b)
    for scores in found.values():
        assert scores[0] > scores[1]
    assert found["cosine"].tolist() == pytest.approx([1.0, 0.0])
