"""A day of childcare fire-safety inspections: two patrols, monthly inspections, and hazards."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import date, timedelta

from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.city import City
from safecampus.simulator.clock import GroundTruth, local

CHECKLIST = (("F01", "exits"), ("F02", "extinguishers"), ("F03", "electrical"), ("F04", "ebike"), ("F05", "video"))


def generate(city: City, day: date, rng: random.Random, truth: GroundTruth) -> Iterator[RawEnvelope]:
    for n, inst in enumerate(city.institutions):
        patrols = (8.5 * 3600, 16.5 * 3600) if n % 27 != 6 else (8.5 * 3600,)
        if len(patrols) < 2:
            truth.add("fire", "missing_patrol", inst.institution_id, local(day, 16.5 * 3600))
        for p, at_s in enumerate(patrols):
            findings = []
            for code, category in CHECKLIST:
                hazard = (
                    (category == "ebike" and n % 21 == 2 and p == 0)
                    or (category == "video" and n % 33 == 8 and p == 0)
                    or (category == "exits" and n % 26 == 15 and p == 0)
                )
                finding: dict[str, object] = {"item_code": code, "category": category, "compliant": not hazard}
                if hazard:
                    overdue = category == "exits"
                    deadline = day - timedelta(days=3) if overdue else day + timedelta(days=7)
                    finding["deadline"] = deadline.isoformat()
                    finding["major"] = n == 15
                    kind = "hazard_overdue" if overdue else f"hazard_{category}"
                    truth.add("fire", kind, inst.institution_id, local(day, at_s))
                findings.append(finding)
            at = local(day, at_s + rng.uniform(0, 900))
            body = {
                "inspection_id": f"{inst.institution_id}-{day:%Y%m%d}-P{p}",
                "institution_id": inst.institution_id,
                "kind": "monthly" if (day.day == 1 and p == 0) else "patrol",
                "inspected_at": at.isoformat(),
                "findings": findings,
            }
            yield RawEnvelope(
                domain="fire",
                source="inspection-json",
                payload=json.dumps(body),
                received_at=at,
                gateway="inspection-app",
                key=inst.institution_id,
            )
