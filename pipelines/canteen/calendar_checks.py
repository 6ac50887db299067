"""Checks of what a canteen owes by a date, on event time (like the security offline timer): the deadline
passes when the city's records pass it, so a replay and the stream say the same thing at the same point.

| rule | what it finds | setting |
|---|---|---|
| `canteen.disclosure_missing` | a month not published by day N of the next month | `disclosure_day_of_month` |
| `canteen.disclosure_late` | published, but after that day | same |
| `canteen.survey_missing` | a semester over with no satisfaction survey (parents or students) | MOE 2024 guideline |
| `canteen.statement_reopened` | entries recorded for a month after it was published | — |
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from safecampus.pipelines.canteen.book import month_of
from safecampus.pipelines.canteen.ledger_checks import AuditContext, alert, row, summary
from safecampus.schemas.alert import Alert
from safecampus.schemas.canteen_forms import semester_end, semester_of, semester_title
from safecampus.schemas.common import SHANGHAI, local_text


def disclosure_deadline(month: str, day_of_month: int) -> datetime:
    """The first moment after day `day_of_month` of the month after `month`, local time."""
    year, number = int(month[:4]), int(month[5:])
    following = date(year + (number == 12), number % 12 + 1, 1)
    return datetime.combine(following + timedelta(days=day_of_month), datetime.min.time(), SHANGHAI)


class Disclosure:
    def check(self, ctx: AuditContext) -> list[Alert]:
        found = []
        for s in ctx.statements:
            due = disclosure_deadline(s.month, ctx.rules.disclosure_day_of_month)
            published = ctx.book.disclosures.get((s.canteen_id, s.month))
            if published is not None and published.published_at <= due:
                continue
            if published is None and ctx.clock < due:
                continue  # not due yet (event time)
            if published is None:
                rule, title, at = "canteen.disclosure_missing", f"{s.month} 收支未按期公示", due
                detail = f"应于 {local_text(due - timedelta(seconds=1))} 前公示，至 {local_text(ctx.clock)} 仍未公示"
            else:
                rule, title, at = "canteen.disclosure_late", f"{s.month} 收支逾期公示", published.published_at
                shown = local_text(published.published_at)
                detail = f"应于 {local_text(due - timedelta(seconds=1))} 前公示，实际 {shown}"
            evidence = [summary(s)] + ([published.model_dump(mode="json")] if published else [])
            found.append(
                alert(
                    ctx,
                    rule=rule,
                    canteen=s.canteen_id,
                    window=s.month,
                    severity="warning",
                    at=at,
                    title=title,
                    detail=detail,
                    evidence=evidence,
                )
            )
        return found


class Survey:
    def check(self, ctx: AuditContext) -> list[Alert]:
        active: dict[tuple[str, str], date] = {}
        for e in ctx.book.entries:
            key = (e.canteen_id, semester_of(e.booked_on))
            active[key] = min(active.get(key, e.booked_on), e.booked_on)
        surveyed = {(s.canteen_id, s.semester) for s in ctx.book.surveys}
        found = []
        for (canteen, semester), _ in sorted(active.items()):
            info = ctx.registry.canteens.get(canteen)
            if info is not None and info.kind == "central_kitchen":
                continue
            end = semester_end(semester)
            if (canteen, semester) in surveyed or ctx.clock <= end:
                continue
            found.append(
                alert(
                    ctx,
                    rule="canteen.survey_missing",
                    canteen=canteen,
                    window=semester,
                    severity="warning",
                    at=end,
                    title=f"{semester_title(semester)}未开展满意度调查",
                    detail="每学期应对家长、学生开展食堂满意度调查（教育部2024年指引）",
                    evidence=[{"kind": "semester", "semester": semester, "ended": end.isoformat()}],
                )
            )
        return found


class Reopened:
    def check(self, ctx: AuditContext) -> list[Alert]:
        grouped: dict[tuple[str, str], list] = defaultdict(list)  # type: ignore[type-arg]
        for e in ctx.book.entries:
            grouped[(e.canteen_id, month_of(e))].append(e)
        found = []
        for s in ctx.statements:
            if s.status != "reopened":
                continue
            late = [e for e in grouped[(s.canteen_id, s.month)] if e.entry_id in set(s.late_entries)]
            first = min(e.recorded_at for e in late)
            found.append(
                alert(
                    ctx,
                    rule="canteen.statement_reopened",
                    canteen=s.canteen_id,
                    window=s.month,
                    severity="info",
                    at=first,
                    title=f"{s.month} 已公示后补录{len(late)}笔，月报重新打开",
                    detail=f"公示于 {local_text(s.published_at or first)}，需重新公示",
                    evidence=[summary(s), *(row(e) for e in late)],
                )
            )
        return found
