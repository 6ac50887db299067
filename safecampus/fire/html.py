"""The remediation ledger as one self-contained HTML page: summary, open findings over time (inline SVG), ledger.

No scripts, no external fonts or styles: it opens from a file, prints to PDF, and reads the same in
any browser (tests/safecampus/fire/test_fire_report.py opens it in headless Chromium).
"""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment

from safecampus.fire.report import DistrictReport, FireReport
from safecampus.schemas.common import SEVERITY_NAMES, local_text
from safecampus.schemas.fire import FireLedgerRow

CATEGORY_NAMES = {
    "location": "设置场所",
    "separation": "防火分隔",
    "exits": "安全疏散",
    "materials": "装修材料",
    "ebike": "电动自行车",
    "facilities": "消防设施",
    "extinguishers": "灭火器",
    "electrical": "用电安全",
    "fire_use": "用火用气",
    "video": "视频监控",
    "management": "消防安全管理",
    "other": "其他",
}

PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>托育机构消防安全整改台账</title>
<style>
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif; margin: 24px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 2px solid #c0392b; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #bbb; padding: 4px 6px; text-align: left; } th { background: #f3e5e3; }
td.n { text-align: right; } tr.overdue td { background: #fdecea; } .muted { color: #777; }
@media print { h2 { page-break-before: auto; } tr { page-break-inside: avoid; } }
</style></head><body>
<h1>托育机构消防安全整改台账</h1>
<p>截至 {{ as_of }}，依据《托育机构消防安全指南(试行)》(2022)。检查人、确认人只记角色，不含个人信息。</p>
<h2>各区合规情况（按合规率排序）</h2>
<table id="summary"><tr><th>排名</th><th>区</th><th>机构数</th><th>合规率</th><th>未销号隐患</th><th>逾期未整改</th>
<th>平均整改天数</th><th>平均确认天数</th></tr>
{% for d in districts %}<tr><td class="n">{{ loop.index }}</td><td>{{ d.name }}</td>
<td class="n">{{ d.institutions }}</td><td class="n">{{ d.rate }}</td><td class="n">{{ d.open }}</td>
<td class="n">{{ d.overdue }}</td>
<td class="n">{{ d.rectify }}</td><td class="n">{{ d.confirm }}</td></tr>
{% endfor %}</table>
<h2>未销号隐患数量变化</h2>
<svg id="open-chart" xmlns="http://www.w3.org/2000/svg" width="{{ chart.width }}" height="{{ chart.height }}"
 role="img" aria-label="未销号隐患数量变化">
<rect x="0" y="0" width="{{ chart.width }}" height="{{ chart.height }}" fill="#fff"/>
<line x1="50" y1="{{ chart.bottom }}" x2="{{ chart.right }}" y2="{{ chart.bottom }}" stroke="#444"/>
<line x1="50" y1="20" x2="50" y2="{{ chart.bottom }}" stroke="#444"/>
{% for y, label in chart.yticks %}<text x="44" y="{{ y + 4 }}" font-size="11" text-anchor="end">{{ label }}</text>
<line x1="50" y1="{{ y }}" x2="{{ chart.right }}" y2="{{ y }}" stroke="#eee"/>{% endfor %}
{% for x, label in chart.xticks %}<text x="{{ x }}" y="{{ chart.bottom + 16 }}" font-size="11"
 text-anchor="middle">{{ label }}</text>{% endfor %}
<polyline fill="none" stroke="#c0392b" stroke-width="2" points="{{ chart.points }}"/>
</svg>
{% for d in ledgers %}
<h2>{{ d.name }} 整改台账</h2>
{% if d.rows %}<table class="ledger"><tr><th>隐患</th><th>机构</th><th>等级</th><th>发现时间</th><th>整改期限</th>
<th>整改完成</th><th>确认销号</th><th>逾期天数</th><th>状态</th></tr>
{% for r in d.rows %}<tr class="{{ 'overdue' if r.overdue else '' }}"><td>{{ r.item }}</td><td>{{ r.institution }}</td>
<td>{{ r.severity }}</td><td>{{ r.found }}</td><td>{{ r.deadline }}</td><td>{{ r.rectified }}</td>
<td>{{ r.confirmed }}</td>
<td class="n">{{ r.days_overdue }}</td><td>{{ r.status }}</td></tr>
{% endfor %}</table>{% else %}<p class="muted">无隐患记录。</p>{% endif %}
{% endfor %}
</body></html>
"""


def status_of(row: FireLedgerRow) -> str:
    if row.closed_how == "confirmed":
        return "已整改，已确认销号"
    if row.closed_how == "compliant":
        return "复查合格"
    if row.closed_how == "on_the_spot":
        return "当场整改"
    if row.rectified_at is not None:
        return "已整改，待确认销号"
    if row.days_overdue > 0:
        return "逾期未整改"
    return "整改中" + ("（区域停用）" if row.major else "")


def _when(moment: datetime | None) -> str:
    return local_text(moment)[:16] if moment else "—"


def _rows(d: DistrictReport) -> list[dict[str, object]]:
    return [
        {
            "item": f"{r.item_code} {r.item_name}（{CATEGORY_NAMES.get(r.category, r.category)}）",
            "institution": f"{d.names.get(r.institution_id, r.institution_id)}（{r.institution_id}）",
            "severity": SEVERITY_NAMES[r.severity].split()[0] + ("·重大" if r.major else ""),
            "found": _when(r.found_at),
            "deadline": r.deadline.isoformat() if r.deadline else "未定",
            "rectified": _when(r.rectified_at),
            "confirmed": _when(r.confirmed_at),
            "days_overdue": r.days_overdue,
            "status": status_of(r),
            "overdue": r.closed_at is None and r.rectified_at is None and r.days_overdue > 0,
        }
        for r in d.rows
    ]


def _percent(rate: float | None) -> str:
    return f"{rate:.1%}" if rate is not None else "—"


def _days(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "—"


def chart(points: list[tuple[date, int]], width: int = 820, height: int = 260) -> dict[str, object]:
    """Coordinates of the open-findings line: x by day, y by count, with a few ticks."""
    right, bottom = width - 20, height - 30
    top = max((n for _, n in points), default=0) or 1
    span = max(len(points) - 1, 1)

    def xy(i: int, n: int) -> tuple[float, float]:
        return 50 + (right - 50) * i / span, bottom - (bottom - 20) * n / top

    coords = [xy(i, n) for i, (_, n) in enumerate(points)]
    step = max(1, len(points) // 8)
    return {
        "width": width,
        "height": height,
        "right": right,
        "bottom": bottom,
        "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in coords),
        "xticks": [(coords[i][0], points[i][0].strftime("%m-%d")) for i in range(0, len(points), step)],
        "yticks": [(bottom - (bottom - 20) * k / 4, f"{top * k / 4:.0f}") for k in range(5)],
    }


def render_html(report: FireReport) -> str:
    ranked = report.ranked
    summary = [
        {
            "name": d.name,
            "institutions": len(d.ledgers),
            "rate": _percent(d.compliance_rate),
            "open": d.open_findings,
            "overdue": d.overdue_findings,
            "rectify": _days(d.mean_days("rectify")),
            "confirm": _days(d.mean_days("confirm")),
        }
        for d in ranked
    ]
    ledgers = [{"name": d.name, "rows": _rows(d)} for d in ranked]
    template = Environment(autoescape=True).from_string(PAGE)
    return template.render(
        as_of=local_text(report.as_of), districts=summary, ledgers=ledgers, chart=chart(report.open_by_day)
    )
