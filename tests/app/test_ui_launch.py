"""`qclust ui` starts unattended: a new HOME, no terminal, nothing asked, loopback only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from app.ui_launch import is_healthy, streamlit_options, url_for
from db.models import TokenScope
from db.session import open_database
from db.tokens import create_token
from tests.app.conftest import UiCorpus
from tests.app.test_browser import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0


def test_the_options_ask_nothing_and_show_no_developer_tools() -> None:
    options = streamlit_options("127.0.0.1", 8501)
    assert options["server.headless"] == "true"
    assert options["server.showEmailPrompt"] == "false"
    assert options["browser.gatherUsageStats"] == "false"
    assert options["client.toolbarMode"] == "minimal"
    assert options["server.address"] == "127.0.0.1"
    assert url_for("127.0.0.1", 8501) == "http://localhost:8501"
    assert url_for("10.1.2.3", 9000) == "http://10.1.2.3:9000"


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    log = tmp_path / "ui.log"
    env = {**os.environ, "HOME": str(home)}
    env.pop("XDG_CONFIG_HOME", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "ui", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,  # no terminal: a prompt would fail, not wait
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # no controlling terminal either
    )
    return process, log


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"qclust ui exited with {process.returncode}:\n{log.read_text()}")
        if is_healthy(url, timeout=1.0):
            return
        time.sleep(0.5)
    pytest.fail(f"qclust ui did not answer within {START_TIMEOUT:.0f} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    for child in psutil.Process(process.pid).children(recursive=True):
        child.terminate()
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _listening_addresses(process: subprocess.Popen[bytes], port: int) -> set[str]:
    pids = {process.pid, *(c.pid for c in psutil.Process(process.pid).children(recursive=True))}
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="inet")
        if connection.pid in pids
        and connection.status == psutil.CONN_LISTEN
        and connection.laddr.port == port
    }


@pytest.mark.slow
def test_a_new_home_with_no_terminal_gets_a_running_ui_on_loopback(
    app_env: UiCorpus, tmp_path: Path
) -> None:
    port = free_port()
    process, log = _start(tmp_path, "--port", str(port))
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, log)
        assert _listening_addresses(process, port) == {"127.0.0.1"}
    finally:
        _stop(process)
    output = log.read_text()
    assert f"http://localhost:{port}" in output
    assert "Email" not in output


@pytest.mark.slow
def test_another_host_asks_for_a_token_and_needs_one_to_exist(
    own_corpus_env: UiCorpus, tmp_path: Path
) -> None:
    port = free_port()
    refused, log = _start(tmp_path, "--port", str(port), "--host", "0.0.0.0")
    assert refused.wait(timeout=START_TIMEOUT) == 1
    assert "there is none: create one with 'qclust tokens create" in log.read_text()

    with open_database(own_corpus_env.database_url).begin() as session:
        create_token(session, "ana", TokenScope.WRITE)
    process, log = _start(tmp_path, "--port", str(port), "--host", "0.0.0.0")
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, log)
        assert _listening_addresses(process, port) == {"0.0.0.0"}
    finally:
        _stop(process)
    assert "listening on 0.0.0.0: analysts sign in with an API token" in log.read_text()


@pytest.mark.slow
def test_a_kill_of_qclust_ui_stops_the_server_too(app_env: UiCorpus, tmp_path: Path) -> None:
    """SIGTERM to `qclust ui` alone (what `kill`, a test or a supervisor sends): the Streamlit
    server it started must not live on, still bound to the port."""
    port = free_port()
    process, log = _start(tmp_path, "--port", str(port))
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, log)
        children = psutil.Process(process.pid).children(recursive=True)
        assert children
        process.send_signal(signal.SIGTERM)  # to qclust only, not its children
        assert process.wait(timeout=20) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, [child.cmdline() for child in alive]
        assert not is_healthy(f"http://127.0.0.1:{port}", timeout=1.0)
    finally:
        if process.poll() is None:
            _stop(process)
