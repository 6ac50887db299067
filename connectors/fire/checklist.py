"""The checklist of the 2022 childcare fire-safety guideline: item codes, category, default severity.

The shipped file is `checklist.csv` beside this module (item_code, category, severity, name, source),
one line per item. A county with its own checklist names its CSV in the settings
(`[fire] checklist = "…"`); the file is checked when it is read: a bad line is one plain error.

    >>> checklist = load_checklist()
    >>> checklist.items["E01"].category
    'ebike'
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import get_args

from safecampus.schemas.common import SEVERITIES, Severity
from safecampus.schemas.fire import FindingCategory

SHIPPED = Path(__file__).with_name("checklist.csv")
CATEGORIES: tuple[str, ...] = get_args(FindingCategory)
COLUMNS = ("item_code", "category", "severity", "name", "source")


class ChecklistError(ValueError):
    """A checklist file we cannot use; str() names the file, the line and the problem."""


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    code: str
    category: FindingCategory
    severity: Severity
    name: str
    source: str


@dataclass(frozen=True)
class Checklist:
    """The items by code, in the file's order."""

    items: dict[str, ChecklistItem]
    path: str

    def name_of(self, code: str) -> str:
        item = self.items.get(code)
        return item.name if item else code


@lru_cache(maxsize=8)
def load_checklist(path: str = "") -> Checklist:
    """The checklist at `path`, or the shipped one for an empty path (read once per process)."""
    where = Path(path) if path else SHIPPED
    try:
        text = where.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ChecklistError(f"the checklist {where} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ChecklistError(f"the checklist {where} is not UTF-8 text") from None
    rows = list(csv.DictReader(text.splitlines()))
    missing = [c for c in COLUMNS[:4] if rows and c not in rows[0]] if rows else list(COLUMNS[:4])
    if missing:
        raise ChecklistError(f"the checklist {where} has no column {', '.join(missing)} (needs {', '.join(COLUMNS)})")
    items: dict[str, ChecklistItem] = {}
    for line, row in enumerate(rows, start=2):
        code, category, severity = ((row.get(k) or "").strip() for k in ("item_code", "category", "severity"))
        if not code or len(code) > 16:
            raise ChecklistError(f"{where.name} line {line}: an item code is 1 to 16 characters (got {code!r})")
        if code in items:
            raise ChecklistError(f"{where.name} line {line}: item code {code} appears twice")
        if category not in CATEGORIES:
            raise ChecklistError(
                f"{where.name} line {line}: category {category!r} is not one of {', '.join(CATEGORIES)}"
            )
        if severity not in SEVERITIES:
            raise ChecklistError(
                f"{where.name} line {line}: severity {severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        items[code] = ChecklistItem(
            code,
            category,  # type: ignore[arg-type]
            severity,  # type: ignore[arg-type]
            (row.get("name") or code).strip(),
            (row.get("source") or "").strip(),
        )
    return Checklist(items, str(where))
