"""End to end: `streamlit run` in a subprocess, driven by a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

from tests.app.conftest import (
    CLUSTERED,
    CLUSTERED_ROWS,
    CORPUS,
    ENTRYPOINT,
    SUPPORT_QUESTIONS,
    UiCorpus,
    point_app_at,
)

SERVER_START_TIMEOUT = 60.0
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited early with code {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"streamlit did not answer on port {port} within {timeout:.0f} s")


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        reason = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("QCLUST_TEST_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}, and QCLUST_TEST_REQUIRE_BROWSER is set")
        pytest.skip(reason)
    return path


@pytest.fixture
def browser_env(monkeypatch: pytest.MonkeyPatch, clustered_corpus: UiCorpus) -> UiCorpus:
    """The support corpus opens first; the clustered demo corpus is one selectbox away."""
    point_app_at(monkeypatch, clustered_corpus.data_dir, clustered_corpus.database_url)
    monkeypatch.setenv("QCLUST_DEFAULT_CORPUS", CORPUS)
    return clustered_corpus


@pytest.fixture
def server_url(browser_env: UiCorpus, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    # Started as a user starts it: `qclust ui`, a new HOME, no terminal to answer prompts on.
    command = [sys.executable, "-m", "app.cli", "ui", "--port", str(port)]
    log = (tmp_path / "streamlit.log").open("wb")
    home = tmp_path / "home"
    home.mkdir()
    # Env vars set by browser_env (monkeypatch) are in os.environ, so the server inherits them.
    server = subprocess.Popen(
        command,
        cwd=ENTRYPOINT.parents[1],
        env={**os.environ, "HOME": str(home)},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, server, SERVER_START_TIMEOUT)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def assert_screenshot(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


@pytest.mark.browser
@pytest.mark.slow
def test_search_in_a_real_browser(chromium: str, server_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expected = SUPPORT_QUESTIONS["s05"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            # 1,400 px: a laptop's width, where the result table must still fit its links.
            page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            page.goto(server_url, wait_until="domcontentloaded")
            box = page.get_by_label("Question")
            expect(box).to_be_visible(timeout=60_000)
            page.screenshot(path=tmp_path / "empty.png", full_page=True)
            expect(page.get_by_text("Deploy", exact=True)).to_have_count(0)  # no developer bar

            box.fill("I would like my money back for the last charge")
            box.press("Enter")
            expect(page.get_by_text("Verdict:")).to_be_visible(timeout=60_000)
            expect(page.get_by_text(re.compile(r"\d+ results in \d+ ms"))).to_be_visible()
            # The data grid draws on a canvas and mirrors its cells in a table that is hidden
            # from the accessibility tree, so CSS finds it where get_by_role cannot.
            rows = page.locator("[data-testid='stDataFrame'] table [role='row']")
            expect(rows.nth(1)).to_contain_text(expected, timeout=30_000)  # nth(0): header
            expect(rows.nth(1)).to_contain_text("s05")
            page.screenshot(path=tmp_path / "results.png", full_page=True)

            visit_clusters(page, tmp_path / "clusters.png")
            visit_map(page, tmp_path / "map.png")
            visit_other_pages(page, tmp_path)
        finally:
            browser.close()
    for name in ("empty", "results", "clusters", "map", "duplicates", "labelling", "corpora"):
        assert_screenshot(tmp_path / f"{name}.png")
    kept = os.environ.get("QCLUST_TEST_SCREENSHOTS")  # to look at them after a run
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        for picture in tmp_path.glob("*.png"):
            shutil.copy(picture, Path(kept) / picture.name)


def choose(page: Page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def visit_clusters(page: Page, screenshot: Path) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Clusters").click()
    # The corpus chosen on the Search page stays chosen; it has no clustering run.
    expect(page.get_by_text("No clustering yet")).to_be_visible(timeout=60_000)
    choose(page, "Corpus", CLUSTERED)
    expect(page.get_by_text(re.compile(rf"Run 1 · {CLUSTERED_ROWS} questions"))).to_be_visible(
        timeout=60_000
    )
    # The password cluster holds a known pair of paraphrases: a near-duplicate group.
    page.get_by_label("Filter").fill("password")
    page.get_by_label("Filter").press("Enter")
    tables = page.locator("[data-testid='stDataFrame']")
    expect(tables).to_have_count(3, timeout=30_000)  # clusters, members, near-duplicate groups
    header = tables.nth(0).locator("table [role='row']").nth(0)
    expect(header).to_contain_text("representative question")
    expect(tables.nth(2).locator("table [role='row']").nth(0)).to_contain_text("canonical")
    expect(page.get_by_role("button", name="Rename")).to_be_visible()
    page.screenshot(path=screenshot, full_page=True)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Export questions (CSV)").click()
    exported = pd.read_csv(download.value.path())
    assert len(exported) == CLUSTERED_ROWS
    assert {"question", "cluster", "cluster_name", "canonical_question"} <= set(exported.columns)


def visit_map(page: Page, screenshot: Path) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Map").click()
    expect(
        page.get_by_text(f"showing {CLUSTERED_ROWS} of {CLUSTERED_ROWS} questions")
    ).to_be_visible(timeout=60_000)
    chart = page.locator("[data-testid='stPlotlyChart']")
    expect(chart.locator(".legend .traces").first).to_be_visible(timeout=60_000)
    expect(chart.locator(".legend .traces").first).to_contain_text("-1 · outliers")
    # The largest clusters' names are written on the map itself.
    expect(chart.locator(".annotation-text").first).to_be_visible(timeout=30_000)
    assert chart.locator(".annotation-text").count() >= 3
    page.wait_for_timeout(1_000)  # let WebGL draw the points before the picture
    page.screenshot(path=screenshot, full_page=True)
    # A lasso round most of the plot selects points, and the page lists them.
    plot = chart.locator(".nsewdrag").first
    box = plot.bounding_box()
    assert box is not None
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    corners = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9), (0.1, 0.12)]
    page.mouse.move(left + width * 0.1, top + height * 0.1)
    page.mouse.down()
    for x, y in corners:
        page.mouse.move(left + width * x, top + height * y, steps=8)
    page.mouse.up()
    expect(page.get_by_text(re.compile(r"^\d[\d,]* selected$"))).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Download the selection (CSV)")).to_be_visible()
    page.screenshot(path=screenshot.with_name("map-selected.png"), full_page=True)
    # A pair of the selection labelled on the map itself.
    page.get_by_text("Label pairs in the selection").click()
    page.get_by_role("button", name="Duplicate", exact=True).first.click()
    expect(page.get_by_text(re.compile(r"^Labelled a duplicate: "))).to_be_visible(timeout=60_000)
    # The selection made into a cluster of its own, then taken back.
    page.get_by_label("Or make a new cluster of the selection, named").fill("lasso picks")
    page.get_by_role("button", name="Make cluster").click()
    expect(
        page.get_by_text(re.compile(r"^Made the cluster “lasso picks” of \d+ questions"))
    ).to_be_visible(timeout=60_000)
    expect(page.locator(".legend .traces").filter(has_text="lasso picks")).to_have_count(1)
    page.screenshot(path=screenshot.with_name("map-new-cluster.png"), full_page=True)
    page.get_by_role("button", name="Undo my last change").click()
    expect(page.get_by_text(re.compile(r"^Undid the new cluster “lasso picks”"))).to_be_visible(
        timeout=60_000
    )
    expect(page.locator(".legend .traces").filter(has_text="lasso picks")).to_have_count(0)


def visit_other_pages(page: Page, folder: Path) -> None:
    """Duplicate check, Labelling and Corpora: each drawn at 1,400 px, with its main control."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Duplicate check").click()
    expect(page.get_by_role("button", name="Check")).to_be_visible(timeout=60_000)
    page.screenshot(path=folder / "duplicates.png", full_page=True)
    page.get_by_role("link", name="Labelling").click()
    expect(page.get_by_role("button", name="Undo my last label")).to_be_visible(timeout=60_000)
    page.screenshot(path=folder / "labelling.png", full_page=True)
    page.get_by_role("link", name="Corpora").click()
    rows = page.locator("[data-testid='stDataFrame'] table [role='row']")
    expect(rows.nth(1)).to_contain_text(CLUSTERED, timeout=60_000)  # hidden mirror: see above
    page.screenshot(path=folder / "corpora.png", full_page=True)
