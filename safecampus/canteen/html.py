"""The canteen's pages in Simplified Chinese, each one self-contained HTML file (inline CSS and SVG, no scripts,
no external files) that opens offline and prints on A4:

- `disclosure_html`: the public monthly disclosure (income against cost, ingredient share over the last
  12 months as charts, satisfaction scores) — published months only;
- `audit_html`: the auditors' report of a month — the statement, every red flag with its evidence rows, and
  the canteen's ratings of its suppliers;
- `public_page_html`: a canteen's public page — its latest disclosures, the charts, the satisfaction scores.

The text uses the CJK fonts a reader's system has (Debian: `fonts-noto-cjk`).
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from safecampus.canteen.charts import COST, INCOME, SCORE, bars, line
from safecampus.canteen.data import INCOME_TITLES, RULE_TITLES, CanteenData, flag_view, statement_view
from safecampus.schemas.canteen_forms import CATEGORY_TITLES, semester_title
from safecampus.schemas.canteen_statement import MonthlyStatement
from safecampus.schemas.common import local_text

STYLE = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
       color: #222; max-width: 190mm; margin: 0 auto; font-size: 10.5pt; line-height: 1.5; }
h1 { font-size: 17pt; margin: 0 0 2mm; } h2 { font-size: 13pt; margin: 6mm 0 2mm; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; } td, th { border: 1px solid #bbb; padding: 1mm 2mm; }
th { background: #f2f2f2; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #555; } .flag { border-left: 3px solid #c0392b; padding-left: 3mm; margin: 3mm 0; page-break-inside: avoid; }
.status-reopened { color: #c0392b; font-weight: bold; } .chart { margin: 2mm 0; page-break-inside: avoid; }
.small { font-size: 8.5pt; } footer { margin-top: 8mm; color: #777; font-size: 8.5pt; }
"""

BASE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title><style>{{ style }}</style></head>
<body data-page="{{ page }}">
<h1>{{ title }}</h1>
<p class="meta">{{ name }}（{{ canteen }}）{% if district %} · {{ district }}{% endif %}</p>
{{ body }}
<footer>由 safecampus 生成于 {{ generated }}。金额单位：元。本页不含任何个人信息。</footer>
</body></html>"""

STATEMENT = """
<h2>{{ s.month }} 收支情况</h2>
{% if s.status == "reopened" %}<p class="status-reopened">本月公示后又补录 {{ late }} 笔账目，报表已重新打开，需重新公示。</p>{% endif %}
<table>
<tr><th>收入合计</th><td class="n" data-field="income_cny">{{ v.income_cny }}</td>
    <th>支出合计</th><td class="n" data-field="cost_cny">{{ v.cost_cny }}</td></tr>
<tr><th>结余</th><td class="n" data-field="surplus_cny">{{ v.surplus_cny }}</td>
    <th>结余率</th><td class="n" data-field="surplus_rate">{{ pct(s.surplus_rate) }}</td></tr>
<tr><th>伙食费用于食材的比例</th><td class="n" data-field="ingredient_share">{{ pct(s.ingredient_share) }}</td>
    <th>累计结余（结转）</th><td class="n">{{ v.carried_surplus_cny }}</td></tr>
<tr><th>财政补助（核定）</th><td class="n">{{ v.subsidy_granted_cny }}</td>
    <th>财政补助（到账）</th><td class="n">{{ v.subsidy_received_cny }}</td></tr>
<tr><th>就餐人次</th><td class="n">{{ s.meals_served }}</td><th>状态</th><td>{{ status }}</td></tr>
</table>
<table><tr><th>收入来源</th><th>金额</th></tr>
{% for k, amount in s.income_by_source.items() %}<tr><td>{{ income_titles.get(k, k) }}</td><td class="n">{{ amount }}</td></tr>{% endfor %}
</table>
<table><tr><th>支出类别</th><th>金额</th></tr>
{% for k, amount in s.cost_by_category.items() %}<tr><td>{{ titles.get(k, k) }}</td><td class="n">{{ amount }}</td></tr>{% endfor %}
</table>
{% if s.kitchen_id %}<p class="small">含中央厨房 {{ s.kitchen_id }} 按就餐人次分摊的成本 {{ v.kitchen_cost_cny }} 元。</p>{% endif %}
"""

CHARTS = """
<h2>近12个月收支与食材占比</h2>
{{ income_chart }}
{{ share_chart }}
"""

SURVEYS = """
<h2>满意度调查</h2>
{% if surveys %}{{ survey_chart }}
<table><tr><th>学期</th><th>调查对象</th><th>满意度</th><th>有效问卷</th></tr>
{% for x in surveys %}<tr><td>{{ semester(x.semester) }}</td><td>{{ who[x.respondents] }}</td>
<td class="n">{{ "%.1f"|format(x.satisfaction) }}%</td><td class="n">{{ x.responses or "" }}</td></tr>{% endfor %}</table>
{% else %}<p>暂无满意度调查结果。</p>{% endif %}
"""

FLAGS = """
<h2>风险提示（{{ flags|length }} 项）</h2>
{% for f in flags %}<div class="flag" data-rule="{{ f.rule }}">
<b>{{ f.rule_title }}</b>（{{ f.rule }}，{{ f.severity }}）：{{ f.title }}<br><span class="small">{{ f.detail }}</span>
{% set rows = f.evidence|selectattr("entry_id", "defined")|list %}
{% if rows %}<table class="small"><tr><th>凭证号</th><th>日期</th><th>类别</th><th>品名</th><th>供应商</th><th>发票号</th><th>单价</th><th>金额</th><th>来源</th></tr>
{% for r in rows %}<tr class="evidence"><td>{{ r.entry_id }}</td><td>{{ r.booked_on }}</td><td>{{ titles.get(r.category, r.category) }}</td>
<td>{{ r.item or "" }}</td><td>{{ r.supplier_id or "" }}</td><td>{{ r.invoice_no or "" }}</td><td class="n">{{ r.unit_price_cny or "" }}</td>
<td class="n">{{ r.amount_cny }}</td><td>{{ r.source_file or "" }}{% if r.source_row %} 第{{ r.source_row }}行{% endif %}</td></tr>{% endfor %}
</table>{% endif %}</div>{% else %}<p>本月没有风险提示。</p>{% endfor %}
"""

RATINGS = """
<h2>供应商评价（双向评价）</h2>
{% if ratings %}<table><tr><th>学期</th><th>供应商</th><th>评分</th></tr>
{% for x in ratings %}<tr class="rating"><td>{{ semester(x.semester) }}</td><td>{{ x.supplier_id }}</td><td class="n">{{ "%.1f"|format(x.score) }}</td></tr>{% endfor %}</table>
{% else %}<p>暂无供应商评价。</p>{% endif %}
"""

PUBLISHED = """
<h2>已公示的月度收支</h2>
{% if rows %}<table><tr><th>月份</th><th>收入</th><th>支出</th><th>结余率</th><th>食材占伙食费</th><th>公示时间</th></tr>
{% for s in rows %}<tr><td>{{ s.month }}</td><td class="n">{{ s.income_cny }}</td><td class="n">{{ s.cost_cny }}</td>
<td class="n">{{ pct(s.surplus_rate) }}</td><td class="n">{{ pct(s.ingredient_share) }}</td>
<td>{{ shown(s.published_at) }}</td></tr>{% endfor %}</table>{% else %}<p>尚无已公示的月份。</p>{% endif %}
"""

_env = Environment(autoescape=True)
STATUS = {"draft": "未公示", "published": "已公示", "reopened": "公示后重新打开"}
WHO = {"parents": "家长", "students": "学生"}


def _pct(value: object) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def _render(template: str, **context: Any) -> str:
    helpers = {"pct": _pct, "titles": CATEGORY_TITLES, "income_titles": INCOME_TITLES, "semester": semester_title,
               "who": WHO, "shown": lambda t: local_text(t) if t else "", "rule_titles": RULE_TITLES}  # fmt: skip
    return _env.from_string(template).render(**helpers, **context)


def _page(data: CanteenData, canteen: str, title: str, page: str, body: str) -> str:
    from markupsafe import Markup

    return _render(BASE, title=title, style=Markup(STYLE), page=page, canteen=canteen,
                   name=data.canteen_name(canteen), district=data.district_name(canteen), body=Markup(body),
                   generated=local_text(data.loaded_at))  # fmt: skip


def _charts(history: list[MonthlyStatement]) -> str:
    from markupsafe import Markup

    labels = [s.month[2:] for s in history]
    income = bars("income_cost", "近12个月收入与支出（元）", labels,
                  [("收入", INCOME, [float(s.income_cny) for s in history]),
                   ("支出", COST, [float(s.cost_cny) for s in history])])  # fmt: skip
    shares = [None if s.ingredient_share is None else float(s.ingredient_share) * 100 for s in history]
    share = line("ingredient_share", "伙食费用于食材的比例（%）", labels, "食材占伙食费", shares)
    return _render(CHARTS, income_chart=Markup(income), share_chart=Markup(share))


def _surveys(data: CanteenData, canteen: str) -> str:
    from markupsafe import Markup

    rows = data.surveys(canteen)
    labels = [f"{semester_title(x['semester'])[:9]}{WHO[x['respondents']]}" for x in rows]
    chart = bars("satisfaction", "满意度（%）", labels, [("满意度", SCORE, [x["satisfaction"] for x in rows])], "%")
    return _render(SURVEYS, surveys=rows, survey_chart=Markup(chart))


def _statement(data: CanteenData, s: MonthlyStatement, audience: str) -> str:
    view = statement_view(data, s, audience)  # type: ignore[arg-type]
    return _render(STATEMENT, s=s, v=view, late=len(s.late_entries), status=STATUS[s.status])


def disclosure_html(data: CanteenData, canteen: str, month: str) -> str:
    s = data.statement(canteen, month, "public")
    history = data.last_months(canteen, month, "public")
    body = _statement(data, s, "public") + _charts(history) + _surveys(data, canteen)
    return _page(data, canteen, f"{data.canteen_name(canteen)} {month} 收支公示", "disclosure", body)


def audit_html(data: CanteenData, canteen: str, month: str) -> str:
    s = data.statement(canteen, month, "auditor")
    flags = [flag_view(a, "auditor") for a in data.red_flags(canteen, month)]
    history = data.last_months(canteen, month, "auditor")
    body = _statement(data, s, "auditor") + _render(FLAGS, flags=flags) + _charts(history)
    body += _render(RATINGS, ratings=data.ratings(canteen))
    return _page(data, canteen, f"{data.canteen_name(canteen)} {month} 审计报告", "audit", body)


def public_page_html(data: CanteenData, canteen: str) -> str:
    published = data.statements(canteen, "public")
    body = _render(PUBLISHED, rows=list(reversed(published[-12:])))
    if published:
        body += _statement(data, published[-1], "public") + _charts(published[-12:])
    body += _surveys(data, canteen)
    return _page(data, canteen, f"{data.canteen_name(canteen)} 收支公开", "public", body)
