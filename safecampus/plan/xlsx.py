"""The certification scorecard and the plan's progress report as workbooks (numbers as numbers, a bar chart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.worksheet import Worksheet

from safecampus.pipelines.certification.scorecard import Certification
from safecampus.plan.report import PlanReport

HEAD = PatternFill("solid", fgColor="E6EEF7")


def _sheet(book: Workbook, title: str, names: tuple[str, ...], rows: list[list[Any]], first: bool = False) -> Worksheet:
    sheet: Worksheet = book.active if first else book.create_sheet()  # type: ignore[assignment]
    sheet.title = title
    sheet.append(list(names))
    for cell in sheet[1]:
        cell.font, cell.fill = Font(bold=True), HEAD
    for row in rows:
        sheet.append(row)
    for column in sheet.columns:
        letter = column[0].column_letter  # type: ignore[union-attr]
        sheet.column_dimensions[letter].width = min(60, max(8, *(len(str(c.value or "")) * 1.6 for c in column)))
    return sheet


def _bars(sheet: Worksheet, title: str, column: int, rows: int, anchor: str) -> None:
    chart = BarChart()
    chart.title, chart.y_axis.title = title, "%" if column else ""
    chart.add_data(Reference(sheet, min_col=column, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=2, min_row=2, max_row=rows + 1))
    chart.width, chart.height = 22, 9
    sheet.add_chart(chart, anchor)


def certification_xlsx(cert: Certification, path: Path) -> None:
    book = Workbook()
    counties = [[n, c.name, c.score, "达标" if c.passed else "未达标", "；".join(r.text() for r in c.missing)]
                for n, c in enumerate(cert.counties, 1)]  # fmt: skip
    sheet = _sheet(book, "区县得分", ("排名", "区县", "得分", "结论", "达标还差"), counties, first=True)
    _bars(sheet, "各区县创建得分", 3, len(counties), "G2")
    rows = [[c.name, r.indicator.group, r.indicator.name, r.value, r.threshold,
             {True: "达标", False: "未达标", None: "无数据"}[r.passed], r.indicator.weight, "、".join(r.subjects)]
            for c in (cert.city, *cert.counties) for r in c.results]  # fmt: skip
    _sheet(book, "指标", ("区县", "类别", "指标", "数值", "要求", "结论", "权重", "未达标对象"), rows)
    schools = [[s.id, s.score, "达标" if s.passed else "未达标", "、".join(r.indicator.name for r in s.missing)]
               for s in cert.schools]  # fmt: skip
    _sheet(book, "学校", ("学校", "得分", "结论", "未达标指标"), schools)
    book.save(path)


def plan_xlsx(report: PlanReport, path: Path) -> None:
    book = Workbook()
    rows = [[n, s.target.name, s.target.lead, "、".join(s.target.responsible), s.target.number, s.target.unit,
             round(s.done, 2), round(s.percent, 1), s.total.in_progress, s.total.late, s.target.deadline,
             round(s.forecast, 2), s.reaches_on, s.verdict, s.target.source]
            for n, s in enumerate(report.statuses, 1)]  # fmt: skip
    names = ("序号", "目标", "牵头单位", "责任单位", "目标数", "单位", "完成", "完成率%", "推进中", "滞后", "期限",
             "期限时预测", "预计完成日期", "结论", "计量来源")  # fmt: skip
    sheet = _sheet(book, f"目标进度 {report.as_of}", names, rows, first=True)
    _bars(sheet, "各目标完成率（%）", 8, len(rows), "B15")
    districts = sorted(report.district_names.items())
    by_county = [[report.district_names.get(d, d), s.target.name, t.done, t.goal, t.percent, t.in_progress, t.late]
                 for s in report.statuses for d, _ in districts if (t := s.by_district.get(d))]  # fmt: skip
    _sheet(book, "各区县", ("区县", "目标", "完成", "目标数", "完成率%", "推进中", "滞后"), by_county)
    late = [[s.target.name, report.district_names.get(i.district or "", i.district or ""), i.id, i.note]
            for s in report.statuses for i in s.late_items]  # fmt: skip
    _sheet(book, "滞后事项", ("目标", "区县", "事项", "情况"), late)
    book.save(path)
