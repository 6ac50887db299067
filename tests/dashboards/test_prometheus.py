"""A replayed simulated morning, served by the real exporter, scraped by a real Prometheus that evaluates our
rules and sends to a real Alertmanager, which pages a webhook and a WeChat Work mock served by this test.

Every dashboard panel's query must answer with data; a critical alert must arrive at the transport bureau,
escalate to the district when nobody acknowledges it (the wait shortened to seconds here), and arrive once."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from safecampus.config import Settings
from safecampus.dashboards import grafana
from safecampus.pipelines.replay import run_replay
from safecampus.simulator.run import simulate

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ESCALATE_AFTER_S = 8  # SafecampusCriticalUnacknowledged waits 10m in the shipped rules
pytestmark = pytest.mark.integration


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


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory, _city_store_template: Path) -> Path:
    """The simulated morning of security and bus replayed as `replay` does (with the example operators' log
    and three lines that are not records), into out/<domain>/ like `make demo`."""
    base = tmp_path_factory.mktemp("metrics")
    sim = simulate(base / "sim", domains=("security", "bus"), hours=(6.0, 9.0))
    with sim.raw_file("security").open("ab") as raw:
        raw.write(b'not json\n{"domain": "security"}\n[1, 2]\n')
    store = base / "safecampus.db"
    shutil.copyfile(_city_store_template, store)
    url = f"sqlite:///{store}"
    out = base / "out"
    jobs = [(d, sim.raw_file(d), out / d) for d in ("security", "bus")]
    run_replay(jobs, Settings(), url, url, operations=ROOT / "docs" / "examples" / "operations.jsonl")  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def stack(replayed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Exporter → Prometheus → Alertmanager → this test's receiver, all on 127.0.0.1 and ports of its own."""
    base = tmp_path_factory.mktemp("stack")
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}"

    exporter_port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-m", "safecampus.cli", "exporter", "--from-dir", str(replayed), "--port", str(exporter_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    metrics_url = f"http://127.0.0.1:{exporter_port}/metrics"

    # The shipped Alertmanager config with the receivers' URLs pointing here, the waits in seconds, and the
    # example WeChat Work route on the district of the replayed morning's critical alert.
    am_dir = base / "alertmanager"
    shutil.copytree(DEPLOY / "alertmanager", am_dir)
    text = (am_dir / "alertmanager.yml").read_text(encoding="utf-8").replace("http://127.0.0.1:9195", hook)
    for wait in ("30s", "10s", "5s"):
        text = text.replace(f"group_wait: {wait}", "group_wait: 1s")
    text = text.replace("group_interval: 5m", "group_interval: 2s").replace('district="wujin"', 'district="jingkai"')
    (am_dir / "alertmanager.yml").write_text(text, encoding="utf-8")
    am_env = {"SAFECAMPUS_AM_PORT": str(free_port()), "SAFECAMPUS_AM_DATA": str(base / "am-data"),
              "SAFECAMPUS_AM_CONFIG": str(am_dir / "alertmanager.yml")}  # fmt: skip
    am_url = deploy("alertmanager.sh", am_env, "start")

    rules = base / "rules"
    shutil.copytree(DEPLOY / "prometheus" / "rules", rules)
    alerts = (rules / "alerts.yml").read_text(encoding="utf-8")
    shipped = "        for: 10m\n        labels: {severity: critical, escalation: district}"
    assert shipped in alerts
    (rules / "alerts.yml").write_text(alerts.replace(shipped, shipped.replace("10m", f"{ESCALATE_AFTER_S}s")))
    prom_env = {"SAFECAMPUS_PROM_PORT": str(free_port()), "SAFECAMPUS_PROM_DATA": str(base / "prom-data"),
                "SAFECAMPUS_PROM_TARGET": f"127.0.0.1:{exporter_port}",
                "SAFECAMPUS_PROM_ALERTMANAGER": am_url.removeprefix("http://"),
                "SAFECAMPUS_PROM_INTERVAL": "1s", "SAFECAMPUS_PROM_RULES": str(rules)}  # fmt: skip
    try:
        prom_url = deploy("prometheus.sh", prom_env, "start")
        yield {"prometheus": prom_url, "alertmanager": am_url, "metrics": metrics_url}
    finally:
        deploy("prometheus.sh", prom_env, "stop")
        deploy("alertmanager.sh", am_env, "stop")
        exporter.terminate()
        exporter.wait(timeout=10)
        receiver.shutdown()


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    answer = get_json(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert answer["status"] == "success", f"{expr}: {answer}"
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def panel_expr(expr: str) -> str:
    """What Grafana sends with every variable at All; a panel's `or vector(0)` fallback removed, so that a
    query the data should answer cannot pass on the fallback."""
    for name in ("district", "school", "route"):
        expr = expr.replace(f"${name}", ".*")
    return expr.replace(" or vector(0)", "")


def test_every_dashboard_panel_answers_from_the_replayed_morning(stack: dict[str, str]) -> None:
    prom = stack["prometheus"]
    rated = "safecampus:security_events:rate5m"
    wait_for(
        "the first scrapes and rules", lambda: query(prom, rated) and query(prom, "safecampus:alert_ack_seconds:p90")
    )
    assert query(prom, 'up{job="safecampus"}')[0]["value"][1] == "1"
    empty, asked = [], 0
    for board in grafana.BOARDS:
        for title, expr in grafana.queries(grafana.build(board)):
            asked += 1
            if not query(prom, panel_expr(expr)):
                empty.append(f"{board.uid} / {title}: {panel_expr(expr)}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert asked >= 20


def test_prometheus_derives_the_ratios_the_replay_computed(stack: dict[str, str], replayed: Path) -> None:
    """The recording rules over the exporter's numerators and denominators give the replay's own ratios."""
    prom = stack["prometheus"]
    wait_for("the recording rules", lambda: query(prom, "safecampus:bus_on_time:ratio_city"))
    city = {}
    for domain in ("security", "bus"):
        for line in (replayed / domain / "kpis.jsonl").read_text().splitlines():
            kpi = json.loads(line)
            if not kpi["labels"] or set(kpi["labels"]) == {"kind"}:
                city[(kpi["metric"], kpi["labels"].get("kind", ""))] = kpi["value"]
    pairs = {
        ("security_device_online_ratio", ""): "safecampus:security_device_online:ratio_city",
        (
            "security_police_linkage_ratio",
            "one_key_alarm",
        ): 'safecampus:security_police_linkage:ratio_city{kind="one_key_alarm"}',
        ("bus_on_time_ratio", ""): "safecampus:bus_on_time:ratio_city",
        ("bus_fleet_online_ratio", ""): "safecampus:bus_fleet_online:ratio_city",
    }
    for key, expr in pairs.items():
        got = float(query(prom, expr)[0]["value"][1])
        assert got == pytest.approx(city[key], abs=1e-6), f"{expr}: {got} vs the replay's {city[key]}"
    assert 0 < city[("security_police_linkage_ratio", "one_key_alarm")] < 1  # a figure that can differ


def test_a_critical_alert_pages_the_bureau_and_escalates_to_the_district_once(stack: dict[str, str]) -> None:
    def arrived(path: str, alertname: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, a) for at, p, body in Receiver.got if p == path for a in body.get("alerts", [])
                if a["labels"].get("alertname") == alertname and a["status"] == "firing"]  # fmt: skip

    school = wait_for("the bureau's page", lambda: arrived("/alertmanager/transport", "SafecampusCriticalAlertOpen"))
    district = wait_for(
        "the district's page", lambda: arrived("/alertmanager/district", "SafecampusCriticalUnacknowledged")
    )
    wechat = wait_for("the WeChat Work message", lambda: [b for _, p, b in Receiver.got if p.endswith("/message/send")])
    first = school[0][1]
    assert first["labels"]["rule"] == "bus.no_all_off" and first["labels"]["severity"] == "critical"
    assert "紧急告警" in first["annotations"]["summary"]
    escalated = district[0][1]
    assert (
        escalated["labels"]["escalation"] == "district" and escalated["labels"]["school"] == first["labels"]["school"]
    )
    assert "已升级至区级值班" in escalated["annotations"]["description"]
    assert district[0][0] - school[0][0] >= ESCALATE_AFTER_S - 2  # not before the wait
    assert "【平安校园·区级值班】" in wechat[0]["text"]["content"] and "升级至区级" in wechat[0]["text"]["content"]
    time.sleep(6)  # three more group intervals: nothing may come again
    seen = [
        (p, a["fingerprint"], a["status"]) for _, p, body in Receiver.got if "alerts" in body for a in body["alerts"]
    ]
    assert len(seen) == len(set(seen)), f"an alert arrived twice at the same level: {seen}"
    # the acknowledged (and resolved) one-key alarm of the morning paged nobody
    assert not [s for s in seen if "one_key_alarm" in json.dumps(s)]
    rules_paged = {a["labels"].get("rule") for _, _, body in Receiver.got for a in body.get("alerts", [])}
    assert "security.one_key_alarm" not in rules_paged
    # Alertmanager holds them with our labels
    held = get_json(f"{stack['alertmanager']}/api/v2/alerts")
    assert {a["labels"]["alertname"] for a in held} >= {
        "SafecampusCriticalAlertOpen",
        "SafecampusCriticalUnacknowledged",
    }
