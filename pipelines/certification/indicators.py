"""The scorecard's indicators as data: a TOML file the bureau edits (deploy/certification/indicators.toml).

    card = load_indicators()              # the shipped file, or load_indicators(Path("县里的评分表.toml"))
    card.indicators[0].threshold          # 1.0

Each indicator names its `measure` (computed in `facts.py`), a threshold and direction, a weight, the level
it is judged at, whether it is required, and the source of its default (docs/certification.md).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "certification" / "indicators.toml"
MEASURES = (
    "four_100.guards",
    "four_100.closed_management",
    "four_100.guard_post_at_gate",
    "security.police_linkage",
    "security.device_uptime",
    "alarm.tested_months",
    "alarm.arrival_minutes",
    "canteen.disclosure",
    "canteen.surplus_rate",
    "bus.on_time",
    "bus.overspeed_per_100km",
    "fire.compliance",
)
UNITS = Literal["flag", "ratio", "minutes", "per_100km"]


class IndicatorError(ValueError):
    """An indicators file we cannot use; str() is one plain line."""


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    group: str = ""
    measure: str
    level: Literal["school", "district"] = "school"
    direction: Literal["min", "max"] = "min"
    threshold: float
    county_share: float = Field(1.0, ge=0, le=1)
    weight: float = Field(gt=0)
    required: bool = False
    unit: UNITS = "ratio"
    source: str = ""

    @model_validator(mode="after")
    def _known_measure(self) -> Indicator:
        if self.measure not in MEASURES:
            raise ValueError(f"unknown measure {self.measure!r}; one of {', '.join(MEASURES)}")
        if self.measure == "fire.compliance" and self.level != "district":
            raise ValueError("fire.compliance is judged per district (childcare institutions belong to no school)")
        return self

    def meets(self, value: float) -> bool:
        return value >= self.threshold if self.direction == "min" else value <= self.threshold

    def shown(self, value: float | None) -> str:
        """A value as a person reads it: 100%, 4.5 分钟, 0.8 次/百公里, 是/否."""
        if value is None:
            return "无数据"
        if self.unit == "flag":
            return "是" if value >= 1 else "否"
        if self.unit == "ratio":
            return f"{value:.0%}" if value in (0.0, 1.0) else f"{value:.1%}"
        if self.unit == "minutes":
            return f"{value:.1f} 分钟"
        return f"{value:.2f} 次/百公里"

    def target_text(self) -> str:
        """The threshold in words: "100%", "≤ 5.0 分钟"."""
        if self.unit == "flag":
            return "达标"
        mark = "" if self.direction == "min" else "≤ "
        return mark + self.shown(self.threshold)

    def short_of(self) -> str:
        """How a failing value falls short, in words: "未达标", "未达 100%", "超过 5.0 分钟"."""
        if self.unit == "flag":
            return "未达标"
        return ("未达 " if self.direction == "min" else "超过 ") + self.shown(self.threshold)


class Scorecard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pass_score: float = Field(90.0, ge=0, le=100)
    indicators: tuple[Indicator, ...]

    @model_validator(mode="after")
    def _unique(self) -> Scorecard:
        ids = [i.id for i in self.indicators]
        if len(ids) != len(set(ids)):
            raise ValueError("two indicators share an id")
        if not ids:
            raise ValueError("no indicator")
        return self


def load_indicators(path: Path | None = None) -> Scorecard:
    """The scorecard of a TOML file (the shipped one by default); `IndicatorError` names what is wrong."""
    path = path or SHIPPED
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise IndicatorError(f"评分表无法读取 cannot read the indicators file {path} ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise IndicatorError(f"评分表不是有效的 TOML {path} is not valid TOML ({exc})") from None
    try:
        return Scorecard(**data.get("scorecard", {}), indicators=tuple(data.get("indicator", [])))
    except (ValidationError, TypeError) as exc:
        first = str(exc).splitlines()
        raise IndicatorError(f"评分表有误 {path}: {' '.join(first[:3])}") from None
