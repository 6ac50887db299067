"""Benchmark: the exporter's own cost with the full simulated city's label sets (issue 11).

The state holds what a day of the whole city gives it: every registry count per school and device kind
(`final_kpis` with every device reporting), the bus counts per route, events by type, and — the worst
case the labels allow — one open alert of every security rule at every school (rule × school × severity),
plus acknowledgement samples. Then /metrics is scraped over HTTP from `start_http_server`, as Prometheus
does. Prints series, bytes, scrape time (median and p99 of N scrapes) and the process's RSS; asserts nothing.

    python bench/bench_exporter.py [--scrapes 200]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import urllib.request
from datetime import UTC, datetime, timedelta

from bench_replay import city_registry  # bench/ is sys.path[0] when run as a script
from prometheus_client import CollectorRegistry, start_http_server

from safecampus.config import Settings
from safecampus.dashboards.metrics import MetricState
from safecampus.pipelines.bus.kpis import REPORTED, finish_bus_kpis
from safecampus.pipelines.domain import add
from safecampus.pipelines.security.kpis import DEVICE_EVENTS, final_kpis
from safecampus.schemas.alert import RULE_NAMES, Alert, alert_fingerprint
from safecampus.schemas.kpi import Kpi

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(state: MetricState) -> tuple[int, int]:
    registry = city_registry()
    totals: dict = {}
    for device in registry.devices:
        add(totals, DEVICE_EVENTS, device=device)
    kpis = dict(final_kpis(totals, registry, Settings().security))
    for kind in ("heartbeat", "alarm", "status"):
        add(kpis, "security_events_total", 1e6, event_type=kind)
    fleet = {t: (b.route_id or "none") for t, b in registry.buses_by_terminal.items()}
    kpis.update(finish_bus_kpis({(REPORTED, (("terminal", t),)): 1.0 for t in fleet}, fleet))
    for route in set(fleet.values()):
        for metric in ("bus_distance_km", "bus_stop_visits", "bus_stop_visits_on_time", "bus_overspeed_events"):
            add(kpis, metric, 10.0, route=route)
    records = 0
    for (metric, labels), value in kpis.items():
        domain = "bus" if metric.startswith("bus") else "security"
        state.add_kpi(Kpi(domain=domain, metric=metric, labels=dict(labels), value=value,  # type: ignore[arg-type]
                          window_start=T0, window_end=T0 + timedelta(days=1)))  # fmt: skip
        records += 1
    rules = [r for r in RULE_NAMES if r.startswith("security.") and not r.endswith(".")]
    alerts = 0
    for school in registry.schools.values():
        for rule in rules:
            fp = alert_fingerprint("security", rule, school.school_id)
            evidence = [{"kind": "acknowledgement", "seconds_to_ack": float(alerts % 3600), "new": True}]
            state.add_alert(Alert(fingerprint=fp, domain="security", rule=rule, severity="high",
                                  status="acknowledged" if alerts % 2 else "firing", subject=school.school_id,
                                  school_id=school.school_id, district=registry.district_of_school(school.school_id),
                                  occurred_at=T0, detected_at=T0, title=rule, evidence=evidence))  # fmt: skip
            alerts += 1
    return records, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--port", type=int, default=19118)
    args = parser.parse_args()
    before = rss_mib()
    state = MetricState()
    registry = CollectorRegistry()
    registry.register(state)
    started = time.perf_counter()
    records, alerts = fill(state)
    filled = time.perf_counter() - started
    server, _ = start_http_server(args.port, addr="127.0.0.1", registry=registry)
    url = f"http://127.0.0.1:{args.port}/metrics"
    times, size, series = [], 0, 0
    for _ in range(args.scrapes):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=30) as answer:
            body = answer.read()
        times.append(time.perf_counter() - t)
    size = len(body)
    series = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
    server.shutdown()
    times.sort()
    print(f"input: {records:,} KPI records, {alerts:,} alerts (filled in {filled:.2f} s)")
    print("| series | bytes | scrape p50 ms | scrape p99 ms | RSS before MiB | RSS after MiB |")
    print("|---:|---:|---:|---:|---:|---:|")
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(f"| {series:,} | {size:,} | {statistics.median(times) * 1000:.1f} | {p99 * 1000:.1f} "
          f"| {before:.0f} | {rss_mib():.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
