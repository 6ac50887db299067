"""The bureau's commands: `report certification`, `report plan` and `import progress`.

    safecampus import progress 项目节点.csv 救护员证书.xlsx --store sqlite:///out/safecampus.db
    safecampus report certification --district 钟楼区 --format html --out 创建评分.html
    safecampus report plan --format xlsx --out 规划进度.xlsx --as-of 2025-12-31

A file or store that cannot be used is one line and exit 2; rows that cannot be used go to the DLQ
(`--dlq FILE`, JSONL, default beside the first file) and the command still exits 0.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from safecampus.cli_common import ReportFormat, write_report
from safecampus.config import Settings
from safecampus.fire.cli import fail

console = Console()
SHORT_VERDICTS = {"逾期未完成": "逾期", "按进度可完成": "可完成", "按当前进度完不成": "完不成"}


StoreOption = Annotated[str | None, typer.Option(help="store URL (default: the settings' database_url)")]
SinceOption = Annotated[str | None, typer.Option(help="period start, a date or ISO time (default: all)")]
UntilOption = Annotated[str | None, typer.Option(help="period end, exclusive (default: all)")]
DistrictOption = Annotated[str | None, typer.Option(help="one district, by id (zhonglou) or name (钟楼区)")]
KpisOption = Annotated[Path | None, typer.Option(help="also write the figures as KPI records (JSONL) here")]


def _errors() -> tuple[type[Exception], ...]:
    from safecampus.connectors.registry import EmptyRegistryError
    from safecampus.connectors.store import StoreError
    from safecampus.pipelines.certification.indicators import IndicatorError
    from safecampus.pipelines.plan.targets import PlanError
    from safecampus.plan.report import ReportError

    return StoreError, EmptyRegistryError, ReportError, IndicatorError, PlanError


def report_certification(
    out: Annotated[Path, typer.Option(help="where the report goes")],
    format: Annotated[ReportFormat, typer.Option("--format", help="html, xlsx or json")] = ReportFormat.html,
    district: DistrictOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    indicators: Annotated[Path | None, typer.Option(help="a scorecard TOML of your own")] = None,
    store: StoreOption = None,
) -> None:
    """The certification scorecard (创建评分): every county's score, pass or fail, and what it lacks."""
    from safecampus.plan.report import build_certification, parse_moment

    settings = Settings()
    try:
        start, end = parse_moment(since, "--since"), parse_moment(until, "--until")
        cert = build_certification(store or settings.database_url, settings, district, start, end, indicators)
    except _errors() as exc:
        fail(str(exc))
    write_report(
        out,
        format,
        cert,
        html="safecampus.plan.html:certification_html",
        xlsx="safecampus.plan.xlsx:certification_xlsx",
    )
    print_counties(cert)
    console.print(f"创建评分 certification scorecard → {out}", highlight=False)


def report_plan(
    out: Annotated[Path, typer.Option(help="where the report goes")],
    format: Annotated[ReportFormat, typer.Option("--format", help="html, xlsx or json")] = ReportFormat.html,
    district: DistrictOption = None,
    as_of: Annotated[str | None, typer.Option(help="the day of the report (default: the newest event's day)")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    targets: Annotated[Path | None, typer.Option(help="a targets TOML of your own")] = None,
    kpis: KpisOption = None,
    store: StoreOption = None,
) -> None:
    """The plan's progress report (规划进度): per target and county done, in progress, late, forecast."""
    from safecampus.plan.report import build_plan, parse_moment, plan_kpis

    settings = Settings()
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        fail(f"--as-of {as_of!r} 不是日期 is not a date such as 2025-12-31")
    try:
        start, end = parse_moment(since, "--since"), parse_moment(until, "--until")
        report = build_plan(store or settings.database_url, settings, district, day, start, end, targets)
    except _errors() as exc:
        fail(str(exc))
    write_report(out, format, report, html="safecampus.plan.html:plan_html", xlsx="safecampus.plan.xlsx:plan_xlsx")
    if kpis is not None:
        kpis.parent.mkdir(parents=True, exist_ok=True)
        kpis.write_text("".join(k.model_dump_json() + "\n" for k in plan_kpis(report)), encoding="utf-8")
    print_plan(report)
    console.print(f"规划进度 plan progress report → {out}", highlight=False)


def print_counties(cert: object, to: Console = console) -> None:
    """The counties ranked by score with what each lacks (also what `make demo` prints)."""
    from safecampus.pipelines.certification.scorecard import Certification

    assert isinstance(cert, Certification)
    to.print("[bold]各区创建评分 Counties by certification score:[/]", highlight=False)
    for n, county in enumerate(cert.counties, start=1):
        verdict = "达标 passed" if county.passed else "未达标 not yet"
        to.print(f"  {n}. {county.name} {county.score:.1f} 分 · {verdict}", highlight=False)
        for result in county.missing:
            to.print(f"     · {result.text()}", highlight=False, soft_wrap=True)


def print_plan(report: object, to: Console = console) -> None:
    """The plan's status in one table."""
    from rich.table import Table

    from safecampus.plan.report import PlanReport

    assert isinstance(report, PlanReport)
    table = Table(title=f"规划目标进度 Plan targets as of {report.as_of}", title_justify="left")
    for column in ("目标 target", "责任单位 unit", "完成 done", "%", "滞后 late", "预计 reaches", "结论 verdict"):
        table.add_column(column, justify="right" if column in ("完成 done", "%", "滞后 late") else "left")
    for s in report.statuses:
        done = f"{s.done:.0f}%" if s.target.percent else f"{s.done:,.0f}/{s.target.number:g}{s.target.unit}"
        table.add_row(
            s.target.name,
            s.target.responsible[0],
            done if s.items else "无数据",
            f"{s.percent:.0f}",
            str(s.total.late),
            f"{s.reaches_on:%Y-%m}" if s.reaches_on else "—",
            SHORT_VERDICTS.get(s.verdict, s.verdict),
        )
    to.print(table)


def import_progress(
    files: Annotated[list[Path], typer.Argument(help="CSV, XLSX or JSON progress files (docs/progress-records.md)")],
    store: StoreOption = None,
    dlq: Annotated[Path | None, typer.Option(help="bad rows (JSONL); default: FIRST.dlq.jsonl")] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet name (default: the first sheet)")] = None,
) -> None:
    """Import the plan's progress records (规划进度记录) into the store; bad rows to the DLQ."""
    from safecampus.connectors.progress.importer import ImportRefused, import_progress, places_of
    from safecampus.connectors.registry import EmptyRegistryError, registry_at
    from safecampus.connectors.store import StoreError, StoreSink, engine_for

    settings = Settings()
    url = store or settings.database_url
    try:
        registry = registry_at(url)
    except (StoreError, EmptyRegistryError) as exc:
        fail(str(exc))
    places = places_of(registry, settings.plan.teacher_salt, settings.plan.first_aid_validity_years)
    results = []
    for path in files:
        try:
            results.append(import_progress(path, places, sheet))
        except ImportRefused as exc:
            fail(str(exc))
    engine = engine_for(url)
    bad = [d for r in results for d in r.dlq]
    target = dlq or files[0].with_name(files[0].stem + ".dlq.jsonl")
    if bad:
        with target.open("a", encoding="utf-8") as handle:
            handle.writelines(d.model_dump_json() + "\n" for d in bad)
        StoreSink(url).write(dlq=bad)  # the exporter counts them with every domain's
    for r in results:
        r.save(engine)
        console.print(f"{r.file}（{r.form}）：{len(r.rows):,} 行已导入 imported，{len(r.dlq):,} 行不能用 refused",
                      highlight=False, soft_wrap=True)  # fmt: skip
        for d in r.dlq[:3]:
            console.print(f"  · {d.reason}", highlight=False, soft_wrap=True)
    if bad:
        console.print(f"不能用的行 bad rows → {target}", highlight=False)


def register(report_app: typer.Typer, import_app: typer.Typer) -> None:
    report_app.command("certification")(report_certification)
    report_app.command("plan")(report_plan)
    import_app.command("progress")(import_progress)
