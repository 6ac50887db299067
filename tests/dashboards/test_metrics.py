"""The exporter's families, their mapping, the generated files, and the configs checked by the real tools
(promtool, amtool): issue 11."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.dashboards import grafana
from safecampus.dashboards.live import RegistryCounts, openmetrics
from safecampus.dashboards.metrics import BOUNDED_LABELS, FAMILIES, MetricState
from safecampus.dashboards.rules import RULES_DIR, boards_reference, main, recording_reference, reference, rules
from safecampus.pipelines.bus.kpis import REPORTED as BUS_REPORTED
from safecampus.pipelines.security.kpis import DEVICE_EVENTS
from safecampus.schemas.alert import Alert
from safecampus.schemas.kpi import Kpi

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def tools() -> None:
    """promtool and amtool, installed by the deploy scripts when absent (Debian's packages)."""
    for script in ("prometheus.sh", "alertmanager.sh"):
        subprocess.run(["bash", str(ROOT / "deploy" / "local" / script), "install"], check=True, timeout=900)
    assert shutil.which("promtool") and shutil.which("amtool")


def kpi(metric: str, value: float, domain: str = "bus", **labels: str) -> Kpi:
    return Kpi(domain=domain, metric=metric, labels=labels, value=value, window_start=T0,  # type: ignore[arg-type]
               window_end=T0 + timedelta(hours=3))  # fmt: skip


def alert(fp: str, status: str, severity: str = "critical", evidence: list[dict[str, object]] | None = None) -> Alert:
    return Alert(
        fingerprint=fp, domain="security", rule="security.one_key_alarm", severity=severity,  # type: ignore[arg-type]
        status=status, subject="CZ-0001-00", school_id="S0001", district="wujin",  # type: ignore[arg-type]
        occurred_at=T0, detected_at=T0, title="一键报警", evidence=evidence or [],
    )  # fmt: skip


def scrape(state: MetricState) -> dict[str, list[tuple[dict[str, str], float]]]:
    registry = CollectorRegistry()
    registry.register(state)
    text = generate_latest(registry).decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_names_units_help_and_labels_follow_the_conventions() -> None:
    assert len(FAMILIES) > 20
    for family in FAMILIES:
        assert re.fullmatch(r"safecampus_[a-z0-9_]+", family.name), family.name
        assert family.name.endswith("_total") == (family.kind == "counter"), family.name
        assert not re.search(r"_(km|minutes|ms|ratio)(_|$)", family.name), f"{family.name}: base units, no ratios"
        assert set(family.labels) <= BOUNDED_LABELS, family.name
        assert re.search(r"[\u4e00-\u9fff]", family.help) and " — " in family.help, family.name
    assert not BOUNDED_LABELS & {"device", "terminal", "stop", "fingerprint", "fix", "bus"}


def test_kpis_map_to_the_finest_bounded_level_in_base_units() -> None:
    state = MetricState()
    assert state.add_kpi(kpi("bus_distance_km", 12.5, route="R1"))
    assert not state.add_kpi(kpi("bus_distance_km", 12.5))  # the city-wide copy: Prometheus sums it
    assert not state.add_kpi(kpi("bus_stop_visits", 3, route="R1", stop="R1-1"))  # per stop: unbounded enough
    assert state.add_kpi(kpi("bus_stop_visits", 3, route="R1"))
    assert state.add_kpi(kpi("bus_stop_visits", 2, route="R1"))  # the kpis topic: batches add up
    assert not state.add_kpi(kpi("security_device_events_total", 5, domain="security", device="CZ-1"))
    assert not state.add_kpi(kpi("security_device_online_ratio", 0.9, domain="security", school="S1"))
    got = scrape(state)
    assert got["safecampus_bus_distance_meters_total"] == [({"route": "R1"}, 12500.0)]
    assert got["safecampus_bus_stop_visits_total"] == [({"route": "R1"}, 5.0)]
    records = {(labels["domain"], labels["mapped"]): v for labels, v in got["safecampus_kpi_records_total"]}
    assert records == {("bus", "true"): 3.0, ("bus", "false"): 2.0, ("security", "false"): 2.0}
    assert not any("ratio" in name for name in got)


def test_canteen_and_fire_kpis_map_to_their_families_by_canteen_institution_and_district() -> None:
    state = MetricState()
    month = {"canteen": "C0001", "district": "wujin", "month": "2026-09"}
    assert state.add_kpi(kpi("canteen_disclosure_status", 1, domain="canteen", **month, status="late"))
    assert not state.add_kpi(kpi("canteen_disclosure_status", 1, domain="canteen", **month))  # no status
    assert state.add_kpi(kpi("canteen_month_surplus_cny", 1200.5, domain="canteen", **month))
    assert not state.add_kpi(kpi("canteen_surplus_rate", 0.03, domain="canteen", **month))  # a ratio: the rules'
    assert state.add_kpi(kpi("canteen_red_flags_total", 3, domain="canteen", rule="canteen.surplus_rate",
                             district="wujin"))  # fmt: skip
    assert state.add_kpi(kpi("fire_items_applicable", 31, domain="fire", district="wujin", institution="T001"))
    assert state.add_kpi(kpi("fire_items_applicable", 1, domain="fire", institution="T999"))  # not in the registry
    assert state.add_kpi(kpi("fire_findings_open_by_age", 2, domain="fire", district="wujin", age="8-30d"))
    assert state.add_kpi(kpi("fire_rectify_days_sum", 1.5, domain="fire", district="wujin"))
    assert not state.add_kpi(kpi("fire_compliance_rate", 0.99, domain="fire", district="wujin"))
    got = scrape(state)
    assert got["safecampus_canteen_disclosure_status"] == [({**month, "status": "late"}, 1.0)]
    assert got["safecampus_canteen_month_surplus_cny"] == [(month, 1200.5)]
    assert got["safecampus_canteen_red_flags"] == [({"district": "wujin", "rule": "canteen.surplus_rate"}, 3.0)]
    applicable = {
        labels["institution"]: (labels["district"], v) for labels, v in got["safecampus_fire_items_applicable"]
    }
    assert applicable == {"T001": ("wujin", 31.0), "T999": ("", 1.0)}
    assert got["safecampus_fire_findings_open"] == [({"district": "wujin", "age": "8-30d"}, 2.0)]
    assert got["safecampus_fire_rectify_seconds"] == [({"district": "wujin"}, 1.5 * 86400)]  # days → seconds


def test_alerts_open_unacknowledged_and_time_to_acknowledge_counted_once() -> None:
    state = MetricState()
    ack = {"kind": "acknowledgement", "seconds_to_ack": 95.0, "new": True}
    state.add_alert(alert("a", "firing"))
    state.add_alert(alert("b", "firing"))
    state.add_alert(alert("b", "acknowledged", evidence=[ack]))
    state.add_alert(alert("b", "acknowledged", evidence=[{**ack, "new": False}]))  # a later update: not again
    state.add_alert(alert("c", "firing", severity="high"))
    state.add_alert(alert("c", "resolved", severity="high"))
    got = scrape(state)
    open_ = {labels["severity"]: v for labels, v in got["safecampus_alerts_open"]}
    unacked = {labels["severity"]: v for labels, v in got["safecampus_alerts_unacknowledged"]}
    assert open_ == {"critical": 2.0} and unacked == {"critical": 1.0}
    buckets = {labels["le"]: v for labels, v in got["safecampus_alert_ack_seconds_bucket"]}
    assert buckets["60.0"] == 0.0 and buckets["120.0"] == 1.0 and buckets["+Inf"] == 1.0
    assert got["safecampus_alert_ack_seconds_count"][0][1] == 1.0
    assert got["safecampus_alert_ack_seconds_sum"][0][1] == 95.0


def test_the_metrics_reference_is_the_generated_one(tmp_path: Path) -> None:
    main([str(tmp_path / "metrics.md")])
    committed = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert committed == (tmp_path / "metrics.md").read_text(encoding="utf-8"), (
        "docs/metrics.md is stale: python -m safecampus.dashboards.rules docs/metrics.md"
    )
    assert all(f"`{f.name}`" in committed for f in FAMILIES)
    assert reference() in committed and recording_reference() in committed and boards_reference() in committed
    assert all(f"`{b.uid}`" in committed for b in grafana.BOARDS)


def test_the_committed_dashboards_are_the_generated_ones() -> None:
    for name, text in grafana.rendered().items():
        path = grafana.JSON_DIR / name
        assert path.exists() and path.read_text(encoding="utf-8") == text, f"{name} stale: safecampus dashboards build"


def _produced() -> set[str]:
    names = {f.name for f in FAMILIES}
    names |= {f"{f.name}_{part}" for f in FAMILIES if f.kind == "histogram" for part in ("bucket", "sum", "count")}
    return names | {rule["record"] for rule in rules("record")}


def _named(expr: str) -> set[str]:
    return set(re.findall(r"\b(safecampus[_:][a-z0-9_:]*)", expr))


def test_every_metric_a_panel_or_rule_names_is_produced() -> None:
    produced, seen = _produced(), 0
    for board in grafana.BOARDS:
        for title, expr in grafana.queries(grafana.build(board)):
            own = re.match(r"(up|scrape_duration_seconds)\{", expr)  # Prometheus' own series of the scrape
            assert (_named(expr) or own) and _named(expr) <= produced, f"{board.uid} / {title}: {expr}"
            seen += 1
    for rule in rules("record") + rules("alert"):
        assert _named(rule["expr"]) <= produced, rule
    assert seen >= 20


def test_dashboards_have_chinese_titles_and_template_variables() -> None:
    for board in grafana.BOARDS:
        model = grafana.build(board)
        assert re.search(r"[\u4e00-\u9fff]", model["title"])
        assert all(re.search(r"[\u4e00-\u9fff]", p["title"]) for p in model["panels"])
        names = {v["name"] for v in model["templating"]["list"]}
        assert names == {v.name for v in board.variables} and names
        used = {name for _, expr in grafana.queries(model) for name in re.findall(r"\$(\w+)", expr)}
        assert used <= names, f"{board.uid}: a panel names a variable the board lacks"
        assert all(re.search(r"[\u4e00-\u9fff]", v.label) for v in board.variables)
    assert {b.uid for b in grafana.BOARDS} >= {"safecampus-canteen", "safecampus-fire"}


@pytest.mark.usefixtures("tools")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    files = sorted(str(p) for p in RULES_DIR.glob("*.yml"))
    check = subprocess.run(["promtool", "check", "rules", *files], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout
    test = ROOT / "deploy" / "prometheus" / "tests" / "rules_test.yml"
    run = subprocess.run(["promtool", "test", "rules", str(test)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    # each alerting rule has a case where it fires and one where it does not
    text = test.read_text(encoding="utf-8")
    for rule in rules("alert"):
        cases = re.findall(rf"alertname: {rule['alert']}\n\s+eval_time: \S+.*\n\s+exp_alerts:(.*)", text)
        assert any(c.strip() == "[]" for c in cases), f"{rule['alert']}: no case where it stays silent"
        assert any(c.strip() == "" for c in cases), f"{rule['alert']}: no case where it fires"


@pytest.mark.usefixtures("tools")
def test_amtool_checks_the_config_and_routes_by_escalation_severity_and_domain() -> None:
    config = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
    check = subprocess.run(["amtool", "check-config", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr

    def route(*labels: str) -> str:
        args = ["amtool", "config", "routes", "test", f"--config.file={config}", *labels]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()

    assert route("severity=critical", "escalation=school", "domain=security") == "school-duty-critical"
    assert route("severity=critical", "escalation=district", "district=xinbei") == "district-duty"
    assert route("severity=critical", "escalation=district", "district=wujin") == "wujin-wechat"
    assert route("severity=critical", "escalation=city") == "city-duty"
    assert route("severity=high", "escalation=school", "domain=bus") == "transport-bureau"
    assert route("severity=warning", "domain=security") == "school-duty"


@pytest.mark.usefixtures("tools")
def test_openmetrics_history_loads_into_prometheus_blocks(tmp_path: Path) -> None:
    for day in (1, 2):
        folder = tmp_path / "replays" / f"day{day}" / "bus"
        folder.mkdir(parents=True)
        start = T0 + timedelta(days=day - 1)
        lines = [
            Kpi(
                domain="bus",
                metric="bus_stop_visits",
                labels={"route": "R1"},
                value=10.0 * day,
                window_start=start,
                window_end=start + timedelta(hours=3),
            ).model_dump_json(),  # fmt: skip
            Kpi(
                domain="bus",
                metric="bus_terminals",
                labels={"route": "R1"},
                value=4.0,
                window_start=start,
                window_end=start + timedelta(hours=3),
            ).model_dump_json(),  # fmt: skip
        ]
        (folder / "kpis.jsonl").write_text("\n".join(lines) + "\n")
    text = list(openmetrics(tmp_path / "replays"))
    assert text[-1] == "# EOF"
    visits = [line for line in text if line.startswith("safecampus_bus_stop_visits_total{")]
    assert [line.split()[1] for line in visits] == ["10", "30"]  # cumulated: a counter's series
    assert [float(line.split()[2]) for line in visits] == [(T0 + timedelta(hours=h)).timestamp() for h in (3, 27)]
    source = tmp_path / "kpis.om"
    source.write_text("\n".join(text) + "\n")
    out = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(tmp_path / "tsdb")],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert [p for p in (tmp_path / "tsdb").iterdir() if (p / "meta.json").exists()]


@pytest.mark.usefixtures("tools")
def test_the_compose_file_mounts_the_configs_the_tests_check(tmp_path: Path) -> None:
    import yaml

    deploy = ROOT / "deploy"
    compose = yaml.safe_load((deploy / "compose.yaml").read_text(encoding="utf-8"))
    assert {"kafka", "postgres", "prometheus", "alertmanager", "grafana", "pipelines", "exporter"} <= set(
        compose["services"]
    )
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"
        for volume in service.get("volumes", []):
            source = (deploy / volume.split(":")[0]).resolve()
            assert source.exists(), f"{name} mounts {source}, which is missing"
    # the container's Prometheus config is valid and reads the same rules
    config = deploy / "prometheus" / "compose-prometheus.yml"
    copy = tmp_path / "prometheus.yml"
    copy.write_text(config.read_text().replace("/etc/prometheus/rules", str(RULES_DIR)))
    checked = subprocess.run(["promtool", "check", "config", str(copy)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_live_counts_fold_devices_and_terminals_into_schools_and_routes(city_registry: RegistryView) -> None:
    counts = RegistryCounts(city_registry, Settings())
    device = next(iter(city_registry.devices.values()))
    terminal, bus = next(iter(city_registry.buses_by_terminal.items()))
    assert counts.observe(kpi(DEVICE_EVENTS, 3, domain="security", device=device.device_id))
    assert not counts.observe(kpi(DEVICE_EVENTS, 2, domain="security", device=device.device_id))  # known already
    assert counts.observe(kpi(BUS_REPORTED, 9, terminal=terminal))
    state = MetricState(live=True)
    state.replace(counts.samples())
    got = scrape(state)
    reporting = [(labels, v) for labels, v in got["safecampus_security_devices_reporting"]]
    assert reporting == [({"district": city_registry.district_of_school(device.school_id) or "",
                           "school": device.school_id, "kind": device.kind}, 1.0)]  # fmt: skip
    buses = {labels["route"]: v for labels, v in got["safecampus_bus_terminals_reporting"]}
    assert buses[bus.route_id or "none"] == 1.0 and sum(buses.values()) == 1.0
    fleet = {labels["route"]: v for labels, v in got["safecampus_bus_terminals"]}
    assert sum(fleet.values()) == len(city_registry.buses_by_terminal)
    assert sum(v for _, v in got["safecampus_security_devices"]) == len(city_registry.devices)


def test_the_paging_rules_hold_the_numbers_of_the_settings() -> None:
    paging = Settings().paging
    by_name = {rule["alert"]: rule for rule in rules("alert")}

    def threshold(name: str) -> float:
        return float(re.search(r"< ([0-9.]+)", by_name[name]["expr"]).group(1))  # type: ignore[union-attr]

    assert threshold("SafecampusDeviceOnlineRateLow") == paging.device_online_target
    assert threshold("SafecampusOneKeyAlarmNotLinked") == paging.police_linkage_target
    assert threshold("SafecampusBusOnTimeRateLow") == paging.bus_on_time_target
    assert by_name["SafecampusDevicesOfflineForHours"]["for"] == f"{paging.devices_offline_h:g}h"
    assert by_name["SafecampusCriticalUnacknowledged"]["for"] == f"{paging.critical_to_district_min}m"
    assert by_name["SafecampusCriticalUnacknowledgedCity"]["for"] == f"{paging.critical_to_city_min}m"
    assert by_name["SafecampusHighUnacknowledged"]["for"] == f"{paging.high_to_district_min // 60}h"
