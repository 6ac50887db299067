"""The canteen reports as files: JSON (for other tools), CSV, XLSX (one sheet per section, real numbers with
number formats), HTML (`html.py`), and the open data: the published statements as one CSV with a
frictionless Table Schema describing every column, in a data package (`datapackage.json`).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from safecampus.canteen.data import INCOME_TITLES, Audience, CanteenData, flag_view, statement_view
from safecampus.canteen.html import audit_html, disclosure_html
from safecampus.schemas.canteen_forms import CATEGORY_TITLES, INCOME_CATEGORIES

FORMATS = ("html", "xlsx", "csv", "json")
MONEY, SHARE = "#,##0.00", "0.00%"


def report_json(data: CanteenData, canteen: str, month: str, audience: Audience) -> dict[str, Any]:
    return statement_view(data, data.statement(canteen, month, audience), audience)


def report_bytes(data: CanteenData, canteen: str, month: str, fmt: str, audience: Audience) -> bytes:
    """One canteen-month report in `fmt`; `NotFound` when the audience may not see that month."""
    if fmt == "json":
        return json.dumps(report_json(data, canteen, month, audience), ensure_ascii=False, indent=2).encode("utf-8")
    if fmt == "html":
        page = audit_html(data, canteen, month) if audience == "auditor" else disclosure_html(data, canteen, month)
        return page.encode("utf-8")
    if fmt == "csv":
        return _csv(report_json(data, canteen, month, audience))
    if fmt == "xlsx":
        return _xlsx(data, canteen, month, audience)
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def _lines(view: dict[str, Any]) -> list[tuple[str, str, Any]]:
    rows: list[tuple[str, str, Any]] = [
        ("汇总", "收入合计", view["income_cny"]),
        ("汇总", "支出合计", view["cost_cny"]),
        ("汇总", "结余", view["surplus_cny"]),
        ("汇总", "结余率", view["surplus_rate"]),
        ("汇总", "伙食费用于食材的比例", view["ingredient_share"]),
        ("汇总", "累计结余", view["carried_surplus_cny"]),
        ("汇总", "财政补助（核定）", view["subsidy_granted_cny"]),
        ("汇总", "财政补助（到账）", view["subsidy_received_cny"]),
        ("汇总", "就餐人次", view["meals_served"]),
    ]
    rows += [("收入", INCOME_TITLES.get(k, k), v) for k, v in view["income_by_source"].items()]
    rows += [("支出", CATEGORY_TITLES.get(k, k), v) for k, v in view["cost_by_category"].items()]
    rows += [("风险提示", f["rule_title"], f["title"]) for f in view["red_flags"]]
    return rows


def _csv(view: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["食堂 canteen", view["canteen"], "月份 month", view["month"], "状态 status", view["status"]])
    writer.writerow(["部分 section", "项目 item", "数值 value"])
    writer.writerows(_lines(view))
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese text correctly


def _number(value: Any) -> Any:
    return Decimal(value) if isinstance(value, str) and value.replace(".", "", 1).lstrip("-").isdigit() else value


def _xlsx(data: CanteenData, canteen: str, month: str, audience: Audience) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    view = report_json(data, canteen, month, audience)
    book = Workbook()
    summary = book.active
    summary.title = "收支汇总"
    summary.append(["项目", "数值"])
    for section, item, value in _lines(view):
        if section == "汇总":
            summary.append([item, _number(value)])
            cell = summary.cell(summary.max_row, 2)
            cell.number_format = SHARE if "比例" in item or "率" in item else ("0" if "人次" in item else MONEY)
    for title, key in (("收入", "income_by_source"), ("支出", "cost_by_category")):
        sheet = book.create_sheet(title)
        sheet.append(["类别", "代码", "金额（元）"])
        for code, amount in view[key].items():
            sheet.append([CATEGORY_TITLES.get(code, code), code, Decimal(amount)])
            sheet.cell(sheet.max_row, 3).number_format = MONEY
    history = book.create_sheet("近12个月")
    history.append(["月份", "收入", "支出", "结余", "结余率", "食材占伙食费", "状态"])
    for s in data.last_months(canteen, month, audience):
        history.append([s.month, s.income_cny, s.cost_cny, s.surplus_cny, s.surplus_rate, s.ingredient_share, s.status])
        for col, fmt in ((2, MONEY), (3, MONEY), (4, MONEY), (5, SHARE), (6, SHARE)):
            history.cell(history.max_row, col).number_format = fmt
    surveys = book.create_sheet("满意度")
    surveys.append(["学期", "调查对象", "满意度（%）", "有效问卷"])
    for x in data.surveys(canteen):
        surveys.append([x["semester"], x["respondents"], x["satisfaction"], x["responses"]])
    if audience == "auditor":
        ratings = book.create_sheet("供应商评价")
        ratings.append(["学期", "供应商", "评分"])
        for r in data.ratings(canteen):
            ratings.append([r["semester"], r["supplier_id"], r["score"]])
            ratings.cell(ratings.max_row, 3).number_format = "0.0"
    flags = book.create_sheet("风险提示")
    flags.append(["规则", "名称", "级别", "说明", "凭证号", "日期", "类别", "供应商", "发票号", "单价", "金额"])
    for alert in data.red_flags(canteen, month):
        f = flag_view(alert, audience)
        rows = [e for e in f["evidence"] if "entry_id" in e] or [{}]
        for r in rows:
            flags.append([f["rule"], f["rule_title"], f["severity"], f["title"], r.get("entry_id"), r.get("booked_on"),
                          r.get("category"), r.get("supplier_id"), r.get("invoice_no"),
                          _number(r.get("unit_price_cny")), _number(r.get("amount_cny"))])  # fmt: skip
            flags.cell(flags.max_row, 11).number_format = MONEY
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- open data ------------------------------------------------------------------------------------
_COST_KEYS = [k for k in CATEGORY_TITLES if k not in INCOME_CATEGORIES]
_INCOME_KEYS = [k for k in CATEGORY_TITLES if k in INCOME_CATEGORIES]
OPEN_FIELDS: list[dict[str, Any]] = [
    {"name": "canteen_id", "title": "食堂编号", "type": "string", "constraints": {"required": True}},
    {"name": "canteen_name", "title": "食堂名称", "type": "string"},
    {"name": "district", "title": "区（市）", "type": "string"},
    {"name": "kind", "title": "类型", "type": "string", "constraints": {"enum": ["canteen", "central_kitchen"]}},
    {"name": "month", "title": "月份", "type": "yearmonth", "constraints": {"required": True}},
    {"name": "income_cny", "title": "收入合计（元）", "type": "number"},
    *({"name": f"{k}_cny", "title": f"{CATEGORY_TITLES[k]}（元）", "type": "number"} for k in _INCOME_KEYS),
    {"name": "cost_cny", "title": "支出合计（元）", "type": "number"},
    *({"name": f"{k}_cny", "title": f"{CATEGORY_TITLES[k]}（元）", "type": "number"} for k in _COST_KEYS),
    {"name": "surplus_cny", "title": "结余（元）", "type": "number"},
    {"name": "surplus_rate", "title": "结余率", "type": "number", "description": "结余 / 收入"},
    {
        "name": "ingredient_share",
        "title": "伙食费用于食材的比例",
        "type": "number",
        "description": "食材支出 / 伙食费收入",
    },
    {"name": "carried_surplus_cny", "title": "累计结余（元）", "type": "number"},
    {"name": "subsidy_granted_cny", "title": "财政补助核定（元）", "type": "number"},
    {"name": "subsidy_received_cny", "title": "财政补助到账（元）", "type": "number"},
    {"name": "meals_served", "title": "就餐人次", "type": "integer", "constraints": {"minimum": 0}},
    {"name": "status", "title": "公示状态", "type": "string", "constraints": {"enum": ["published", "reopened"]}},
    {"name": "published_at", "title": "公示时间", "type": "datetime"},
]


def open_data_rows(data: CanteenData) -> list[dict[str, Any]]:
    """One row per published statement of every canteen (the public audience's view)."""
    rows = []
    for canteen in data.canteen_ids():
        for s in data.statements(canteen, "public"):
            amounts = {**s.income_by_source, **s.cost_by_category}
            row: dict[str, Any] = {
                "canteen_id": s.canteen_id, "canteen_name": data.canteen_name(s.canteen_id),
                "district": data.district_name(s.canteen_id), "kind": s.kind, "month": s.month,
                "income_cny": s.income_cny, "cost_cny": s.cost_cny, "surplus_cny": s.surplus_cny,
                "surplus_rate": s.surplus_rate, "ingredient_share": s.ingredient_share,
                "carried_surplus_cny": s.carried_surplus_cny, "subsidy_granted_cny": s.subsidy_granted_cny,
                "subsidy_received_cny": s.subsidy_received_cny, "meals_served": s.meals_served, "status": s.status,
                "published_at": s.published_at.strftime("%Y-%m-%dT%H:%M:%SZ") if s.published_at else None,
            }  # fmt: skip
            for key in CATEGORY_TITLES:
                row[f"{key}_cny"] = amounts.get(key, Decimal("0.00"))
            rows.append(row)
    return rows


def table_schema() -> dict[str, Any]:
    return {
        "$schema": "https://frictionlessdata.io/schemas/table-schema.json",
        "fields": OPEN_FIELDS,
        "primaryKey": ["canteen_id", "month"],
        "missingValues": [""],
    }


def open_data_csv(data: CanteenData) -> bytes:
    out = io.StringIO()
    names = [f["name"] for f in OPEN_FIELDS]
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in open_data_rows(data):
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in names})
    return out.getvalue().encode("utf-8")


def write_open_data(data: CanteenData, directory: Path) -> Path:
    """statements.csv, statements.schema.json and datapackage.json in `directory`; returns the package path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "statements.csv").write_bytes(open_data_csv(data))
    (directory / "statements.schema.json").write_text(json.dumps(table_schema(), ensure_ascii=False, indent=2), "utf-8")
    package = {
        "name": "safecampus-canteen-statements",
        "title": "学校食堂月度收支公示 School canteens' published monthly statements",
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "resources": [{"name": "statements", "path": "statements.csv", "format": "csv", "encoding": "utf-8",
                       "schema": "statements.schema.json"}],
    }  # fmt: skip
    path = directory / "datapackage.json"
    path.write_text(json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
