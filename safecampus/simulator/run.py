"""Write a simulated city to disk: registry CSV + GTFS, raw JSONL per domain, ground truth
(ground_truth.jsonl: the injected anomalies; bus_arrivals.jsonl: when each bus really reached each stop)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from safecampus.connectors.registry import write_csv_dir
from safecampus.schemas.common import DOMAINS, SHANGHAI, Domain
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator import bus, canteen, fire, security
from safecampus.simulator.city import City, build_city
from safecampus.simulator.clock import GroundTruth
from safecampus.simulator.progress import write_progress

GENERATORS: dict[Domain, Callable[[City, date, random.Random, GroundTruth], Iterator[RawEnvelope]]] = {
    "security": security.generate,
    "bus": bus.generate,
    "canteen": canteen.generate,
    "fire": fire.generate,
}


@dataclass
class Simulation:
    """Where a simulation was written and how many raw records each domain got."""

    out_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    anomalies: int = 0

    def raw_file(self, domain: str) -> Path:
        return self.out_dir / "raw" / f"{domain}.jsonl"


def simulate(
    out_dir: Path,
    days: int = 1,
    seed: int = 2026,
    start: date = date(2026, 9, 1),
    domains: tuple[Domain, ...] = DOMAINS,
    on_domain: Callable[[str, int], None] | None = None,
    hours: tuple[float, float] | None = None,
) -> Simulation:
    """Simulate `days` school days from `start`; raw files are sorted by receive time.

    `hours` keeps only what was received between those local hours of each day (e.g. (6, 9), the
    morning peak), and the ground truth of what happened then; the city and its registry are whole."""
    city = build_city(seed, on=start)
    truth = GroundTruth()
    within = _within(hours)
    write_csv_dir(out_dir / "registry", city.rows())
    write_progress(city, out_dir / "progress", start, seed)  # the plan's progress records (docs/progress-records.md)
    result = Simulation(out_dir)
    (out_dir / "raw").mkdir(parents=True, exist_ok=True)
    for domain in domains:
        rng = random.Random(f"{seed}/{domain}")
        envelopes = [e for d in range(days) for e in GENERATORS[domain](city, start + timedelta(days=d), rng, truth)]
        envelopes = [e for e in envelopes if within(e.received_at)]
        envelopes.sort(key=lambda e: e.received_at)
        with result.raw_file(domain).open("w", encoding="utf-8") as handle:
            handle.writelines(e.model_dump_json() + "\n" for e in envelopes)
        result.counts[domain] = len(envelopes)
        if on_domain:
            on_domain(domain, len(envelopes))
    items = [{**a, "time": start.isoformat()} for a in city.registry_anomalies]
    items += [item for item in truth.items if within(datetime.fromisoformat(item["time"]))]
    with (out_dir / "ground_truth.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    result.anomalies = len(items)
    arrivals = [a for a in truth.arrivals if within(datetime.fromisoformat(str(a["time"])))]
    with (out_dir / "bus_arrivals.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in arrivals)
    return result


def _within(hours: tuple[float, float] | None) -> Callable[[datetime], bool]:
    """Whether an instant falls inside the local hours of its day (always, without hours)."""
    if hours is None:
        return lambda _: True
    first, last = hours[0] * 3600, hours[1] * 3600

    def inside(moment: datetime) -> bool:
        local = moment.astimezone(SHANGHAI)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        return first <= seconds < last

    return inside
