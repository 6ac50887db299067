"""What the registry says: a location the 2022 guideline forbids, or an institution it does not know.

`fire.location_noncompliant` (critical, 《托育机构消防安全指南(试行)》(2022)): the registry places
the institution above `max_floor`, in a basement or semi-basement, in 三合一 premises, a steel-panel
building or a building storing hazardous goods. One alert per institution, on its first form; the
same checklist items found failing on a form are findings (findings.py, critical too).

`fire.unknown_institution` (warning): a form for an institution not in the registry, as an unknown
camera is: its forms still flow (findings and their life cycle), without district or calendar.
"""

from __future__ import annotations

from safecampus.pipelines.fire.board import fire_alert
from safecampus.pipelines.fire.book import InstitutionBook
from safecampus.pipelines.fire.calendar import InstitutionFacts
from safecampus.schemas.alert import Alert

BUILDING_ITEMS: dict[str, tuple[str, str]] = {  # building type → (checklist item, what a person reads)
    "basement": ("A02", "地下"),
    "semi_basement": ("A02", "半地下"),
    "three_in_one": ("A03", "“三合一”场所"),
    "steel_panel": ("A04", "彩钢板建筑"),
    "hazardous_storage": ("A05", "储存易燃易爆危险品的建筑"),
}
FLOOR_ITEM = "A01"


def registry_failures(facts: InstitutionFacts, max_floor: int) -> dict[str, str]:
    """Checklist item → why the registry row breaks it."""
    row = facts.row
    if row is None:
        return {}
    found: dict[str, str] = {}
    if row.floor > max_floor:
        found[FLOOR_ITEM] = f"设在第 {row.floor} 层（不得设在 {max_floor + 1} 层及以上）"
    if row.building_type in BUILDING_ITEMS:
        code, words = BUILDING_ITEMS[row.building_type]
        found[code] = f"设在{words}"
    return found


class Structural:
    def __init__(self, max_floor: int) -> None:
        self.max_floor = max_floor

    def alerts(self, facts: InstitutionFacts, book: InstitutionBook) -> list[Alert]:
        failures = registry_failures(facts, self.max_floor)
        first = book.first_at
        if not failures or first is None or facts.row is None:
            return []
        name = f"{facts.row.name}（{facts.institution_id}）"
        return [
            fire_alert(
                facts,
                rule="fire.location_noncompliant",
                window="",
                severity="critical",
                occurred_at=first,
                detected_at=first,
                title="托育机构设置场所不符合要求",
                detail=f"{name}{'；'.join(failures.values())}，不符合《托育机构消防安全指南(试行)》",
                summary={"kind": "registry_check", "items": sorted(failures), "floor": facts.row.floor},
                evidence=[{"kind": "building", "building_type": facts.row.building_type}],
            )
        ]


class UnknownInstitution:
    def alerts(self, facts: InstitutionFacts, book: InstitutionBook) -> list[Alert]:
        first = book.first_at
        if facts.row is not None or first is None:
            return []
        earliest = min(book.inspections.values(), key=lambda i: (i.inspected_at, i.inspection_id))
        return [
            fire_alert(
                facts,
                rule="fire.unknown_institution",
                window="",
                severity="warning",
                occurred_at=first,
                detected_at=first,
                title="未登记的托育机构",
                detail=(
                    f"机构 {facts.institution_id} 不在托育机构登记册中，但已上报检查记录 {earliest.inspection_id}；"
                    "请核实并登记（safecampus registry load）"
                ),
                summary={
                    "kind": "unknown_institution",
                    "event_id": f"{facts.institution_id}/{earliest.inspection_id}",
                },
            )
        ]
