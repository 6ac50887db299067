"""The real Prometheus/Alertmanager stack of the dashboard and alerting tests: deploy scripts, configs with the
receivers pointing at the test and the waits in seconds, and a receiver for webhooks and WeChat Work."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ESCALATE_AFTER_S = 8  # SafecampusCriticalUnacknowledged waits 10m in the shipped rules


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def wait_for(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


class Receiver(BaseHTTPRequestHandler):
    """Alertmanager's webhooks (POST /alertmanager/<level>) and a WeChat Work API mock (gettoken, message/send)."""

    got: list[tuple[float, str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/wechat/cgi-bin/gettoken"):
            self._answer({"errcode": 0, "errmsg": "ok", "access_token": "test-token", "expires_in": 7200})
        else:
            self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Receiver.got.append((time.time(), urllib.parse.urlsplit(self.path).path, body))
        self._answer({"errcode": 0, "errmsg": "ok"})

    def _answer(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def deploy(script: str, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(["bash", str(DEPLOY / "local" / script), *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


def am_config(base: Path, hook: str, wechat_district: str) -> Path:
    """The shipped Alertmanager config with the receivers' URLs pointing at `hook`, the waits in seconds,
    and the example WeChat Work route on `wechat_district`."""
    am_dir = base / "alertmanager"
    shutil.copytree(DEPLOY / "alertmanager", am_dir)
    text = (am_dir / "alertmanager.yml").read_text(encoding="utf-8").replace("http://127.0.0.1:9195", hook)
    for wait in ("30s", "10s", "5s"):
        text = text.replace(f"group_wait: {wait}", "group_wait: 1s")
    text = text.replace("group_interval: 5m", "group_interval: 2s")
    text = text.replace('district="wujin"', f'district="{wechat_district}"')
    (am_dir / "alertmanager.yml").write_text(text, encoding="utf-8")
    return am_dir


def shortened_rules(base: Path, seconds: int) -> Path:
    """The shipped rules with the critical escalation to the district after `seconds` instead of 10 minutes."""
    rules = base / "rules"
    shutil.copytree(DEPLOY / "prometheus" / "rules", rules)
    alerts = (rules / "alerts.yml").read_text(encoding="utf-8")
    shipped = "        for: 10m\n        labels: {severity: critical, escalation: district}"
    assert shipped in alerts
    (rules / "alerts.yml").write_text(alerts.replace(shipped, shipped.replace("10m", f"{seconds}s")))
    return rules
