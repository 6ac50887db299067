"""The forms a canteen keeps, column by column: the ledger, satisfaction surveys, supplier ratings, disclosures.

A header may be written in Chinese or English (`金额`, `金额（元）`, `amount`, `amount_cny`); each form
names its columns with every spelling we accept, and turns one row of cells into the fields of its
normalized record (`schemas/canteen.py`, `schemas/canteen_forms.py`). A cell that cannot be read raises
`RowError` naming the column as the file wrote it.

| form | required columns | record |
|---|---|---|
| ledger | 日期 date, 类别 category, 金额 amount (食堂 canteen unless `--canteen`) | `CanteenLedgerEntry` |
| survey | 学期 semester, 调查对象 respondents, 调查日期 surveyed_on, 满意度 satisfaction | `CanteenSurvey` |
| supplier rating | 供应商 supplier, 学期 semester, 评价日期 rated_on, 评分 score | `SupplierRating` |
| disclosure | 月份 month, 公示时间 published_at | `CanteenDisclosure` |
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from safecampus.connectors.canteen.values import (
    CellError,
    is_blank,
    parse_amount,
    parse_count,
    parse_date,
    parse_moment,
    parse_month,
)
from safecampus.schemas.canteen_forms import CATEGORY_NAMES, INCOME_CATEGORIES, parse_semester
from safecampus.schemas.common import SHANGHAI


class RowError(ValueError):
    """A row we cannot use: `column` as the file wrote it (or None for the whole row), and why."""

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column


@dataclass(frozen=True)
class Column:
    field: str
    names: tuple[str, ...]  # Chinese first, then English spellings; compared after `header_key`


def header_key(text: object) -> str:
    """A header cell as compared: full-width folded, unit suffixes like （元） and required marks dropped."""
    key = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    key = re.sub(r"\((?:元|cny|rmb|¥|人|个)\)$", "", key).strip("*＊ ").replace(" ", "").replace("-", "_")
    return key


@dataclass(frozen=True)
class Form:
    name: str  # ledger, survey, supplier_rating, disclosure
    title: str  # what a person calls it
    columns: tuple[Column, ...]
    required: tuple[str, ...]  # fields that must have a column (canteen may come from --canteen)
    build: Callable[[dict[str, Any], RowContext], dict[str, Any]]

    def field_of(self, header: object) -> str | None:
        key = header_key(header)
        for column in self.columns:
            if key in {header_key(n) for n in column.names}:
                return column.field
        return None


@dataclass(frozen=True)
class RowContext:
    """What a row's record takes from outside the row: the file, the row number, a default canteen."""

    file: str
    row: int
    canteen: str | None
    headers: dict[str, str]  # field → the header as written, for reasons

    def column(self, field: str) -> str:
        return self.headers.get(field, field)


def _cell(cells: dict[str, Any], ctx: RowContext, field: str, parse: Callable[[Any, str], Any]) -> Any:
    value = cells.get(field)
    if is_blank(value):
        return None
    try:
        return parse(value, ctx.column(field))
    except CellError as exc:
        raise RowError(ctx.column(field), str(exc)) from None


def text_cell(cells: dict[str, Any], ctx: RowContext, field: str, limit: int = 64) -> str | None:
    """A text cell, NFKC-normalized and stripped (a spreadsheet's 20261001.0 read as 20261001); None if blank."""
    value = cells.get(field)
    if is_blank(value):
        return None
    text = str(value)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = text.strip()
    if isinstance(value, float) and value.is_integer():  # a spreadsheet's 20261001.0 for an invoice number
        text = str(int(value))
    if len(text) > limit:
        raise RowError(ctx.column(field), f"{ctx.column(field)} 超过{limit}个字符 is longer than {limit} characters")
    return text


def need_cell(value: Any, ctx: RowContext, field: str) -> Any:
    """`value`, or a RowError naming the empty column."""
    if value is None:
        raise RowError(ctx.column(field), f"{ctx.column(field)} 为空 is empty")
    return value


def _canteen(cells: dict[str, Any], ctx: RowContext) -> str:
    canteen = text_cell(cells, ctx, "canteen_id", 32) or ctx.canteen
    if canteen is None:
        raise RowError(ctx.column("canteen_id"), "没有食堂编号 no canteen id: add a 食堂 column or pass --canteen ID")
    if ctx.canteen and canteen != ctx.canteen:
        raise RowError(
            ctx.column("canteen_id"), f"食堂 {canteen} 与 --canteen {ctx.canteen} 不一致 is not the canteen named"
        )
    return canteen


def _category(cells: dict[str, Any], ctx: RowContext) -> str:
    raw = need_cell(text_cell(cells, ctx, "category", 20), ctx, "category")
    code = CATEGORY_NAMES.get(raw) or (raw.lower() if raw.lower() in CATEGORY_NAMES.values() else None)
    if code is None:
        names = "、".join(CATEGORY_NAMES)
        raise RowError(ctx.column("category"), f"类别「{raw}」不认识 unknown category; use one of {names}")
    return code


def _end_of_day(day: Any) -> datetime:
    return datetime.combine(day, time(23, 59, 59), SHANGHAI)


def _positive(value: Decimal | None, ctx: RowContext, field: str, places: int) -> str | None:
    if value is None:
        return None
    if value <= 0:
        raise RowError(ctx.column(field), f"{ctx.column(field)} 必须大于0 must be more than 0 (got {value})")
    if -value.as_tuple().exponent > places:  # type: ignore[operator]
        raise RowError(ctx.column(field), f"{ctx.column(field)} 最多{places}位小数 has more than {places} decimals")
    return str(value)


def build_ledger(cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    booked = need_cell(_cell(cells, ctx, "booked_on", parse_date), ctx, "booked_on")
    canteen = _canteen(cells, ctx)
    category = _category(cells, ctx)
    amount = need_cell(_cell(cells, ctx, "amount_cny", parse_amount), ctx, "amount_cny")
    if amount <= 0:
        raise RowError(ctx.column("amount_cny"), f"{ctx.column('amount_cny')} 必须大于0 must be more than 0")
    if amount != amount.quantize(Decimal("0.01")):
        raise RowError(ctx.column("amount_cny"), f"{ctx.column('amount_cny')} 精确到分 has more than 2 decimals")
    recorded = _cell(cells, ctx, "recorded_at", parse_moment) or _end_of_day(booked)
    entry_id = text_cell(cells, ctx, "entry_id", 64) or f"{canteen}-{booked:%Y%m%d}-R{ctx.row}"
    fields: dict[str, Any] = {
        "entry_id": entry_id,
        "canteen_id": canteen,
        "booked_on": booked.isoformat(),
        "direction": "income" if category in INCOME_CATEGORIES else "expense",
        "category": category,
        "amount_cny": f"{amount:.2f}",
        "supplier_id": text_cell(cells, ctx, "supplier_id", 32),
        "invoice_no": text_cell(cells, ctx, "invoice_no", 40),
        "item": text_cell(cells, ctx, "item", 40),
        "unit": text_cell(cells, ctx, "unit", 8),
        "quantity": _positive(_cell(cells, ctx, "quantity", parse_amount), ctx, "quantity", 3),
        "unit_price_cny": _positive(_cell(cells, ctx, "unit_price_cny", parse_amount), ctx, "unit_price_cny", 4),
        "accepted_by_count": _cell(cells, ctx, "accepted_by_count", parse_count),
        "recorded_at": recorded.isoformat(),
        "source_file": ctx.file[-80:],
        "source_row": ctx.row,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _number(value: object, what: str) -> Decimal:
    return parse_amount(value, what, ("数字", "a number"))


def _score(cells: dict[str, Any], ctx: RowContext, field: str) -> str:
    """A score out of 100: `92`, `92分`, `92%`, or a share `0.92`."""
    raw = cells.get(field)
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip().removesuffix("分")
    share = text.endswith("%")
    value = need_cell(_cell({field: text.removesuffix("%")}, ctx, field, _number), ctx, field)
    if not share and value <= 1 and "." in text:
        value *= 100
    if not 0 <= value <= 100:
        raise RowError(ctx.column(field), f"{ctx.column(field)} 应在0–100之间 must be between 0 and 100 (got {raw!r})")
    return f"{value.quantize(Decimal('0.1'))}"


def _semester(cells: dict[str, Any], ctx: RowContext) -> str:
    raw = need_cell(text_cell(cells, ctx, "semester", 24), ctx, "semester")
    try:
        return parse_semester(raw)
    except ValueError as exc:
        raise RowError(ctx.column("semester"), str(exc)) from None


def build_survey(cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    canteen, semester = _canteen(cells, ctx), _semester(cells, ctx)
    raw = need_cell(text_cell(cells, ctx, "respondents", 12), ctx, "respondents")
    respondents = {"家长": "parents", "学生": "students", "parents": "parents", "students": "students"}.get(raw)
    if respondents is None:
        raise RowError(ctx.column("respondents"), f"调查对象「{raw}」应为 家长 或 学生 must be parents or students")
    surveyed = need_cell(_cell(cells, ctx, "surveyed_on", parse_date), ctx, "surveyed_on")
    return {
        "survey_id": f"{canteen}-{semester}-{respondents}",
        "canteen_id": canteen,
        "semester": semester,
        "respondents": respondents,
        "responses": _cell(cells, ctx, "responses", parse_count),
        "satisfaction": _score(cells, ctx, "satisfaction"),
        "surveyed_on": surveyed.isoformat(),
        "recorded_at": _end_of_day(surveyed).isoformat(),
    }


def build_rating(cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    canteen, semester = _canteen(cells, ctx), _semester(cells, ctx)
    supplier = need_cell(text_cell(cells, ctx, "supplier_id", 32), ctx, "supplier_id")
    rated = need_cell(_cell(cells, ctx, "rated_on", parse_date), ctx, "rated_on")
    return {
        "canteen_id": canteen,
        "supplier_id": supplier,
        "semester": semester,
        "score": _score(cells, ctx, "score"),
        "rated_on": rated.isoformat(),
        "recorded_at": _end_of_day(rated).isoformat(),
    }


def build_disclosure(cells: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    month = need_cell(_cell(cells, ctx, "month", parse_month), ctx, "month")
    published = need_cell(_cell(cells, ctx, "published_at", parse_moment), ctx, "published_at")
    return {
        "canteen_id": _canteen(cells, ctx),
        "month": month,
        "published_at": published.isoformat(),
        "channel": text_cell(cells, ctx, "channel", 40),
    }


CANTEEN = Column("canteen_id", ("食堂", "食堂编号", "canteen", "canteen_id"))
SEMESTER = Column("semester", ("学期", "semester"))
LEDGER = Form(
    "ledger",
    "食堂收支明细账 canteen ledger",
    (
        Column("booked_on", ("日期", "记账日期", "date", "booked_on")),
        CANTEEN,
        Column("entry_id", ("凭证号", "凭证编号", "entry_id", "voucher")),
        Column("category", ("类别", "科目", "category")),
        Column("item", ("品名", "摘要", "item")),
        Column("quantity", ("数量", "quantity")),
        Column("unit", ("单位", "unit")),
        Column("unit_price_cny", ("单价", "unit_price", "unit_price_cny")),
        Column("amount_cny", ("金额", "amount", "amount_cny")),
        Column("supplier_id", ("供应商", "供应商编号", "supplier", "supplier_id")),
        Column("invoice_no", ("发票号", "发票号码", "invoice_no", "invoice")),
        Column("accepted_by_count", ("验收人数", "accepted_by_count", "checkers")),
        Column("recorded_at", ("录入时间", "recorded_at")),
    ),
    ("booked_on", "category", "amount_cny"),
    build_ledger,
)
SURVEY = Form(
    "survey",
    "满意度调查 satisfaction survey",
    (
        CANTEEN,
        SEMESTER,
        Column("respondents", ("调查对象", "respondents")),
        Column("surveyed_on", ("调查日期", "surveyed_on", "date")),
        Column("responses", ("样本数", "有效问卷", "responses")),
        Column("satisfaction", ("满意度", "satisfaction")),
    ),
    ("semester", "respondents", "satisfaction", "surveyed_on"),
    build_survey,
)
RATING = Form(
    "supplier_rating",
    "供应商评价 supplier rating",
    (
        CANTEEN,
        Column("supplier_id", ("供应商", "供应商编号", "supplier", "supplier_id")),
        SEMESTER,
        Column("rated_on", ("评价日期", "rated_on", "date")),
        Column("score", ("评分", "score")),
    ),
    ("supplier_id", "semester", "score", "rated_on"),
    build_rating,
)
DISCLOSURE = Form(
    "disclosure",
    "月度公示 monthly disclosure",
    (
        CANTEEN,
        Column("month", ("月份", "公示月份", "month")),
        Column("published_at", ("公示时间", "公示日期", "published_at")),
        Column("channel", ("公示渠道", "channel")),
    ),
    ("month", "published_at"),
    build_disclosure,
)
FORMS: tuple[Form, ...] = (LEDGER, SURVEY, RATING, DISCLOSURE)


def match_form(headers: list[object]) -> tuple[Form, dict[int, str]] | None:
    """The form whose required columns all appear in `headers`, with column index → field; else None."""
    for form in FORMS:
        fields: dict[int, str] = {}
        for index, header in enumerate(headers):
            field = form.field_of(header)
            if field is not None and field not in fields.values():
                fields[index] = field
        if set(form.required) <= set(fields.values()):
            return form, fields
    return None
