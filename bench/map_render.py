"""What the Map page can draw: figure build time, payload and browser render time by size.

For 20,000 (the page's default), 100,000 and 200,000 points, synthetic clusters (60 Gaussian
blobs, a quarter of the points outliers) go through the page's own `map_figure`; the figure is
serialised as Streamlit sends it, then drawn by Plotly.js (WebGL `scattergl`) in headless
Chromium, timed to Plotly's `plotly_afterplot` event, and a pan is timed the same way. Ratios
are against the default size in the same run. Larger corpora are never sent whole: the page
draws a fixed uniform sample (at most the slider's maximum) and says how many it shows.

    .venv/bin/python bench/map_render.py [--sizes 20000,100000,200000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio

from app.pages.map import hover_text, map_figure

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]  # software WebGL (SwiftShader)


def synthetic_points(count: int, clusters: int = 60, seed: int = 0) -> pd.DataFrame:
    """Points as the page's cached `_points` hands them over (hover text included)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-20, 20, size=(clusters, 2))
    labels = rng.integers(0, clusters, size=count)
    labels[rng.random(count) < 0.25] = -1
    xy = np.where(
        labels[:, None] >= 0,
        centres[np.maximum(labels, 0)] + rng.normal(0, 1.0, size=(count, 2)),
        rng.uniform(-22, 22, size=(count, 2)),
    )
    frame = pd.DataFrame(
        {
            "id": np.arange(count),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "cluster": labels,
            "question": [f"How do I do thing {n} in topic {labels[n]}?" for n in range(count)],
        }
    )
    frame["hover"] = [hover_text(question) for question in frame["question"]]
    return frame


def page_html(figure_json: str) -> str:
    plotly_js = Path(pio.__file__).parent.parent / "package_data" / "plotly.min.js"
    return f"""<html><head><script>{plotly_js.read_text()}</script></head><body>
<div id="map" style="width:1100px;height:680px"></div>
<script>
const spec = {figure_json};
window.started = performance.now();
const div = document.getElementById("map");
Plotly.newPlot(div, spec.data, spec.layout).then(() => {{
  window.drawn = performance.now() - window.started;
}});
</script></body></html>"""


def render_seconds(html: str) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_content(html, timeout=600_000)
            page.wait_for_function("window.drawn !== undefined", timeout=600_000)
            drawn = float(page.evaluate("window.drawn")) / 1000
            started = time.perf_counter()
            page.evaluate(
                "Plotly.relayout(document.getElementById('map'), "
                "{'xaxis.range': [-10, 10], 'yaxis.range': [-10, 10]})"
            )
            pan = time.perf_counter() - started
        finally:
            browser.close()
    return drawn, pan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000,200000")
    sizes = [int(size) for size in parser.parse_args().sizes.split(",")]
    labels = {key: f"{key} · topic {key}" for key in range(60)}
    labels[-1] = "-1 · outliers"
    names = {key: f"topic {key}" for key in range(60)}
    rows = []
    for size in sizes:
        points = synthetic_points(size)
        started = time.perf_counter()
        figure = map_figure(points, labels, names=names)
        built = time.perf_counter() - started
        started = time.perf_counter()
        payload = figure.to_json()
        serialised = time.perf_counter() - started
        drawn, pan = render_seconds(page_html(payload))
        rows.append((size, built, serialised, len(payload) / 2**20, drawn, pan))
        print(
            f"{size:,} points: build {built:.2f} s, JSON {serialised:.2f} s "
            f"({len(payload) / 2**20:.1f} MiB), draw {drawn:.2f} s, zoom {pan:.2f} s",
            flush=True,
        )
    base = rows[0]
    print("\n| points | build s | JSON s | payload MiB | draw s | zoom s | **draw / default** |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, built, serialised, mib, drawn, pan in rows:
        print(
            f"| {size:,} | {built:.2f} | {serialised:.2f} | {mib:.1f} | {drawn:.2f} | {pan:.2f} "
            f"| {drawn / base[4]:.2f} |"
        )


if __name__ == "__main__":
    main()
