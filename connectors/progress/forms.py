"""The plan's progress forms, column by column (docs/progress-records.md).

Headers in Chinese or English, compared as the canteen forms compare them (`header_key`); cells read by
the canteen importer's value parsers. Each form turns one row into a store row (`schemas/progress.py`);
a cell that cannot be used raises `RowError` naming the column as the file wrote it.

| form | required columns | row |
|---|---|---|
| milestone | 项目编号, 类别, 阶段, 日期, 区 or 学校 | `MilestoneRow` |
| certificate | 学校, 教师编号 or 教师哈希, 发证日期 | `FirstAidCertificateRow` |
| hall_visit | 学校, 班级, 参观日期, 人数 | `HallVisitRow` |
| alarm_test | 学校, 测试日期 | `AlarmTestRow` |
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from safecampus.connectors.canteen.forms import (
    Column,
    Form,
    RowContext,
    RowError,
    header_key,
    need_cell,
    text_cell,
)
from safecampus.connectors.canteen.values import CellError, is_blank, parse_amount, parse_count, parse_date
from safecampus.schemas.progress import PROJECT_KINDS, STAGE_NAMES

# Columns that would carry a person's name: the whole file is refused (a teacher is an id, hashed here).
NAME_COLUMNS = {header_key(n) for n in ("姓名", "教师姓名", "教师", "name", "teacher_name", "teacher")}
HEX64 = re.compile(r"^[0-9a-f]{64}$")
YES = {"是", "y", "yes", "true", "1", "已接警", "received"}
NO = {"否", "n", "no", "false", "0", "未接警", "not_received"}


def teacher_hash(teacher_id: str, salt: str) -> str:
    """The salted SHA-256 a certificate keeps instead of the teacher: the same id and salt, the same hash."""
    return hashlib.sha256(f"{salt}:{teacher_id.strip()}".encode()).hexdigest()


def _date(cells: dict[str, Any], ctx: RowContext, field: str) -> date | None:
    value = cells.get(field)
    if is_blank(value):
        return None
    try:
        return parse_date(value, ctx.column(field))
    except CellError as exc:
        raise RowError(ctx.column(field), str(exc)) from None


def _code(raw: str, names: dict[str, str], ctx: RowContext, field: str) -> str:
    """A code given by its Chinese name or as the code itself."""
    by_name = {v: k for k, v in names.items()}
    code = by_name.get(raw) or (raw.lower() if raw.lower() in names else None)
    if code is None:
        known = "、".join(names.values())
        raise RowError(ctx.column(field), f"{ctx.column(field)}「{raw}」不认识 unknown; use one of {known}")
    return code


@dataclass(frozen=True)
class Places:
    """What a row's school and district are checked against: the registry's schools and districts."""

    school_district: dict[str, str]  # school id → district id
    districts: dict[str, str]  # district id and name → district id
    salt: str
    validity_years: int

    def school(self, cells: dict[str, Any], ctx: RowContext, required: bool = True) -> str | None:
        school = text_cell(cells, ctx, "school_id", 16)
        if school is None:
            return need_cell(None, ctx, "school_id") if required else None
        if school not in self.school_district:
            raise RowError(ctx.column("school_id"), f"学校 {school} 不在登记册中 is not in the registry")
        return school

    def district(self, cells: dict[str, Any], ctx: RowContext, school: str | None) -> str:
        given = text_cell(cells, ctx, "district_id", 16)
        if given is None:
            if school is None:
                raise RowError(ctx.column("district_id"), "没有区也没有学校 neither a district nor a school")
            return self.school_district[school]
        district = self.districts.get(given)
        if district is None:
            raise RowError(ctx.column("district_id"), f"区「{given}」不在登记册中 is not a district of the registry")
        if school is not None and self.school_district[school] != district:
            raise RowError(ctx.column("district_id"), f"学校 {school} 不在{given} is not in that district")
        return district

    def milestone(self, cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
        project = need_cell(text_cell(cells, ctx, "project_id", 32), ctx, "project_id")
        kind = _code(need_cell(text_cell(cells, ctx, "kind", 20), ctx, "kind"), PROJECT_KINDS, ctx, "kind")
        stage = _code(need_cell(text_cell(cells, ctx, "stage", 12), ctx, "stage"), STAGE_NAMES, ctx, "stage")
        school = self.school(cells, ctx, required=False)
        return {
            "project_id": project,
            "stage": stage,
            "kind": kind,
            "district_id": self.district(cells, ctx, school),
            "school_id": school,
            "reached_on": need_cell(_date(cells, ctx, "reached_on"), ctx, "reached_on"),
            "due_on": _date(cells, ctx, "due_on"),
        }

    def certificate(self, cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
        school = self.school(cells, ctx)
        assert school is not None
        issued = need_cell(_date(cells, ctx, "issued_on"), ctx, "issued_on")
        hashed = text_cell(cells, ctx, "teacher_hash", 64)
        if hashed is not None and not HEX64.match(hashed.lower()):
            raise RowError(
                ctx.column("teacher_hash"), f"{ctx.column('teacher_hash')} 不是64位十六进制 is not a SHA-256"
            )
        if hashed is None:
            teacher = need_cell(text_cell(cells, ctx, "teacher_id", 32), ctx, "teacher_id")
            if not self.salt:
                raise RowError(
                    ctx.column("teacher_id"), "没有设置盐值 no salt: set SAFECAMPUS_PLAN__TEACHER_SALT to hash 教师编号"
                )
            hashed = teacher_hash(teacher, self.salt)
        expires = _date(cells, ctx, "expires_on") or _add_years(issued, self.validity_years)
        if expires <= issued:
            raise RowError(ctx.column("expires_on"), "有效期至早于发证日期 expires before it was issued")
        return {
            "teacher_hash": hashed.lower(),
            "issued_on": issued,
            "school_id": school,
            "district_id": self.school_district[school],
            "expires_on": expires,
        }

    def hall_visit(self, cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
        school = self.school(cells, ctx)
        assert school is not None
        headcount = _count(cells, ctx, "headcount")
        if headcount < 1:
            raise RowError(ctx.column("headcount"), f"{ctx.column('headcount')} 必须大于0 must be more than 0")
        return {
            "school_id": school,
            "class_name": need_cell(text_cell(cells, ctx, "class_name", 32), ctx, "class_name"),
            "visited_on": need_cell(_date(cells, ctx, "visited_on"), ctx, "visited_on"),
            "hall_id": text_cell(cells, ctx, "hall_id", 32) or "",
            "district_id": self.school_district[school],
            "headcount": headcount,
        }

    def alarm_test(self, cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
        school = self.school(cells, ctx)
        assert school is not None
        received = text_cell(cells, ctx, "received", 8)
        if received is not None and received.lower() not in YES | NO:
            raise RowError(ctx.column("received"), f"{ctx.column('received')}「{received}」应为 是/否 should be yes/no")
        minutes = None
        if not is_blank(cells.get("arrival_minutes")):
            try:
                minutes = float(parse_amount(cells["arrival_minutes"], ctx.column("arrival_minutes")))
            except CellError as exc:
                raise RowError(ctx.column("arrival_minutes"), str(exc)) from None
            if minutes > 24 * 60:
                raise RowError(ctx.column("arrival_minutes"), "到达时间超过一天 more than a day: write minutes")
        return {
            "school_id": school,
            "tested_on": need_cell(_date(cells, ctx, "tested_on"), ctx, "tested_on"),
            "device_id": text_cell(cells, ctx, "device_id", 32) or "",
            "district_id": self.school_district[school],
            "received": received is None or received.lower() in YES,
            "arrival_minutes": minutes,
        }

    def forms(self) -> tuple[Form, ...]:
        return (
            Form("milestone", "项目节点 project milestones", MILESTONE, ("project_id", "kind", "stage", "reached_on"),
                 self.milestone),
            Form("certificate", "救护员证书 first-aider certificates", CERTIFICATE, ("school_id", "issued_on"),
                 self.certificate),
            Form("hall_visit", "体验馆参观 hall visits", HALL_VISIT,
                 ("school_id", "class_name", "visited_on", "headcount"), self.hall_visit),
            Form("alarm_test", "一键报警测试 one-key alarm tests", ALARM_TEST, ("school_id", "tested_on"),
                 self.alarm_test),
        )  # fmt: skip


def _count(cells: dict[str, Any], ctx: RowContext, field: str) -> int:
    value = need_cell(None if is_blank(cells.get(field)) else cells[field], ctx, field)
    try:
        return parse_count(value, ctx.column(field))
    except CellError as exc:
        raise RowError(ctx.column(field), str(exc)) from None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


SCHOOL = Column("school_id", ("学校", "学校编号", "school", "school_id"))
DISTRICT = Column("district_id", ("区", "区县", "辖市区", "district", "district_id"))
MILESTONE = (
    Column("project_id", ("项目编号", "项目", "project", "project_id")),
    Column("kind", ("类别", "项目类别", "kind")),
    DISTRICT,
    SCHOOL,
    Column("stage", ("阶段", "节点", "stage")),
    Column("reached_on", ("日期", "完成日期", "date", "reached_on")),
    Column("due_on", ("计划投用日期", "计划日期", "due", "due_on")),
)
CERTIFICATE = (
    SCHOOL,
    Column("teacher_id", ("教师编号", "工号", "teacher_id")),
    Column("teacher_hash", ("教师哈希", "teacher_hash")),
    Column("issued_on", ("发证日期", "issued_on")),
    Column("expires_on", ("有效期至", "expires_on")),
)
HALL_VISIT = (
    SCHOOL,
    Column("class_name", ("班级", "class", "class_name")),
    Column("visited_on", ("参观日期", "日期", "date", "visited_on")),
    Column("headcount", ("人数", "headcount")),
    Column("hall_id", ("体验馆", "体验馆编号", "hall", "hall_id")),
)
ALARM_TEST = (
    SCHOOL,
    Column("tested_on", ("测试日期", "tested_on")),
    Column("device_id", ("设备", "设备编号", "device", "device_id")),
    Column("received", ("公安接警", "received")),
    Column("arrival_minutes", ("到达分钟", "出警到达分钟", "arrival_minutes")),
)


def match(forms: tuple[Form, ...], headers: list[object]) -> tuple[Form, dict[int, str]] | None:
    """The form whose required columns all appear (a certificate also needs a teacher column); else None."""
    for form in forms:
        fields: dict[int, str] = {}
        for index, header in enumerate(headers):
            field = form.field_of(header)
            if field is not None and field not in fields.values():
                fields[index] = field
        present = set(fields.values())
        if form.name == "certificate" and not present & {"teacher_id", "teacher_hash"}:
            continue
        if form.name == "milestone" and not present & {"district_id", "school_id"}:
            continue
        if set(form.required) <= present:
            return form, fields
    return None
