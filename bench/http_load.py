"""The HTTP API under load, and the CLI's cold start with and without a server, in one run.

Loopback only. Ingests the demo corpus into a temporary data folder, starts the real
`qclust serve` (uvicorn) with a read token, then measures:

1. one client sending mixed `/v1/search` and `/v1/dupes` requests one after another, before
   and after the loads: the single-client median, the baseline of everything below;
2. 8 clients at once, 200 mixed requests each, alone and while `qclust ingest` writes another
   corpus in a second process: p50, p99, errors, requests/s;
3. a `/v1/search` sent while one 1,000-question `POST /v1/dupes` batch runs (demo questions,
   and again with questions near the 2,000-character limit): its latency;
4. the cold CLI: `qclust corpora` and `qclust dupes` each a fresh process, with and without
   QCLUST_SERVER, against `python -c "import sentence_transformers"` (median of --repeats).

    .venv/bin/python bench/http_load.py [--clients 8] [--requests 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo" / "questions.csv"
QCLUST = str(Path(sys.executable).with_name("qclust"))
CORPUS = "demo"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def demo_questions() -> list[str]:
    with DEMO.open(encoding="utf-8", newline="") as handle:
        return [row["question"] for row in csv.DictReader(handle)]


def environment(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QCLUST_DATA_DIR": str(data_dir),
        "QCLUST_CONFIG": str(data_dir / "no-such-qclust.toml"),
        "QCLUST_DEVICE": "cpu",
        "HF_HUB_OFFLINE": "1",
    }


def qclust(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [QCLUST, *args], env=env, capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise SystemExit(f"qclust {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@contextmanager
def server(env: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen(
        [QCLUST, "serve", "--port", "0", "--request-timeout", "900"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    if not line.startswith("serving on "):
        process.kill()
        raise SystemExit(f"qclust serve did not start: {line}{process.stderr.read()}")
    try:
        yield line.split()[2]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


class Client:
    """One keep-alive connection, as a program calling the API would hold."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        self.connection = http.client.HTTPConnection(host, parts.port, timeout=900)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> tuple[int, float]:
        data = None if body is None else json.dumps(body).encode("utf-8")
        started = time.perf_counter()
        self.connection.request(method, path, body=data, headers=self.headers)
        response = self.connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - started) * 1000

    def corpora(self) -> dict[str, int]:
        """Questions not encoded yet, by corpus."""
        self.connection.request("GET", "/v1/corpora", headers=self.headers)
        listing = json.loads(self.connection.getresponse().read())["corpora"]
        return {corpus["name"]: corpus["not_encoded"] for corpus in listing}

    def mixed(self, query: str, number: int) -> tuple[int, float]:
        if number % 2:
            return self.call("POST", "/v1/dupes", {"corpus": CORPUS, "questions": [query]})
        return self.call("GET", "/v1/search?" + urlencode({"corpus": CORPUS, "q": query}))


def run_client(
    url: str, token: str, queries: list[str], offset: int, count: int
) -> tuple[list[float], int]:
    client = Client(url, token)
    times: list[float] = []
    errors = 0
    for number in range(count):
        try:
            status, ms = client.mixed(queries[(offset + number) % len(queries)], number)
        except (OSError, http.client.HTTPException):
            errors += 1
            client = Client(url, token)
            continue
        times.append(ms)
        errors += status != 200
    return times, errors


def load(
    url: str, token: str, queries: list[str], clients: int, count: int
) -> tuple[list[float], int, float]:
    results: list[tuple[list[float], int]] = [([], 0)] * clients

    def work(index: int) -> None:
        results[index] = run_client(url, token, queries, index * count, count)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    times = [ms for part, _ in results for ms in part]
    return times, sum(errors for _, errors in results), wall


@contextmanager
def ingest_running(
    env: dict[str, str], queries: list[str], folder: Path, url: str, token: str
) -> Iterator[list[bool]]:
    """`qclust ingest` of another corpus in another process, from when it has stored its rows
    and is encoding them; yields [whether it was still running at the end]."""
    source = folder / "other.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question"])
        for copy in range(8):  # enough rows to outlast the load phase
            writer.writerows([f"{q} (variant {copy})"] for q in queries)
    process = subprocess.Popen(
        [QCLUST, "ingest", str(source), "--corpus", "other", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state = [False]
    deadline = time.monotonic() + 300
    # A new connection each time: an idle one is closed by the server after 5 s.
    while not Client(url, token).corpora().get("other") and process.poll() is None:
        if time.monotonic() > deadline:
            raise SystemExit("the ingest of corpus 'other' did not start")
        time.sleep(0.5)
    try:
        yield state
    finally:
        state[0] = process.poll() is None
        process.send_signal(signal.SIGINT)  # resumable: nothing is lost
        process.wait(timeout=120)


def search_during_batch(
    url: str, token: str, batch: list[str], queries: list[str]
) -> dict[str, float]:
    """Searches sent one after another while the batch runs; the batch's own time too."""
    batch_client, search_client = Client(url, token), Client(url, token)
    done = threading.Event()
    batch_result: list[tuple[int, float]] = []

    def send_batch() -> None:
        batch_result.append(
            batch_client.call("POST", "/v1/dupes", {"corpus": CORPUS, "questions": batch})
        )
        done.set()

    thread = threading.Thread(target=send_batch)
    thread.start()
    time.sleep(0.3)  # the batch is on its way, then read and encoded
    during: list[float] = []
    for query in queries:
        if done.is_set():
            break
        status, ms = search_client.call(
            "GET", "/v1/search?" + urlencode({"corpus": CORPUS, "q": query})
        )
        if status == 200 and not done.is_set():
            during.append(ms)
    thread.join()
    status, batch_ms = batch_result[0]
    return {
        "batch_status": status,
        "batch_s": batch_ms / 1000,
        "searches": len(during),
        "median_ms": statistics.median(during) if during else float("nan"),
        "max_ms": max(during) if during else float("nan"),
    }


def cold(command: list[str], env: dict[str, str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True, timeout=900)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def long_questions(queries: list[str], count: int, chars: int) -> list[str]:
    out = []
    for number in range(count):
        text, step = "", number
        while len(text) < chars - 100:
            text += queries[step % len(queries)] + " "
            step += 7
        out.append(text.strip()[: chars - 1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="per client")
    parser.add_argument("--single", type=int, default=100, help="requests of the lone client")
    parser.add_argument("--repeats", type=int, default=3, help="cold CLI runs of each")
    parser.add_argument("--batch", type=int, default=1000, help="questions in the big POST")
    args = parser.parse_args()
    questions = demo_questions()
    load_at_start = os.getloadavg()[0]
    queries = [f"{q.rstrip('?')} please?" for q in questions]  # near, not equal, to stored ones

    with tempfile.TemporaryDirectory(prefix="qclust-http-load-") as folder:
        env = environment(Path(folder) / "data")
        started = time.perf_counter()
        qclust(env, "ingest", str(DEMO), "--corpus", CORPUS, "--text-column", "question",
               "--id-column", "id", "--quiet")  # fmt: skip
        print(
            f"ingested {len(questions):,} demo questions in {time.perf_counter() - started:.0f} s"
        )
        token = qclust(env, "tokens", "create", "--name", "bench").strip()

        with server(env) as url:
            client = Client(url, token)
            for number in range(4):  # model, index and connection warm
                client.mixed(queries[number], number)
            before, before_errors = run_client(url, token, queries, 7, args.single)
            quiet_times, quiet_errors, quiet_wall = load(
                url, token, queries, args.clients, args.requests
            )
            with ingest_running(env, questions, Path(folder), url, token) as ingest_state:
                times, errors, wall = load(url, token, queries, args.clients, args.requests)
            total = args.clients * args.requests
            # The lone client again after the loads: on a shared machine one span can be unlucky.
            after, after_errors = run_client(url, token, queries, 11, args.single)
            single = before + after
            single_median = statistics.median(single)
            batch_short = search_during_batch(url, token, questions[: args.batch], queries[1000:])
            batch_long = search_during_batch(
                url, token, long_questions(questions, args.batch, 2000), queries[1000:]
            )
            remote_env = {**env, "QCLUST_SERVER": url, "QCLUST_TOKEN": token}
            one = "How do I reset my password please?"
            timings = {
                "python -c 'import sentence_transformers'": cold(
                    [sys.executable, "-c", "import sentence_transformers"], env, args.repeats
                ),
                "qclust corpora": cold([QCLUST, "corpora"], env, args.repeats),
                "qclust corpora (QCLUST_SERVER set; corpora reads the database)": cold(
                    [QCLUST, "corpora"], remote_env, args.repeats
                ),
                "qclust dupes (local model)": cold(
                    [QCLUST, "dupes", one, "--corpus", CORPUS], env, args.repeats
                ),
                "qclust dupes (QCLUST_SERVER set)": cold(
                    [QCLUST, "dupes", one, "--corpus", CORPUS], remote_env, args.repeats
                ),
            }

    print(
        f"\n{len(questions):,} questions in '{CORPUS}'; mixed GET /v1/search and POST /v1/dupes; "
        f"load average {load_at_start:.2f} at the start\n"
    )
    print(
        "| run | requests | errors | p50 ms | p99 ms | requests/s | p50 / single | p99 / single |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, lone, lone_errors in (
        ("before the loads", before, before_errors),
        ("after the loads", after, after_errors),
        ("both: the baseline", single, before_errors + after_errors),
    ):
        median, rate = statistics.median(lone), len(lone) / (sum(lone) / 1000)
        print(
            f"| 1 client, one after another, {name} | {len(lone)} | {lone_errors} | "
            f"{median:.0f} | {percentile(lone, 0.99):.0f} | {rate:.1f} | "
            f"{median / single_median:.2f} | {percentile(lone, 0.99) / single_median:.2f} |"
        )
    print(
        f"| {args.clients} clients x {args.requests}, no ingest | {total} | {quiet_errors} | "
        f"{percentile(quiet_times, 0.5):.0f} | {percentile(quiet_times, 0.99):.0f} | "
        f"{total / quiet_wall:.1f} | {percentile(quiet_times, 0.5) / single_median:.2f} | "
        f"{percentile(quiet_times, 0.99) / single_median:.2f} |"
    )
    print(
        f"| {args.clients} clients x {args.requests}, ingest running "
        f"({'the whole time' if ingest_state[0] else 'ended before the load'}) | {total} | "
        f"{errors} | {percentile(times, 0.5):.0f} | {percentile(times, 0.99):.0f} | "
        f"{total / wall:.1f} | {percentile(times, 0.5) / single_median:.2f} | "
        f"{percentile(times, 0.99) / single_median:.2f} |"
    )
    print(
        f"\n| {args.batch:,}-question POST /v1/dupes | batch status | batch s | searches during "
        "it | median ms | max ms | max / single median |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, result in (("demo questions", batch_short), ("~2,000 characters each", batch_long)):
        print(
            f"| {name} | {result['batch_status']:.0f} | {result['batch_s']:.1f} | "
            f"{result['searches']:.0f} | {result['median_ms']:.0f} | {result['max_ms']:.0f} | "
            f"{result['max_ms'] / single_median:.1f} |"
        )
    baseline = timings["python -c 'import sentence_transformers'"]
    print("\n| cold command (fresh process) | median s | ratio to import sentence_transformers |")
    print("|---|---:|---:|")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds:.2f} | {seconds / baseline:.2f} |")


if __name__ == "__main__":
    main()
