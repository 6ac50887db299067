"""Write a simulated city to disk: registry CSV + GTFS, raw JSONL per domain, ground truth."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from safecampus.connectors.registry import write_csv_dir
from safecampus.schemas.common import DOMAINS, Domain
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator import bus, canteen, fire, security
from safecampus.simulator.city import City, build_city
from safecampus.simulator.clock import GroundTruth

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
) -> Simulation:
    """Simulate `days` school days from `start`; raw files are sorted by receive time."""
    city = build_city(seed, on=start)
    truth = GroundTruth()
    truth.items.extend({**a, "time": start.isoformat()} for a in city.registry_anomalies)
    write_csv_dir(out_dir / "registry", city.rows())
    result = Simulation(out_dir)
    (out_dir / "raw").mkdir(parents=True, exist_ok=True)
    for domain in domains:
        rng = random.Random(f"{seed}/{domain}")
        envelopes = [e for d in range(days) for e in GENERATORS[domain](city, start + timedelta(days=d), rng, truth)]
        envelopes.sort(key=lambda e: e.received_at)
        with result.raw_file(domain).open("w", encoding="utf-8") as handle:
            handle.writelines(e.model_dump_json() + "\n" for e in envelopes)
        result.counts[domain] = len(envelopes)
        if on_domain:
            on_domain(domain, len(envelopes))
    with (out_dir / "ground_truth.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in truth.items)
    result.anomalies = len(truth.items)
    return result
