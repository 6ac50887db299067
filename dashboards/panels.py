"""A dashboard as data: its panels (title, kind, PromQL) and template variables, built into Grafana's JSON by
`grafana.py`. Its own module so that a domain's boards (`canteen_board.py`, `fire_board.py`) live beside the
catalogue of boards without a cycle."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PanelKind = Literal["stat", "timeseries", "table", "bargauge"]


@dataclass(frozen=True)
class Panel:
    title: str  # Chinese, English beside it
    kind: PanelKind
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    width: int = 8
    height: int = 7
    instant: bool = False
    live: bool = False  # has data only while the exporter follows Kafka (not from a replay's files)


@dataclass(frozen=True)
class Variable:
    """A query variable (multi-select with All = `.*`): `name` is what panels write as `$name`."""

    name: str
    label: str  # Chinese, English beside it
    query: str  # Grafana's label_values(…)


SCHOOL_VARIABLES = (
    Variable("district", "区 District", "label_values(safecampus_security_devices, district)"),
    Variable("school", "学校 School", 'label_values(safecampus_security_devices{district=~"$district"}, school)'),
)
ROUTE_VARIABLES = (Variable("route", "线路 Route", "label_values(safecampus_bus_terminals, route)"),)


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    tags: tuple[str, ...]
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = SCHOOL_VARIABLES


def at_all(expr: str) -> str:
    """A panel's PromQL as Grafana sends it with every variable at All (`.*`)."""
    return re.sub(r"\$\w+", ".*", expr)
