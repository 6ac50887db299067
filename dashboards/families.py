"""A metric family of the exporter's catalogue (`metrics.FAMILIES`): name, kind, labels, HELP text, source.

Its own module so that a domain's families can live beside the catalogue (`plan_families.py`) without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]
BOUNDED_LABELS = {"domain", "district", "school", "route", "rule", "severity", "kind", "indicator", "event_type"}
BOUNDED_LABELS |= {"step", "mapped", "group", "topic"}  # topic: the raw.<domain> topics of one consumer group
BOUNDED_LABELS |= {"target"}  # the plan's targets (deploy/plan/targets.toml), about ten
BOUNDED_LABELS |= {"canteen", "month", "status"}  # canteens of the registry, audited months, disclosure status
BOUNDED_LABELS |= {"institution", "age"}  # childcare institutions of the registry, open findings' age bucket
BOUNDED_LABELS |= {"centre"}  # pick-up centres: the plan builds 13


@dataclass(frozen=True)
class Family:
    """One metric family: its exposed name (counters end in `_total`), labels, HELP text and source.

    `kpi` names the pipeline KPI it comes from; a KPI record is taken when its labels include every
    one of `required` and none outside `labels` (so a KPI's city-wide and per-stop copies are skipped)."""

    name: str
    kind: Kind
    labels: tuple[str, ...]
    help: str
    source: str
    kpi: str | None = None
    required: tuple[str, ...] = ()
    scale: float = 1.0

    @property
    def base(self) -> str:
        """The name prometheus-client takes (it appends `_total` to a counter itself)."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


def kpi_family(name: str, kind: Kind, kpi: str, labels: tuple[str, ...], required: tuple[str, ...], help: str,
         scale: float = 1.0) -> Family:  # fmt: skip
    return Family(name, kind, labels, help, f"KPI `{kpi}`", kpi, required, scale)
