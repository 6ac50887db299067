"""The KPI record: one metric value with labels over a time window (exported to Prometheus)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from safecampus.schemas.common import Record, RecordDomain


class Kpi(Record):
    """A metric value, e.g. metric="bus_fixes_total", labels={"route": "CZ01"}, value=812."""

    domain: RecordDomain
    metric: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    labels: dict[str, str] = Field(default_factory=dict)
    value: float
    window_start: AwareDatetime
    window_end: AwareDatetime

    def key(self) -> str:
        """Kafka key and natural key of the snapshot: metric name plus sorted labels."""
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.metric}{{{inner}}}"
