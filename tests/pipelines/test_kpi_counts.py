"""The numerators and denominators the exporter serves (issue 11): summed over any level they give back
the ratios the pipelines compute, so Prometheus recording rules can derive those ratios themselves."""

from __future__ import annotations

from collections import defaultdict

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.bus.kpis import REPORTED, finish_bus_kpis
from safecampus.pipelines.domain import KpiPartials, add
from safecampus.pipelines.security.kpis import DEVICE_EVENTS, final_kpis


def _sum_by(kpis: KpiPartials, metric: str, *keep: str) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = defaultdict(float)
    for (name, labels), value in kpis.items():
        if name == metric:
            out[tuple(dict(labels).get(k, "") for k in keep)] += value
    return dict(out)


def test_security_counts_give_back_every_ratio(city_registry: RegistryView) -> None:
    totals: KpiPartials = {}
    devices = sorted(city_registry.devices)
    for device in devices[::3]:  # a third of the devices reported
        add(totals, DEVICE_EVENTS, device=device)
    kpis = final_kpis(totals, city_registry, Settings().security)

    registered = _sum_by(kpis, "security_devices", "school")
    reporting = _sum_by(kpis, "security_devices_reporting", "school")
    schools = {
        dict(k[1])["school"]: v
        for k, v in kpis.items()
        if k[0] == "security_device_online_ratio" and "school" in dict(k[1])
    }
    assert len(registered) == len(city_registry.schools) > 100
    for (school,), total in registered.items():
        assert reporting.get((school,), 0.0) / total == schools[school]
    assert sum(reporting.values()) == len(devices[::3])
    assert sum(registered.values()) == len(devices)

    linked = _sum_by(kpis, "security_police_linked_devices", "district", "kind")
    linkable = _sum_by(kpis, "security_police_linkable_devices", "district", "kind")
    district_ratio = {
        (dict(k[1])["district"], dict(k[1])["kind"]): v
        for k, v in kpis.items()
        if k[0] == "security_police_linkage_ratio" and "district" in dict(k[1])
    }
    assert set(linkable) == {k for k in district_ratio if k[1] != "all"}
    assert any(linked[k] < linkable[k] for k in linkable)  # the city has unlinked devices: the test can fail
    for key, total in linkable.items():
        assert round(linked.get(key, 0.0) / total, 9) == round(district_ratio[key], 9)

    met = _sum_by(kpis, "security_four_100_met", "indicator")
    city = {dict(k[1])["indicator"]: v for k, v in kpis.items() if k[0] == "security_four_100_ratio" and len(k[1]) == 1}
    n = len(city_registry.schools)
    assert {k[0]: v / n for k, v in met.items()} == city
    assert min(city.values()) < 1.0


def test_bus_terminal_counts_by_route_give_the_fleet_online_ratio() -> None:
    totals: KpiPartials = {}
    for terminal in ("T1", "T3", "T9"):  # T9 is not in the fleet (unregistered): counted nowhere
        add(totals, REPORTED, terminal=terminal)
    fleet = {"T1": "R1", "T2": "R1", "T3": "R2", "T4": "R2", "T5": "R2"}
    kpis = finish_bus_kpis(totals, fleet)
    assert _sum_by(kpis, "bus_terminals", "route") == {("R1",): 2.0, ("R2",): 3.0}
    assert _sum_by(kpis, "bus_terminals_reporting", "route") == {("R1",): 1.0, ("R2",): 1.0}
    assert kpis[("bus_fleet_online_ratio", ())] == 2 / 5
    assert not any(metric.startswith("_") or metric == REPORTED for metric, _ in kpis)
