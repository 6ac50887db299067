"""A replayed simulated morning, served by the real exporter, scraped by a real Prometheus that evaluates our
rules and sends to a real Alertmanager, which pages a webhook and a WeChat Work mock served by this test.

Every dashboard panel's query must answer with data; an unacknowledged critical alert must escalate to the
district (the wait shortened to seconds here) and arrive once."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from stack import ESCALATE_AFTER_S, Receiver, am_config, deploy, free_port, get_json, shortened_rules, wait_for

from safecampus.canteen.demo_month import canteen_month
from safecampus.config import Settings
from safecampus.dashboards import grafana
from safecampus.dashboards.panels import at_all
from safecampus.demo import FIRE_DAYS
from safecampus.pipelines.replay import run_replay
from safecampus.plan.demo import plan_demo
from safecampus.simulator.run import simulate

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory, _city_store_template: Path) -> Path:
    """The simulated morning of security and bus replayed as `replay` does (with the example operators' log
    and three lines that are not records), and as `make demo` does the demo's 30 days of fire inspections and
    its canteen month (six weeks of ledgers, audited), into out/<domain>/ like `make demo`."""
    base = tmp_path_factory.mktemp("metrics")
    sim = simulate(base / "sim", domains=("security", "bus"), hours=(6.0, 9.0))
    with sim.raw_file("security").open("ab") as raw:
        raw.write(b'not json\n{"domain": "security"}\n[1, 2]\n')
    fire = simulate(base / "sim-fire", days=FIRE_DAYS, domains=("fire",))
    store = base / "safecampus.db"
    shutil.copyfile(_city_store_template, store)
    url = f"sqlite:///{store}"
    out = base / "out"
    jobs = [(d, sim.raw_file(d), out / d) for d in ("security", "bus")] + [
        ("fire", fire.raw_file("fire"), out / "fire")
    ]
    run_replay(jobs, Settings(), url, url, operations=ROOT / "docs" / "examples" / "operations.jsonl")  # type: ignore[arg-type]
    canteen_month(out, Settings())  # out/canteen-month/: the audit's KPIs, as make demo leaves them
    # the plan's and the scorecard's figures, as make demo writes them (out/plan/kpis.jsonl)
    plan_demo(out, url, Settings(), Console(file=io.StringIO()), progress=sim.out_dir / "progress")
    return out


@pytest.fixture(scope="module")
def stack(replayed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Exporter → Prometheus → Alertmanager → this test's receiver, all on 127.0.0.1 and ports of its own."""
    base = tmp_path_factory.mktemp("stack")
    Receiver.got = []  # this stack's deliveries only
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}"

    exporter_port = free_port()
    exporter = subprocess.Popen(
        [sys.executable, "-m", "safecampus.cli", "exporter", "--from-dir", str(replayed), "--port", str(exporter_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    metrics_url = f"http://127.0.0.1:{exporter_port}/metrics"

    am_dir = am_config(base, hook, wechat_district="jingkai")  # the district of the morning's critical alert
    am_env = {"SAFECAMPUS_AM_PORT": str(free_port()), "SAFECAMPUS_AM_DATA": str(base / "am-data"),
              "SAFECAMPUS_AM_CONFIG": str(am_dir / "alertmanager.yml")}  # fmt: skip
    am_url = deploy("alertmanager.sh", am_env, "start")

    rules = shortened_rules(base, ESCALATE_AFTER_S)
    prom_env = {"SAFECAMPUS_PROM_PORT": str(free_port()), "SAFECAMPUS_PROM_DATA": str(base / "prom-data"),
                "SAFECAMPUS_PROM_TARGET": f"127.0.0.1:{exporter_port}",
                "SAFECAMPUS_PROM_ALERTMANAGER": am_url.removeprefix("http://"),
                "SAFECAMPUS_PROM_INTERVAL": "1s", "SAFECAMPUS_PROM_RULES": str(rules)}  # fmt: skip
    try:
        started = time.time()
        prom_url = deploy("prometheus.sh", prom_env, "start")
        yield {"prometheus": prom_url, "alertmanager": am_url, "metrics": metrics_url, "started": str(started)}
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
    return at_all(expr).replace(" or vector(0)", "")


def test_every_dashboard_panel_answers_from_the_replayed_morning(stack: dict[str, str]) -> None:
    prom = stack["prometheus"]
    rated = "safecampus:security_events:rate5m"
    wait_for(
        "the first scrapes and rules", lambda: query(prom, rated) and query(prom, "safecampus:alert_ack_seconds:p90")
    )
    assert query(prom, 'up{job="safecampus"}')[0]["value"][1] == "1"
    empty, asked = [], 0
    for board in grafana.BOARDS:
        for title, expr in grafana.queries(grafana.build(board), live=False):
            asked += 1
            if not query(prom, panel_expr(expr)):
                empty.append(f"{board.uid} / {title}: {panel_expr(expr)}")
    assert not empty, "panels without data:\n" + "\n".join(empty)
    assert asked >= 40


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


def _kpis(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_prometheus_derives_the_fire_and_canteen_figures_the_replay_and_audit_computed(
    stack: dict[str, str], replayed: Path
) -> None:
    """Compliance per district and city and the mean days to rectify from the fire replay's ledgers, and every
    canteen month's surplus rate from the audit, again from the exporter's numerators and denominators."""
    prom = stack["prometheus"]
    wait_for("the fire and canteen rules", lambda: query(prom, "safecampus:canteen_surplus:ratio_canteen"))
    fire = {(k["metric"], k["labels"].get("district", "")): k["value"]
            for k in _kpis(replayed / "fire" / "kpis.jsonl") if set(k["labels"]) <= {"district"}}  # fmt: skip
    got = float(query(prom, "safecampus:fire_compliance:ratio_city")[0]["value"][1])
    assert got == pytest.approx(fire[("fire_compliance_rate", "")], abs=1e-6) and got < 1
    for series in query(prom, "safecampus:fire_compliance:ratio_district"):
        district = series["metric"]["district"]
        assert float(series["value"][1]) == pytest.approx(fire[("fire_compliance_rate", district)], abs=1e-6)
    mean = float(query(prom, "safecampus:fire_rectify_seconds:mean_city")[0]["value"][1]) / 86400
    assert mean == pytest.approx(fire[("fire_mean_days_to_rectify", "")], abs=1e-4)
    audited = _kpis(replayed / "canteen-month" / "kpis.jsonl")
    rates = {(k["labels"]["canteen"], k["labels"]["month"]): k["value"]
             for k in audited if k["metric"] == "canteen_surplus_rate"}  # fmt: skip
    derived = {(s["metric"]["canteen"], s["metric"]["month"]): float(s["value"][1])
               for s in query(prom, "safecampus:canteen_surplus:ratio_canteen")}  # fmt: skip
    assert derived.keys() == rates.keys() and len(rates) > 100
    assert all(derived[key] == pytest.approx(rate, abs=5e-5) for key, rate in rates.items())
    statuses = {s["metric"]["status"] for s in query(prom, "safecampus_canteen_disclosure_status")}
    assert {"published", "not_yet_due"} <= statuses  # 12 October: September published by most, October not due


def test_an_unacknowledged_critical_alert_escalates_to_the_district_once(stack: dict[str, str]) -> None:
    """Prometheus' escalation rule over the replay's unacknowledged critical alert (the morning's bus left
    with a child on board) pages the district's duty officer and its WeChat Work group, after the wait."""

    def arrived() -> list[tuple[float, dict[str, Any]]]:  # the bus alert's (the fire replay's critical ones too)
        return [(at, a) for at, p, body in Receiver.got if p == "/alertmanager/district"
                for a in body.get("alerts", []) if a["status"] == "firing"
                and a["labels"]["rule"] == "bus.no_all_off"]  # fmt: skip

    district = wait_for("the district's page", arrived)
    wechat = wait_for("the WeChat Work message", lambda: [b for _, p, b in Receiver.got if p.endswith("/message/send")])
    escalated = district[0][1]
    assert escalated["labels"]["alertname"] == "SafecampusCriticalUnacknowledged"
    assert escalated["labels"]["rule"] == "bus.no_all_off" and escalated["labels"]["escalation"] == "district"
    assert "已升级至区级值班" in escalated["annotations"]["description"]
    assert district[0][0] - float(stack["started"]) >= ESCALATE_AFTER_S  # not before the wait
    assert "【平安校园·区级值班】" in wechat[0]["text"]["content"] and "升级至区级" in wechat[0]["text"]["content"]
    time.sleep(6)  # three more group intervals: nothing may come again
    seen = [(p, a["fingerprint"], a["status"]) for _, p, b in Receiver.got if "alerts" in b for a in b["alerts"]]
    assert len(seen) == len(set(seen)), f"an alert arrived twice at the same level: {seen}"
    # the morning's one-key alarm was acknowledged (operations log) and resolved: it paged nobody
    assert "security.one_key_alarm" not in {
        a["labels"].get("rule") for _, _, b in Receiver.got for a in b.get("alerts", [])
    }
    held = get_json(f"{stack['alertmanager']}/api/v2/alerts")
    assert "SafecampusCriticalUnacknowledged" in {a["labels"]["alertname"] for a in held}


def test_each_dashboard_is_drawn_from_the_real_prometheus(stack: dict[str, str], tmp_path: Path) -> None:
    from safecampus.dashboards.render import render_all

    wait_for("the recording rules", lambda: query(stack["prometheus"], "safecampus:bus_on_time:ratio_city"))
    paths = render_all(stack["prometheus"], tmp_path)
    assert [p.name for p in paths] == [f"{b.uid}.png" for b in grafana.BOARDS]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 20_000 for p in paths)
