"""Inputs of the exporter: a replay's files, the Kafka topics, the registry, and OpenMetrics history.

The kpis topic carries additive counts per batch, not the registry's counts nor the final ratios; when
the exporter follows Kafka with a store, `RegistryCounts` gives it what replay's `finish_kpis` adds: the
registry's device, linkage and 4个100% counts, the fleet by route, and devices and buses reporting from
the per-device and per-terminal event counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.dashboards.metrics import BY_KPI, MetricState
from safecampus.pipelines.bus.kpis import REPORTED as BUS_REPORTED
from safecampus.pipelines.bus.kpis import finish_bus_kpis
from safecampus.pipelines.domain import KpiPartials
from safecampus.pipelines.security.kpis import DEVICE_EVENTS, registry_counts, reporting_counts
from safecampus.schemas.alert import Alert
from safecampus.schemas.dlq import DlqRecord
from safecampus.schemas.kpi import Kpi

KINDS: dict[str, type[Kpi] | type[Alert] | type[DlqRecord]] = {"kpis": Kpi, "alerts": Alert, "dlq": DlqRecord}


@dataclass
class Loaded:
    """What a directory gave: records per kind, and lines that were not records (with where they are)."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: list[str] = field(default_factory=list)


def take(state: MetricState, kind: str, raw: bytes | str) -> Kpi | Alert | DlqRecord:
    """One record of the kpis, alerts or dlq stream into the state (and returned); a ValueError when it
    is not one."""
    record = KINDS[kind].model_validate_json(raw)
    if isinstance(record, Kpi):
        state.add_kpi(record)
    elif isinstance(record, Alert):
        state.add_alert(record)
    else:
        state.add_dlq(record)
    return record


def load_dir(state: MetricState, directory: Path) -> Loaded:
    """Every kpis/alerts/dlq.jsonl under `directory` (a replay's DIR, or a demo's out with one per domain)."""
    loaded = Loaded()
    for kind in KINDS:
        for path in sorted(directory.rglob(f"{kind}.jsonl")):
            with path.open("rb") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        take(state, kind, line)
                        loaded.counts[kind] += 1
                    except (ValidationError, ValueError):
                        loaded.refused.append(f"{path}:{number}")
    return loaded


class RegistryCounts:
    """The registry's counts for live mode, and devices reporting from the per-device event counts."""

    def __init__(self, registry: RegistryView, settings: Settings) -> None:
        self.registry = registry
        self.fixed: KpiPartials = dict(registry_counts(registry, settings.security))
        self.fleet = {terminal: bus.route_id or "none" for terminal, bus in registry.buses_by_terminal.items()}
        self.reported: set[str] = set()
        self.terminals: set[str] = set()

    def observe(self, kpi: Kpi) -> bool:
        """Note a device or bus terminal that reported; True when one is new (the state needs `samples` again)."""
        if kpi.value <= 0:
            return False
        if kpi.metric == DEVICE_EVENTS and (device := kpi.labels.get("device")) and device not in self.reported:
            self.reported.add(device)
            return True
        if kpi.metric == BUS_REPORTED and (terminal := kpi.labels.get("terminal")) and terminal not in self.terminals:
            self.terminals.add(terminal)
            return True
        return False

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        bus = finish_bus_kpis({(BUS_REPORTED, (("terminal", t),)): 1.0 for t in self.terminals}, self.fleet)
        bus = {key: value for key, value in bus.items() if key[0] in ("bus_terminals", "bus_terminals_reporting")}
        counts = {**self.fixed, **reporting_counts(self.registry, self.reported), **bus}
        return [(metric, dict(labels), value) for (metric, labels), value in counts.items()]


def openmetrics(directory: Path) -> Iterator[str]:
    """The KPI families of every kpis.jsonl under `directory` as OpenMetrics text with event timestamps
    (each KPI at its window's end), for `promtool tsdb create-blocks-from openmetrics`.

    Counters are cumulated over windows in time order, as a counter's series is; gauges are as they were."""
    series: dict[str, dict[tuple[str, ...], list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(directory.rglob("kpis.jsonl")):
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            try:
                kpi = Kpi.model_validate_json(line)
            except ValidationError:
                continue
            family = BY_KPI.get(kpi.metric)
            if family is None or not set(family.required) <= set(kpi.labels) <= set(family.labels):
                continue
            values = tuple(kpi.labels.get(label, "") for label in family.labels)
            series[family.name][values].append((kpi.window_end.timestamp(), kpi.value * family.scale))
    for family in (f for f in BY_KPI.values() if f.name in series):
        yield f"# TYPE {family.base} {family.kind}"
        yield f"# HELP {family.base} {_escape(family.help)}"
        for values, points in sorted(series[family.name].items()):
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in zip(family.labels, values, strict=True) if v)
            total = 0.0
            for at, value in _merge(points):
                total = total + value if family.kind == "counter" else value
                yield f"{family.name}{{{labels}}} {total:g} {at:.3f}"
    yield "# EOF"


def _merge(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points of one series by time, those of the same instant summed (one sample per timestamp)."""
    merged: dict[float, float] = defaultdict(float)
    for at, value in points:
        merged[round(at, 3)] += value
    return sorted(merged.items())


def _escape(text: str) -> str:
    return text.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")
