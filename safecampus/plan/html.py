"""The certification scorecard and the plan's progress report as self-contained A4 HTML pages.

No scripts, no external files: inline SVG charts from the canteen reports' chart helpers
(`safecampus.canteen.charts`, each bar with `data-value`), so a page opens from a file and prints
(tests/safecampus/plan/test_plan_browser.py opens both in headless Chromium).
"""

from __future__ import annotations

from jinja2 import Environment

from safecampus.canteen.charts import COST, INCOME, SHARE, bars
from safecampus.pipelines.certification.scorecard import Certification, Result
from safecampus.plan.report import PlanReport

STYLE = """<style>
@page { size: A4; margin: 14mm; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", sans-serif; margin: 0; font-size: 13px; }
h1 { font-size: 21px; } h2 { font-size: 17px; margin-top: 24px; border-bottom: 2px solid #2f6fb3; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; } th { background: #e6eef7; }
td.n { text-align: right; } tr.fail td { background: #fdecea; } .pass { color: #2e7d32; } .fail { color: #c0392b; }
.muted { color: #777; } ul { margin: 4px 0 4px 18px; padding: 0; }
@media print { tr { page-break-inside: avoid; } }
</style>"""

CERTIFICATION = (
    """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>平安校园创建评分</title>"""
    + STYLE
    + """</head><body>
<h1>省级高质量平安校园县（市、区）创建评分</h1>
<p>统计期：{{ period }}。达标线 {{ pass_score }} 分，且必备指标全部达标。全市得分 <b>{{ city.score }}</b>，
{{ certified }}/{{ counties|length }} 个区县达标。数据来自各业务系统的指标和进度记录，不含个人信息。</p>
{{ chart|safe }}
<h2>各区县得分（按得分排序）</h2>
<table id="counties"><tr><th>排名</th><th>区县</th><th>得分</th><th>结论</th><th>未达标指标</th></tr>
{% for c in counties %}<tr class="{{ '' if c.passed else 'fail' }}"><td class="n">{{ loop.index }}</td><td>{{ c.name }}</td>
<td class="n">{{ c.score }}</td><td class="{{ 'pass' if c.passed else 'fail' }}">{{ '达标' if c.passed else '未达标' }}</td>
<td>{{ c.missing|length }}</td></tr>
{% endfor %}</table>
{% for c in counties %}<h2>{{ c.name }}：{{ c.score }} 分（{{ '达标' if c.passed else '未达标' }}）</h2>
{% if c.missing %}<p><b>达标还差：</b></p><ul class="missing">{% for r in c.missing %}<li>{{ r.text() }}</li>{% endfor %}</ul>{% endif %}
<table class="indicators"><tr><th>类别</th><th>指标</th><th>数值</th><th>要求</th><th>权重</th><th>结论</th></tr>
{% for r in c.results %}<tr class="{{ 'fail' if r.passed is false else '' }}"><td>{{ r.indicator.group }}</td>
<td>{{ r.indicator.name }}{% if r.indicator.required %} *{% endif %}</td><td class="n">{{ value(r) }}</td>
<td class="n">{{ need(r) }}</td><td class="n">{{ r.indicator.weight|round(0)|int }}</td><td>{{ verdict(r) }}</td></tr>
{% endfor %}</table>
{% endfor %}
<p class="muted">* 必备指标。学校层面的指标，区县数值为达标学校所占比例。指标、阈值和权重见 deploy/certification/indicators.toml，各自注明依据。</p>
</body></html>
"""
)

PLAN = (
    """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}</title>"""
    + STYLE
    + """</head><body>
<h1>{{ title }}{% if district %}（{{ district }}）{% endif %}</h1>
<p>截至 {{ as_of }}。完成数来自各业务系统和各单位报送的进度记录；预测按近期进度推算到期限。</p>
<h2>一、目标完成情况</h2>
<table id="targets"><tr><th>序号</th><th>目标</th><th>牵头单位</th><th>责任单位</th><th>目标数</th><th>完成</th>
<th>完成率</th><th>推进中</th><th>滞后</th><th>期限</th><th>按当前进度</th></tr>
{% for s in statuses %}<tr class="{{ 'fail' if s.overdue else '' }}"><td class="n">{{ loop.index }}</td>
<td>{{ s.target.name }}</td><td>{{ s.target.lead }}</td><td>{{ s.target.responsible|join('、') }}</td>
<td class="n">{{ number(s) }}</td><td class="n">{{ done(s) }}</td><td class="n">{{ '%.0f'|format(s.percent) }}%</td>
<td class="n">{{ s.total.in_progress }}</td><td class="n">{{ s.total.late }}</td><td>{{ s.target.deadline }}</td>
<td>{{ s.verdict }}{% if s.reaches_on and not s.met %}，预计 {{ s.reaches_on }} 完成{% endif %}{% if s.note %}<br><span class="muted">{{ s.note }}</span>{% endif %}</td></tr>
{% endfor %}</table>
{{ chart|safe }}
{% if county_chart %}<h2>二、各区县进度</h2>{{ county_chart|safe }}
<table id="districts"><tr><th>区县</th>{% for s in statuses %}<th>{{ short(s) }}</th>{% endfor %}</tr>
{% for d, name in districts %}<tr><td>{{ name }}</td>{% for s in statuses %}<td class="n">{{ cell(s, d) }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}
<h2>三、滞后事项</h2>
{% for s in statuses if s.late_items %}<p><b>{{ s.target.name }}</b>（{{ s.late_items|length }} 项，责任单位：{{ s.target.responsible|join('、') }}）</p>
<ul class="late">{% for i in s.late_items[:15] %}<li>{{ names.get(i.district, i.district or '') }} {{ i.id }}：{{ i.note }}</li>{% endfor %}
{% if s.late_items|length > 15 %}<li class="muted">另有 {{ s.late_items|length - 15 }} 项</li>{% endif %}</ul>
{% else %}<p>无滞后事项。</p>{% endfor %}
<p class="muted">目标、期限与责任单位见 deploy/plan/targets.toml，各自注明计量口径与来源。</p>
</body></html>
"""
)

ENV = Environment(autoescape=True)


def _value(r: Result) -> str:
    if r.value is None:
        return "无数据"
    if r.noun == "所学校":
        return f"{r.value:.0%} 学校达标"
    return r.indicator.shown(r.value)


def _need(r: Result) -> str:
    return f"≥ {r.threshold:.0%} 学校" if r.noun == "所学校" else r.indicator.target_text()


def _verdict(r: Result) -> str:
    return {True: "达标", False: "未达标", None: "无数据"}[r.passed]


def _short(text: str) -> str:
    return text if len(text) <= 5 else text[:5]


def certification_html(cert: Certification) -> str:
    since = cert.since.date().isoformat() if cert.since else "最早"
    until = cert.until.date().isoformat() if cert.until else "最新"
    counties = list(cert.counties)
    chart = bars("certification-scores", "各区县创建得分", [c.name for c in counties],
                 [("得分", INCOME, [c.score for c in counties]),
                  ("达标线", COST, [cert.card.pass_score for _ in counties])], "")  # fmt: skip
    return ENV.from_string(CERTIFICATION).render(
        period=f"{since} 至 {until}",
        pass_score=cert.card.pass_score,
        city=cert.city,
        counties=counties,
        certified=sum(c.passed for c in counties),
        chart=chart,
        value=_value,
        need=_need,
        verdict=_verdict,
    )


def plan_html(report: PlanReport) -> str:
    statuses = list(report.statuses)
    labels = [_short(s.target.name) for s in statuses]
    forecast = [min(100.0, 100 * s.forecast / s.target.number) for s in statuses]
    chart = bars("plan-targets", "各目标完成率与期限时预测（%）", labels,
                 [("完成率", INCOME, [s.percent for s in statuses]), ("期限时预测", SHARE, forecast)], "%")  # fmt: skip
    quota = [s for s in statuses if s.by_district and (s.target.quota or s.target.percent)]
    districts = sorted(report.district_names.items())
    county_chart = ""
    if quota and report.district is None:
        colours = (INCOME, COST, SHARE, "#7b5ea7", "#888888")
        series = [(_short(s.target.name), colours[n % len(colours)],
                   [(s.by_district[d].percent or 0.0) if d in s.by_district else 0.0 for d, _ in districts])
                  for n, s in enumerate(quota[:5])]  # fmt: skip
        county_chart = bars("plan-districts", "各区县主要目标完成率（%）", [n for _, n in districts], series, "%")

    def cell(s: object, d: str) -> str:
        from safecampus.pipelines.plan.progress import TargetStatus

        assert isinstance(s, TargetStatus)
        tally = s.by_district.get(d)
        if tally is None:
            return "—"
        if s.target.percent:
            return f"{tally.done:.0f}%"
        return f"{tally.done:.0f}/{tally.goal:.0f}" if tally.goal else f"{tally.done:.0f}"

    return ENV.from_string(PLAN).render(
        title=report.plan.name + " 进度报告",
        district=report.district_names.get(report.district or "", ""),
        as_of=report.as_of.isoformat(),
        statuses=statuses,
        chart=chart,
        county_chart=county_chart,
        districts=districts,
        names=report.district_names,
        number=lambda s: f"{s.target.number:g}{s.target.unit}",
        done=lambda s: f"{s.done:.1f}%" if s.target.percent else f"{s.done:,.0f}",
        short=lambda s: _short(s.target.name),
        cell=cell,
    )
