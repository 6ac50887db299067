"""Inspection forms: the JSON form checked against the checklist, and the rows of an inspection app's export.

`checked_form(fields, checklist)` validates one JSON form (schemas/fire.py) and completes it: every
finding gets its checklist category and default severity, every failed item without a finding gets
one. A form naming an item the checklist does not have, or a finding on an item it marks as passed,
is refused with the reason (`FormError`), as is anything the schema refuses.

`form_of_rows(header, rows)` turns the CSV/XLSX rows of one inspection (one row per checklist item,
Chinese or English headers, Chinese or English values) into that JSON form.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from safecampus.connectors.fire.checklist import Checklist
from safecampus.schemas.common import SHANGHAI, describe_validation_error, read_device_time
from safecampus.schemas.fire import ChecklistResult, FireFinding, FireInspection


class FormError(ValueError):
    """An inspection form we cannot use; str() is the plain-words reason."""


FORM_COLUMNS = ("inspection_id", "institution_id", "inspector_role", "kind", "inspected_at")
ROW_COLUMNS = (
    "item_code",
    "result",
    "severity",
    "description",
    "area",
    "photos",
    "major",
    "deadline",
    "rectified_at",
    "confirmed_by",
    "confirmed_at",
)
HEADER_NAMES: dict[str, str] = {
    "检查编号": "inspection_id",
    "机构编号": "institution_id",
    "检查人角色": "inspector_role",
    "检查类型": "kind",
    "检查时间": "inspected_at",
    "检查项": "item_code",
    "检查项编号": "item_code",
    "结果": "result",
    "检查结果": "result",
    "隐患等级": "severity",
    "隐患描述": "description",
    "部位": "area",
    "照片": "photos",
    "重大隐患": "major",
    "整改期限": "deadline",
    "整改完成时间": "rectified_at",
    "确认人角色": "confirmed_by",
    "确认时间": "confirmed_at",
}
VALUE_NAMES: dict[str, dict[str, str]] = {
    "result": {"合格": "pass", "不合格": "fail", "不适用": "na", "n/a": "na"},
    "kind": {"防火巡查": "patrol", "巡查": "patrol", "月度检查": "monthly", "防火检查": "monthly",
             "监管检查": "authority", "自查": "self_check", "演练": "drill", "疏散演练": "drill"},
    "inspector_role": {"巡查人员": "patrol_staff", "消防安全管理人": "fire_safety_manager",
                       "消防救援机构": "fire_department", "教育部门": "education_bureau"},
    "severity": {"紧急": "critical", "重大": "critical", "高": "high", "较大": "high", "一般": "warning",
                 "警告": "warning", "提示": "info"},
}  # fmt: skip
VALUE_NAMES["confirmed_by"] = VALUE_NAMES["inspector_role"]
TRUE_WORDS = frozenset({"是", "true", "1", "yes", "y"})
FINDING_COLUMNS = frozenset(ROW_COLUMNS) - {"item_code", "result"}


def column_of(header: str) -> str | None:
    """Our field name for an export's column header (Chinese or English), or None for a column we do not use."""
    text = header.strip()
    if text in HEADER_NAMES:
        return HEADER_NAMES[text]
    lowered = text.lower().replace(" ", "_")
    return lowered if lowered in FORM_COLUMNS or lowered in ROW_COLUMNS else None


def checked_form(fields: dict[str, Any], checklist: Checklist) -> FireInspection:
    """One JSON form, validated and completed from the checklist; `FormError` says why it cannot be used."""
    try:
        form = FireInspection.model_validate(fields)
    except ValidationError as exc:
        raise FormError(f"inspection form: {describe_validation_error(exc)}") from None
    results: dict[str, str] = {}
    for result in form.checklist:
        if result.item_code not in checklist.items:
            raise FormError(f"checklist item {result.item_code} is not in the checklist ({checklist.path})")
        if results.setdefault(result.item_code, result.result) != result.result:
            earlier = results[result.item_code]
            raise FormError(f"checklist item {result.item_code} is both {earlier} and {result.result}")
    findings: dict[str, FireFinding] = {}
    for finding in form.findings:
        code = finding.item_code
        item = checklist.items.get(code)
        if item is None:
            raise FormError(f"finding on item {code}, which is not in the checklist ({checklist.path})")
        if results.get(code) in ("pass", "na"):
            raise FormError(f"finding on item {code}, which the same form marks {results[code]}")
        if code in findings:
            raise FormError(f"two findings on item {code} in one form; one finding per item")
        if finding.confirmed_at is not None and finding.confirmed_by is None:
            raise FormError(f"finding on item {code} is confirmed at {finding.confirmed_at} but not by whom")
        findings[code] = finding.model_copy(
            update={"category": item.category, "severity": finding.severity or item.severity}
        )
    for code, said in results.items():
        if said == "fail" and code not in findings:
            item = checklist.items[code]
            findings[code] = FireFinding(item_code=code, category=item.category, severity=item.severity)
    checks = [*form.checklist, *(ChecklistResult(item_code=c, result="fail") for c in findings if c not in results)]
    return form.model_copy(update={"findings": list(findings.values()), "checklist": checks})


def form_of_rows(header: Sequence[str], rows: Sequence[Sequence[object]]) -> dict[str, Any]:
    """The JSON form of one inspection's export rows (one row per checklist item). Raises `FormError`."""
    columns = [column_of(str(h or "")) for h in header]
    if "item_code" not in columns:
        raise FormError("the rows have no 检查项 item_code column")
    form: dict[str, Any] = {"checklist": [], "findings": []}
    for n, row in enumerate(rows, start=1):
        values = {c: v for c, v in zip(columns, row, strict=False) if c is not None and v not in (None, "")}
        for name in FORM_COLUMNS:
            if name in values:
                value = _value(name, values[name], n)
                if form.setdefault(name, value) != value:
                    raise FormError(f"row {n}: {name} {value!r} differs from the inspection's {form[name]!r}")
        code = str(values.get("item_code", "")).strip()
        if not code:
            raise FormError(f"row {n}: no 检查项 item_code")
        result = _value("result", values.get("result", "fail" if FINDING_COLUMNS & set(values) else "pass"), n)
        form["checklist"].append({"item_code": code, "result": result})
        finding = {c: _value(c, values[c], n) for c in FINDING_COLUMNS if c in values}
        if finding or result == "fail":
            form["findings"].append({"item_code": code, **finding})
    return form


def _value(column: str, raw: object, row: int) -> Any:
    """A cell as the JSON form wants it: names mapped to codes, times with Beijing as the zone, lists split."""
    if isinstance(raw, datetime):
        moment = raw if raw.tzinfo else raw.replace(tzinfo=SHANGHAI)
        return moment.date().isoformat() if column == "deadline" else moment.isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    text = str(raw).strip()
    if column in VALUE_NAMES:
        return VALUE_NAMES[column].get(text, VALUE_NAMES[column].get(text.lower(), text.lower()))
    if column == "major":
        return text.lower() in TRUE_WORDS
    if column == "photos":
        return [p.strip() for p in text.replace("；", ";").replace("|", ";").split(";") if p.strip()]
    if column in ("inspected_at", "rectified_at", "confirmed_at"):
        try:
            return read_device_time(text).isoformat()
        except ValueError as exc:
            raise FormError(f"row {row}: {column} {exc}") from None
    return text
