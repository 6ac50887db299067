"""Fire-safety KPIs: checklist compliance per institution, district and city; findings open, overdue, by age;
mean days to rectify and to confirm.

From the ledgers the detectors derive (one per institution, as of the end of the input), as additive
partials; `finish_fire_kpis` turns the sums into rates and means. Compliance is items compliant over
items applicable (ledger.py), pooled over a district's institutions and over the city.
"""

from __future__ import annotations

from safecampus.pipelines.domain import KpiPartials, add
from safecampus.schemas.fire import FireLedger

AGE_BUCKETS = ((7, "0-7d"), (30, "8-30d"), (10**6, ">30d"))


def age_bucket(days: int) -> str:
    return next(name for limit, name in AGE_BUCKETS if days <= limit)


def ledger_partials(partials: KpiPartials, ledger: FireLedger) -> None:
    district = ledger.district
    add(
        partials, "fire_items_applicable", ledger.items_applicable, district=district, institution=ledger.institution_id
    )
    add(partials, "fire_items_compliant", ledger.items_compliant, district=district, institution=ledger.institution_id)
    as_of = ledger.as_of
    add(partials, "fire_findings_overdue", 0.0, district=district)  # a district with none overdue says 0
    for row in ledger.rows:
        add(partials, "fire_findings", district=district)
        if row.closed_at is None:
            add(partials, "fire_findings_open", district=district)
            add(partials, "fire_findings_open_by_age", district=district, age=age_bucket((as_of - row.found_at).days))
            if row.days_overdue > 0 and row.rectified_at is None:
                add(partials, "fire_findings_overdue", district=district)
        if row.rectified_at is not None and row.closed_how != "on_the_spot":
            add(
                partials,
                "fire_rectify_days_sum",
                (row.rectified_at - row.found_at).total_seconds() / 86400,
                district=district,
            )
            add(partials, "fire_rectify_count", district=district)
        if row.confirmed_at is not None and row.rectified_at is not None and row.closed_how == "confirmed":
            add(
                partials,
                "fire_confirm_days_sum",
                (row.confirmed_at - row.rectified_at).total_seconds() / 86400,
                district=district,
            )
            add(partials, "fire_confirm_count", district=district)


def finish_fire_kpis(totals: KpiPartials) -> KpiPartials:
    out = dict(totals)
    pools: dict[tuple[str, str], list[float]] = {}  # (level, name) → [compliant, applicable]
    for (metric, labels), value in totals.items():
        if metric not in ("fire_items_applicable", "fire_items_compliant"):
            continue
        label = dict(labels)
        slot = 0 if metric == "fire_items_compliant" else 1
        for level in ("institution", "district"):
            if label.get(level):
                pools.setdefault((level, label[level]), [0.0, 0.0])[slot] += value
        pools.setdefault(("city", ""), [0.0, 0.0])[slot] += value
    for (level, name), (compliant, applicable) in pools.items():
        if applicable > 0:
            rate = compliant / applicable
            if level == "city":
                add(out, "fire_compliance_rate", rate)
            else:
                add(out, "fire_compliance_rate", rate, **{level: name})
    for what in ("rectify", "confirm"):
        sums: dict[str | None, list[float]] = {}
        for (metric, labels), value in totals.items():
            if metric in (f"fire_{what}_days_sum", f"fire_{what}_count"):
                district = dict(labels).get("district")
                slot = 0 if metric.endswith("_sum") else 1
                for place in (district, "__city__"):
                    sums.setdefault(place, [0.0, 0.0])[slot] += value
        for district, (total, count) in sums.items():
            if count:
                if district == "__city__":
                    add(out, f"fire_mean_days_to_{what}", total / count)
                else:
                    add(out, f"fire_mean_days_to_{what}", total / count, district=district)
    return out
