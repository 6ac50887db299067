"""Time helpers of the simulator: a school day in Asia/Shanghai, stored in UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from safecampus.schemas.common import Domain, service_time


def local(day: date, seconds: float) -> datetime:
    """`seconds` after local midnight of `day`, as an aware UTC datetime."""
    return service_time(day, seconds)


@dataclass
class GroundTruth:
    """The injected anomalies: what a correct pipeline should find."""

    items: list[dict[str, str]] = field(default_factory=list)
    days: set[tuple[str, date]] = field(default_factory=set)  # (domain, day) simulated so far
    # When each simulated bus really reached each stop of its trip (its origin: when it left).
    arrivals: list[dict[str, str | int]] = field(default_factory=list)

    def add(self, domain: Domain, kind: str, subject: str, at: datetime) -> None:
        self.items.append({"domain": domain, "kind": kind, "subject": subject, "time": at.isoformat()})

    def arrive(self, terminal_id: str, trip_id: str, stops: list[tuple[str, int, datetime]]) -> None:
        """A bus's run: (stop_id, stop_sequence, when it was there) for each stop, in order."""
        self.arrivals += [
            {"terminal_id": terminal_id, "trip_id": trip_id, "stop_id": s, "stop_sequence": q, "time": t.isoformat()}
            for s, q, t in stops
        ]
