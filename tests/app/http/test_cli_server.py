"""`qclust tokens create/list/revoke`, and `qclust serve`: its refusals, and a real one started,
asked and stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import app.cli  # noqa: F401  (registers every command on the Typer app)
from app.cli_common import app as cli
from db.settings import Settings
from tests.app.conftest import UiCorpus
from tests.conftest import PROJECT_ROOT

Cli = Callable[[Settings], CliRunner]


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'q.db'}", device="cpu"
    )


def test_tokens_create_list_and_revoke(cli_for: Cli, fresh: Settings) -> None:
    runner = cli_for(fresh)
    created = runner.invoke(cli, ["tokens", "create", "--name", "ci", "--scope", "write"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("qc_")
    assert len(secret) > 40
    assert "not shown again" in created.stderr
    assert secret not in created.stderr

    listed = runner.invoke(cli, ["tokens", "list", "--json"])
    (token,) = json.loads(listed.stdout)
    assert (token["name"], token["scope"], token["active"]) == ("ci", "write", True)
    assert token["last_used_at"] is None
    assert secret not in listed.stdout
    table = runner.invoke(cli, ["tokens", "list"])
    assert table.stdout.splitlines()[1].split()[:2] == ["ci", "write"]
    assert "never" in table.stdout

    assert runner.invoke(cli, ["tokens", "revoke", "ci"]).exit_code == 0
    (token,) = json.loads(runner.invoke(cli, ["tokens", "list", "--json"]).stdout)
    assert token["active"] is False
    assert token["revoked_at"] is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tokens", "revoke", "nobody"], "no token named 'nobody'"),
        (["tokens", "create", "--name", "../bad name"], "a token name is 1 to 100"),
    ],
)
def test_token_mistakes_are_one_clear_line(
    cli_for: Cli, fresh: Settings, args: list[str], message: str
) -> None:
    result = cli_for(fresh).invoke(cli, args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_a_second_token_of_the_same_name_is_refused(cli_for: Cli, fresh: Settings) -> None:
    runner = cli_for(fresh)
    assert runner.invoke(cli, ["tokens", "create", "--name", "ci"]).exit_code == 0
    again = runner.invoke(cli, ["tokens", "create", "--name", "ci"])
    assert again.exit_code == 1
    assert "a token named 'ci' exists" in again.stderr


def test_serve_refuses_to_start_without_a_token(cli_for: Cli, fresh: Settings) -> None:
    result = cli_for(fresh).invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 1
    assert "no active API token exists" in result.stderr
    assert "qclust tokens create --name NAME --scope read" in result.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "example.com"])
def test_serve_refuses_no_auth_off_loopback(cli_for: Cli, fresh: Settings, host: str) -> None:
    result = cli_for(fresh).invoke(cli, ["serve", "--host", host, "--no-auth"])
    assert result.exit_code == 1
    assert "--no-auth is only allowed on a loopback host" in result.stderr


def test_serve_says_when_the_port_is_taken(cli_for: Cli, fresh: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli_for(fresh).invoke(cli, ["serve", "--port", str(port), "--no-auth"])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def status_of(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serve_runs_prints_its_url_and_stops_on_ctrl_c(
    cli_for: Cli, support_corpus: UiCorpus, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'q.db'}", device="cpu"
    )
    token = cli_for(settings).invoke(cli, ["tokens", "create", "--name", "t"]).stdout.strip()
    env = {
        **os.environ,
        "QCLUST_DATA_DIR": str(settings.data_dir),
        "QCLUST_DATABASE_URL": settings.resolved_database_url,
        "QCLUST_CONFIG": str(tmp_path / "no-such.toml"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # blocks until the server says where it is
        assert line.startswith("serving on http://127.0.0.1:"), line
        assert line.rstrip().endswith("(docs at /docs)")
        url = line.split()[2]
        assert status_of(f"{url}/v1/health") == 200
        assert status_of(f"{url}/v1/corpora") == 401
        assert status_of(f"{url}/v1/corpora", token) == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
