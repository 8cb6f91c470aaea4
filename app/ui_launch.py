"""How `qclust ui` starts Streamlit: headless and unattended, bound where it is told.

Streamlit's own defaults suit a developer at a terminal: on a new HOME it asks for an email
address (and exits with status 255 when there is no terminal to ask on), it listens on every
interface, sends usage statistics and shows a "Deploy" button. None of that suits an analyst's
tool started by a script, a container or `make demo`.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import webbrowser
from pathlib import Path

ENTRYPOINT = Path(__file__).with_name("streamlit_app.py")
HEALTH_PATH = "/_stcore/health"


def streamlit_options(host: str, port: int) -> dict[str, str]:
    """The `streamlit run` options; each one is what an unattended start needs."""
    return {
        "server.address": host,
        "server.port": str(port),
        "server.headless": "true",  # never opens a browser itself, never asks for an email
        "server.showEmailPrompt": "false",
        "server.fileWatcherType": "none",  # a served tool, not a script being edited
        "server.runOnSave": "false",
        "browser.gatherUsageStats": "false",
        "browser.serverAddress": "localhost" if host in ("127.0.0.1", "::1") else host,
        "client.toolbarMode": "minimal",  # no "Deploy" button, no developer menu
    }


def streamlit_command(host: str, port: int) -> list[str]:
    command = [sys.executable, "-m", "streamlit", "run", str(ENTRYPOINT)]
    for name, value in streamlit_options(host, port).items():
        command += [f"--{name}", value]
    return command


def url_for(host: str, port: int) -> str:
    shown = "localhost" if host in ("127.0.0.1", "::1", "0.0.0.0", "::") else host
    return f"http://{shown}:{port}"


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH_PATH, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_then_open(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Open the browser once the server answers (not before: it would show an error page)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if is_healthy(url, timeout=1.0):
            webbrowser.open(url)
            return
        time.sleep(0.5)
