"""The remediation ledger as an XLSX workbook: a summary sheet, one ledger sheet per district, a chart sheet."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Font, PatternFill

from safecampus.fire.html import CATEGORY_NAMES, status_of
from safecampus.fire.report import FireReport
from safecampus.schemas.common import SEVERITY_NAMES, local_text

SUMMARY = ("排名", "区", "机构数", "合规率", "未销号隐患", "逾期未整改", "平均整改天数", "平均确认天数")
LEDGER = ("隐患编号", "检查项", "类别", "机构", "机构编号", "等级", "重大隐患", "部位", "发现时间", "整改期限",
          "整改完成", "确认销号", "确认人角色", "逾期天数", "状态")  # fmt: skip
HEADER_FILL = PatternFill("solid", fgColor="F3E5E3")


def _head(sheet: object, names: tuple[str, ...]) -> None:
    sheet.append(list(names))  # type: ignore[attr-defined]
    for cell in sheet[1]:  # type: ignore[index]
        cell.font, cell.fill = Font(bold=True), HEADER_FILL


def write_xlsx(report: FireReport, path: Path) -> None:
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "各区合规情况"
    summary.append([f"托育机构消防安全整改台账，截至 {local_text(report.as_of)}"])
    _head_row = 2
    summary.append(list(SUMMARY))
    for cell in summary[_head_row]:
        cell.font, cell.fill = Font(bold=True), HEADER_FILL
    for n, d in enumerate(report.ranked, start=1):
        rate = d.compliance_rate
        summary.append(
            [n, d.name, len(d.ledgers), round(rate, 4) if rate is not None else None, d.open_findings,
             d.overdue_findings, d.mean_days("rectify"), d.mean_days("confirm")]
        )  # fmt: skip
        summary.cell(row=summary.max_row, column=4).number_format = "0.0%"
    for d in report.ranked:
        sheet = book.create_sheet(f"{d.name}台账"[:31])
        _head(sheet, LEDGER)
        for r in d.rows:
            sheet.append(
                [r.finding_id, f"{r.item_code} {r.item_name}", CATEGORY_NAMES.get(r.category, r.category),
                 d.names.get(r.institution_id, r.institution_id), r.institution_id,
                 SEVERITY_NAMES[r.severity].split()[0],
                 "是" if r.major else "否", r.area or "", local_text(r.found_at),
                 r.deadline.isoformat() if r.deadline else "未定",
                 local_text(r.rectified_at) if r.rectified_at else "",
                 local_text(r.confirmed_at) if r.confirmed_at else "",
                 r.confirmed_by or "", r.days_overdue, status_of(r)]
            )  # fmt: skip
        sheet.freeze_panes = "A2"
    days = book.create_sheet("未销号隐患变化")
    _head(days, ("日期", "未销号隐患"))
    for day, n in report.open_by_day:
        days.append([day.isoformat(), n])
    if report.open_by_day:
        line = LineChart()
        line.title, line.y_axis.title, line.x_axis.title = "未销号隐患数量变化", "隐患数", "日期"
        line.add_data(Reference(days, min_col=2, min_row=1, max_row=days.max_row), titles_from_data=True)
        line.set_categories(Reference(days, min_col=1, min_row=2, max_row=days.max_row))
        line.width, line.height = 24, 10
        days.add_chart(line, "D2")
    book.save(path)
