"""The simulator's injected canteen problems, each found by the pipeline and the audit on the right canteen and
month, and nothing found that was not injected."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from safecampus.canteen.data import CanteenData
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI
from safecampus.simulator.run import Simulation

# Problems of a month that the simulator records when they fall due, in the next month.
DUE_NEXT_MONTH = {"subsidy_short", "subsidy_missing", "surplus_rate", "supplier_concentration",
                  "disclosure_missing", "disclosure_late", "statement_reopened"}  # fmt: skip


def _month(moment: datetime, back: bool = False) -> str:
    local = moment.astimezone(SHANGHAI)
    if back:
        local = local.replace(day=1) - timedelta(days=1)
    return f"{local:%Y-%m}"


def _alert_month(alert: Alert) -> str:
    """The month an alert is about: its statement's month, else the month it happened in."""
    months = [e["month"] for e in alert.evidence if e.get("kind") in ("statement", "supplier_share") and "month" in e]
    return months[0] if months else _month(alert.occurred_at)


def _rule(kind: str) -> str:
    return "canteen." + (kind.replace("red_flag_", "red_flag.") if kind.startswith("red_flag_") else kind)


def test_every_injected_problem_is_found_on_its_canteen_and_month(
    canteen_weeks: Simulation, canteen_data: CanteenData
) -> None:
    lines = canteen_weeks.out_dir.joinpath("ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    truth = [json.loads(line) for line in lines]
    truth = [t for t in truth if t["domain"] == "canteen"]
    expected = {
        (_rule(t["kind"]), t["subject"], _month(datetime.fromisoformat(t["time"]), t["kind"] in DUE_NEXT_MONTH))
        for t in truth
    }
    kinds = Counter(t["kind"] for t in truth)
    assert {"subsidy_short", "subsidy_missing", "duplicate_invoice", "price_outlier", "single_person_acceptance",
            "red_flag_staff_meals", "surplus_rate", "supplier_concentration", "disclosure_missing",
            "disclosure_late", "statement_reopened"} <= set(kinds)  # fmt: skip
    flags = [*canteen_data.audit.alerts, *canteen_data.audit.line_alerts]
    found = {(a.rule, a.subject, _alert_month(a)) for a in flags}
    assert sorted(expected - found) == []  # every injected problem was found, on its canteen, in its month
    assert sorted(found - expected) == []  # and nothing else was flagged
