"""User text is shown as text: never as rich markup, Markdown, Plotly HTML or a spreadsheet formula.

One corpus of hostile questions (markup, Markdown, HTML, formulas) is ingested, clustered and
shown through the CLI and every UI page that prints user text.
"""

from __future__ import annotations

import html
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from markdown_it import MarkdownIt
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from app import cli_common
from app.cli import main
from app.cli_common import app
from app.cli_models import _next_version, default_output, folder_name
from app.csv_export import neutralise_formulas, safe_csv
from app.ui_resources import no_run_message
from app.ui_text import escape_markdown, markdown_code, plotly_text
from clustering.params import ClusterParams
from clustering.pipeline import run_clustering
from db.cluster_queries import cluster_views, latest_run, rename_cluster
from db.errors import QclustError
from db.queries import get_corpus
from db.session import open_database
from db.settings import Settings
from indexer.encoder import Encoder
from indexer.ingest import ingest_file
from tests.app.conftest import ENTRYPOINT, UiCorpus, point_app_at
from tests.conftest import write_csv

TIMEOUT = 60
CORPUS = "[/]bad"
# Four topics, so that a small clustering run makes clusters; nearly every text is hostile.
QUESTIONS = [
    "How do I reset my **password**?",
    "I forgot my **password**, how do I reset it?",
    "[reset](http://evil.example) my password please",
    "Password reset link does not arrive <b>at all</b>",
    "How can I change my password? ![x](http://evil.example/x.png)",
    "[bold]x[/bold] password reset fails",
    "_Reset_ my password from the mobile app",
    "# Password reset for my account",
    "Where can I download my invoices?",
    '=HYPERLINK("http://evil.example","invoice")',
    "+1 invoice is missing",
    "-1+2 invoices are missing",
    "@SUM(1+1) invoice total",
    "<a href='http://evil.example'>download</a> my invoice as PDF",
    "How do I get a PDF copy of my invoice?",
    "Invoice total shows $5 and $10",
    "1. How do I cancel my subscription?",
    "- cancel my subscription please",
    "How can I stop my subscription from renewing? `rm -rf`",
    "Cancel my **plan** before it renews",
    "> Can I cancel my yearly subscription?",
    "~~Cancel~~ pause my subscription",
    "| cancel | subscription |",
    "[bash] Escape a string",
    "[bash] Quote a variable in a script",
    "[bash] Loop over files in a folder",
    "[/]",
    ":thumbs_up: emoji codes stay text",
    "[python] Escape a string 100%{x}",
]
FORMULA = QUESTIONS[9]
FORMULA_ID = "=2+5"
CLUSTER_NAME = "<i>Shell</i> **[/]** [l](http://evil.example) 50%{x}"
ANALYST = "**Ana** [me](http://evil.example)"


def external_id(number: int) -> str:
    return FORMULA_ID if QUESTIONS[number] == FORMULA else f"[i]q{number:02d}"


def questions_csv(path: Path) -> Path:
    return write_csv(path, [{"id": external_id(n), "question": q} for n, q in enumerate(QUESTIONS)])


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables wide enough that no cell wraps, so that each text can be found whole."""
    for console in (cli_common.out, cli_common.err):
        monkeypatch.setattr(console, "_width", 250)


@pytest.fixture
def hostile_cli(
    sqlite_settings: Settings,
    cli_for: Callable[[Settings], CliRunner],
    tmp_path: Path,
    wide_consoles: None,
) -> CliRunner:
    runner = cli_for(sqlite_settings)
    path = questions_csv(tmp_path / "hostile.csv")
    result = runner.invoke(app, ["ingest", str(path), "-c", CORPUS, "--id-column", "id", "-q"])
    assert result.exit_code == 0, result.output
    assert f"-> corpus '{CORPUS}': {len(QUESTIONS)} rows read" in result.output
    return runner


def run_ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_prints_corpus_names_questions_and_ids_literally(hostile_cli: CliRunner) -> None:
    assert CORPUS in run_ok(hostile_cli, "corpora")
    assert f"{CORPUS}: 0.80 (default)" in run_ok(hostile_cli, "threshold", CORPUS)

    found = run_ok(hostile_cli, "search", "[bash] Escape a string", "-c", CORPUS, "-k", "30")
    for text in ("[bash] Escape a string", "[/]", "[bold]x[/bold] password reset fails"):
        assert text in found, found
    assert ":thumbs_up: emoji codes stay text" in found  # no emoji either
    assert "[i]q23" in found  # an external id

    checked = run_ok(hostile_cli, "dupes", "[bash] Escape a string", "-c", CORPUS)
    assert "[bash] Escape a string" in checked


def test_cli_errors_print_user_text_literally(
    hostile_cli: CliRunner, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blank = tmp_path / "[bold]blank.csv"
    blank.write_text("question\n   \n", encoding="utf-8")
    result = hostile_cli.invoke(app, ["ingest", str(blank), "-c", CORPUS, "-q"])
    assert result.exit_code == 1, result.output
    assert f"error: no usable question in {blank}; nothing was stored" in result.output

    missing = hostile_cli.invoke(app, ["clusters", "-c", CORPUS])
    assert missing.exit_code == 1, repr(missing.exception)
    assert f"corpus '{CORPUS}' has no clustering yet" in missing.output

    # `main()` reports a QclustError (here: an unknown corpus) as one red line.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["qclust", "search", "x", "-c", "[/]nope"])
        with pytest.raises(SystemExit) as exited:
            main()
    assert exited.value.code == 1
    assert f"error: corpus '[/]nope' does not exist; known corpora: {CORPUS}" in (
        capsys.readouterr().err
    )


@pytest.mark.slow
def test_cli_prints_cluster_names_literally(
    hostile_cli: CliRunner, sqlite_settings: Settings
) -> None:
    run_ok(hostile_cli, "cluster", "-c", CORPUS, "--min-cluster-size", "3", "--seed", "0", "-q")
    sessions = open_database(sqlite_settings.resolved_database_url)
    with sessions.begin() as session:
        corpus_id = get_corpus(session, CORPUS).id
        run = latest_run(session, corpus_id)
        assert run is not None
        key = cluster_views(session, run)[0].key
        rename_cluster(session, corpus_id, key, CLUSTER_NAME)
    listing = run_ok(hostile_cli, "clusters", "-c", CORPUS)
    assert CLUSTER_NAME in listing, listing
    members = run_ok(hostile_cli, "cluster-show", str(key), "-c", CORPUS)
    assert any(text in members for text in QUESTIONS)
    run_ok(hostile_cli, "outliers", "-c", CORPUS)

    unknown = hostile_cli.invoke(app, ["cluster-show", "999", "-c", CORPUS])
    assert unknown.exit_code == 1, repr(unknown.exception)
    assert f"the latest run of corpus '{CORPUS}' has no cluster 999" in unknown.output


# --- `qclust train`: the default folder stays in the data folder ------------------------------


def test_train_keeps_a_corpus_named_like_a_path_inside_the_models_folder(
    sqlite_settings: Settings,
    cli_for: Callable[[Settings], CliRunner],
    tmp_path: Path,
    tiny_bert: Path,
) -> None:
    runner = cli_for(sqlite_settings)
    texts = ["reset my password", "forgot password", "change my email", "change email account"]
    path = write_csv(tmp_path / "q.csv", [{"question": text} for text in texts])
    name = "../../X"
    result = runner.invoke(app, ["ingest", str(path), "-c", name, "--model", str(tiny_bert), "-q"])
    assert result.exit_code == 0, result.output
    rows = [
        {"q1": "reset my password", "q2": "forgot password", "label": "1"},
        {"q1": "change my email", "q2": "change email account", "label": "1"},
        {"q1": "reset my password", "q2": "change email account", "label": "0"},
        {"q1": "forgot password", "q2": "change my email", "label": "0"},
    ] * 3
    pairs = write_csv(tmp_path / "pairs.csv", rows)
    result = runner.invoke(
        app, ["train", name, "--pairs", str(pairs), "--held-out", "0", "--batch-size", "4"]
    )
    assert result.exit_code == 0, repr(result.exception)
    models = sqlite_settings.data_dir / "models"
    assert (models / "X-v1" / "modules.json").exists()
    assert not list(tmp_path.glob("*X-v1*"))  # where `models/../../X-v1` would have gone


@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("../../X", "X"),
        ("/etc/passwd", "etc-passwd"),
        ("..", "model"),
        (".hidden", "hidden"),
        ("", "model"),
        ("C:\\models\\m", "C-models-m"),
        ("Fragen ä/ö", "Fragen-ä-ö"),
        ("support_v2.1-de", "support_v2.1-de"),
    ],
)
def test_folder_names_are_one_safe_path_part(name: str, folder: str) -> None:
    assert folder_name(name) == folder


def test_the_default_output_is_the_next_free_version_inside_the_folder(tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert default_output(models, "../../X") == models / "X-v1"
    (models / "X-v1").mkdir(parents=True)
    assert default_output(models, "../../X") == _next_version(models, "X") == models / "X-v2"


def test_a_default_output_that_a_link_leads_outside_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "X-v1").symlink_to(tmp_path / "elsewhere")  # dangling: the version looks free
    with pytest.raises(QclustError, match="choose one with --output"):
        default_output(models, "X")


# --- the web UI -------------------------------------------------------------------------------

MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def shown_as(markdown: str) -> tuple[str, set[str]]:
    """What a CommonMark renderer shows for `markdown`: the plain text, and the tags it made."""
    rendered = MARKDOWN.render(markdown)
    tags = set(re.findall(r"<([a-z][a-z0-9]*)", rendered)) - {"p"}
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip(), tags


def assert_shown_as_text(markdown: str, text: str) -> None:
    shown, tags = shown_as(markdown)
    assert not tags, (markdown, tags)
    assert shown == text, (markdown, shown)


@pytest.fixture(scope="module")
def hostile_corpus(tmp_path_factory: pytest.TempPathFactory, default_encoder: Encoder) -> UiCorpus:
    """The hostile questions as corpus `[/]bad`, clustered, its largest cluster renamed."""
    corpus = UiCorpus(tmp_path_factory.mktemp("hostile"), name=CORPUS)
    csv = questions_csv(tmp_path_factory.mktemp("hostile-source") / "hostile.csv")
    report = ingest_file(
        csv,
        CORPUS,
        settings=corpus.settings,
        text_column="question",
        id_column="id",
        encoder=default_encoder,
    )
    assert report.added == len(QUESTIONS)
    sessions = open_database(corpus.database_url)
    params = ClusterParams(min_cluster_size=3, random_state=0)
    run_clustering(CORPUS, settings=corpus.settings, sessions=sessions, params=params)
    with sessions.begin() as session:
        corpus_id = get_corpus(session, CORPUS).id
        run = latest_run(session, corpus_id)
        assert run is not None
        rename_cluster(session, corpus_id, cluster_views(session, run)[0].key, CLUSTER_NAME)
    sessions.kw["bind"].dispose()
    return corpus


@pytest.fixture
def hostile_env(monkeypatch: pytest.MonkeyPatch, hostile_corpus: UiCorpus) -> UiCorpus:
    point_app_at(monkeypatch, hostile_corpus.data_dir, hostile_corpus.database_url)
    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", CORPUS)
    return hostile_corpus


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_labelling_shows_question_texts_and_the_analyst_as_text(hostile_env: UiCorpus) -> None:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/labelling.py").run()
    at.text_input(key="analyst").input(ANALYST).run()
    assert not at.exception, [e.value for e in at.exception]
    boxes = [box.value for box in at.info]
    assert len(boxes) >= 2
    shown = [shown_as(box)[0] for box in boxes]
    assert set(shown) <= set(QUESTIONS), shown
    assert any(shown_as(text)[1] for text in shown)  # the queue holds Markdown-looking texts
    for box, text in zip(boxes, shown, strict=True):
        assert_shown_as_text(box, text)
    caption = next(c.value for c in at.caption if "Labelling as" in c.value)
    assert shown_as(caption)[0].endswith(f"Labelling as {ANALYST}.")
    assert not shown_as(caption)[1]


def test_clusters_page_shows_cluster_names_as_text(hostile_env: UiCorpus) -> None:
    at = open_page("clusters")
    selected = at.selectbox(key="cluster_key").value
    assert selected is not None
    key = int(selected)
    assert_shown_as_text(at.subheader[0].value, f"{key} · {CLUSTER_NAME}")
    for caption in at.caption:
        assert not shown_as(caption.value)[1], caption.value

    # Renaming to the same name again: the notice quotes it as text.
    at.text_input(key=f"rename_1_{key}").input(f" {CLUSTER_NAME} ").run()
    at.button(key="rename").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert_shown_as_text(at.success[0].value, f"Cluster {key} is now called {CLUSTER_NAME}.")


def plotly_spec(at: AppTest) -> dict[str, Any]:
    import json

    charts = at.get("plotly_chart")
    assert len(charts) == 1
    spec: dict[str, Any] = json.loads(charts[0].proto.spec)
    return spec


def test_map_hover_texts_and_legend_are_escaped_html(hostile_env: UiCorpus) -> None:
    traces = plotly_spec(open_page("map"))["data"]
    texts = [text for trace in traces for text in trace["text"]]
    pieces = [*texts, *(trace["name"] for trace in traces)]
    pieces += [trace["hovertemplate"] for trace in traces]
    for piece in pieces:
        assert not re.search(r"<(a|b|i)\b", piece), piece
        assert "%{x}" not in piece, piece  # no template the label could smuggle in
    flat = [text.replace("<br>", " ") for text in texts]
    question = QUESTIONS[13]
    assert html.escape(question, quote=False) in flat
    names = [trace["name"] for trace in traces]
    assert any(html.escape(CLUSTER_NAME, quote=False).replace("%", "&#37;") in n for n in names)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The files download buttons hand to Streamlit's media store."""
    saved: list[bytes] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self: MemoryMediaFileStorage, data: Any, mimetype: str, *args: Any) -> str:
        if mimetype.startswith("text/csv"):
            saved.append(bytes(data))
        return original(self, data, mimetype, *args)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return saved


def test_duplicate_check_csv_neutralises_formulas(
    hostile_env: UiCorpus, downloads: list[bytes]
) -> None:
    at = open_page("duplicates")
    at.text_area(key="dup_text").input(f"{FORMULA}\n+1 invoice is missing\n").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[0].value
    assert shown.loc[0, "question"] == FORMULA  # the table shows the text as it is
    frame = pd.read_csv(io.BytesIO(downloads[-1]), dtype={"best match id": str})
    assert frame.loc[0, "question"] == f"'{FORMULA}"
    assert frame.loc[1, "question"] == "'+1 invoice is missing"
    assert frame.loc[0, "best match"] == f"'{FORMULA}"
    assert frame.loc[0, "best match id"] == f"'{FORMULA_ID}"
    assert frame["score"].dtype.kind == "f"  # numbers stay numbers
    for column in frame.columns:
        for value in frame[column]:
            assert not (isinstance(value, str) and value[:1] in "=+-@\t\r"), (column, value)


# --- the helpers ------------------------------------------------------------------------------

HOSTILE_MARKDOWN = [
    *QUESTIONS,
    CLUSTER_NAME,
    ANALYST,
    "a\\*b\\* stays",
    "line one\n- line two\n===\n2) three",
    "&amp; &lt;b&gt; entities",
    "  - indented item",
    "10. ten",
    "trailing backslash \\",
]


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
def test_escaped_markdown_renders_as_the_text(text: str) -> None:
    shown, tags = shown_as(escape_markdown(text))
    assert not tags, tags
    assert shown == " ".join(line.strip() for line in text.splitlines()).strip() or shown == text


def test_markdown_escaping_covers_streamlit_and_gfm_extras() -> None:
    assert escape_markdown("$x^2$ costs $5") == r"\$x^2\$ costs \$5"  # no LaTeX
    assert escape_markdown(":red[alert]") == r":red\[alert\]"  # no colour directive
    assert escape_markdown("see https://evil.example") == r"see https\://evil.example"
    assert escape_markdown("www.evil.example") == r"www\.evil.example"
    assert escape_markdown("me@evil.example") == r"me\@evil.example"
    assert escape_markdown("Plans, SSO and invites.") == "Plans, SSO and invites."


@pytest.mark.parametrize("text", ["plain", "a `tick`", "``double``", "`", "x ``` y"])
def test_a_code_span_shows_backticks_as_typed(text: str) -> None:
    rendered = MARKDOWN.renderInline(markdown_code(text))
    code = re.fullmatch(r"<code>(.*)</code>", rendered)
    assert code is not None, rendered
    assert html.unescape(code.group(1)).strip() == text.strip()


def test_the_no_run_message_quotes_the_corpus_for_the_shell_inside_code() -> None:
    message = no_run_message("a `b` [c](http://evil.example)")
    assert MARKDOWN.renderInline(message) == (
        "No clustering yet: run <code>qclust cluster --corpus "
        "'a `b` [c](http://evil.example)'</code> or use the Corpora page."
    )
    assert no_run_message("support") == (
        "No clustering yet: run `qclust cluster --corpus support` or use the Corpora page."
    )


def test_plotly_text_escapes_tags_entities_and_templates() -> None:
    assert plotly_text("<b>x</b> & 50%{y}") == "&lt;b&gt;x&lt;/b&gt; &amp; 50&#37;{y}"
    assert plotly_text('say "hi"') == 'say "hi"'  # Plotly would show &quot; as typed


def test_formula_cells_are_quoted_and_numbers_kept() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=1+2", "+1", "-1+2", "@SUM(A1)", "\tx", "\rx", "fine -1", "", None],
            "score": [-0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
            "count": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    )
    safe = neutralise_formulas(frame)
    quoted = ["'=1+2", "'+1", "'-1+2", "'@SUM(A1)", "'\tx", "'\rx"]
    assert list(safe["text"][:8]) == [*quoted, "fine -1", ""]
    assert pd.isna(safe["text"][8])
    assert safe["score"].equals(frame["score"])
    assert safe["count"].equals(frame["count"])
    assert frame["text"][0] == "=1+2"  # the shown frame is left alone
    written = pd.read_csv(io.BytesIO(safe_csv(frame)))
    assert list(written["score"][:2]) == [-0.5, 0.1]
    assert list(written["count"][:2]) == [-1, 2]


def test_corpora_page_errors_quote_file_names_as_text(hostile_env: UiCorpus) -> None:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=TIMEOUT).run()
    at.switch_page("pages/corpora.py").run()
    name = "[x](http://evil.example) **b**.csv"
    at.file_uploader(key="ingest_file").set_value((name, b"\x00\x01\x02 no", "text/csv"))
    at.run()
    at.button(key="ingest").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1
    shown, tags = shown_as(at.error[0].value)
    assert not tags, at.error[0].value
    assert shown.startswith(f"{name}: looks like a binary file")
