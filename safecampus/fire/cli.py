"""Fire-safety commands: `report fire` (the remediation ledger) and `import fire` (inspection files → raw envelopes).

    safecampus report fire --district 钟楼区 --format html --out 整改台账.html
    safecampus import fire 巡查记录.xlsx --out raw/fire.jsonl

Messages a person reads are Chinese with English beside them; a file or store that cannot be used is
one line and exit 2; forms that cannot be used go to the DLQ and the command still exits 0.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from safecampus.cli_common import ReportFormat, write_report
from safecampus.cli_common import fail as cli_fail
from safecampus.config import Settings
from safecampus.fire.report import FireReport

console = Console()


def fail(message: str, code: int = 2) -> NoReturn:
    """One line and exit 2: the report and import commands' usage errors."""
    cli_fail(message, code)


def report_fire(
    out: Annotated[Path, typer.Option(help="where the report goes")],
    format: Annotated[ReportFormat, typer.Option("--format", help="html, xlsx or json")] = ReportFormat.html,
    district: Annotated[str | None, typer.Option(help="one district, by id (zhonglou) or name (钟楼区)")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="the ledger as of this time (ISO 8601); default: the latest inspection")
    ] = None,
    store: Annotated[str | None, typer.Option(help="store URL (default: the settings' database_url)")] = None,
) -> None:
    """The remediation ledger (整改台账) per district: findings, deadlines, rectified, confirmed, days overdue."""
    from safecampus.connectors.registry import EmptyRegistryError
    from safecampus.connectors.store import StoreError
    from safecampus.fire.report import ReportError, build_fire_report

    settings = Settings()
    moment = None
    if as_of is not None:
        try:
            moment = datetime.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of {as_of!r} 不是时间 is not a time such as 2026-10-15T18:00:00+08:00")
        if moment.tzinfo is None:
            fail(f"--as-of {as_of!r} 需要时区 needs a UTC offset, e.g. +08:00")
    try:
        report = build_fire_report(store or settings.database_url, settings, district, moment)
    except (StoreError, EmptyRegistryError, ReportError) as exc:
        fail(str(exc))
    write_report(out, format, report, html="safecampus.fire.html:render_html", xlsx="safecampus.fire.xlsx:write_xlsx")
    print_ranking(report)
    console.print(f"整改台账 remediation ledger → {out}", highlight=False)


def print_ranking(report: FireReport, to: Console = console) -> None:
    """The districts ranked by compliance, one line each (also what `make demo` prints)."""
    to.print("[bold]各区托育机构消防合规率 Districts by fire-safety compliance:[/]", highlight=False)
    for n, d in enumerate(report.ranked, start=1):
        rate = f"{d.compliance_rate:.1%}" if d.compliance_rate is not None else "—"
        to.print(
            f"  {n}. {d.name} {rate} · 未销号隐患 open {d.open_findings} · 逾期 overdue {d.overdue_findings}",
            highlight=False,
        )


def import_fire(
    files: Annotated[list[Path], typer.Argument(help="JSON, JSONL, CSV or XLSX inspection files")],
    out: Annotated[Path, typer.Option(help="replay file of raw envelopes (JSONL), appended")],
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet name (default: the first sheet)")] = None,
) -> None:
    """Turn inspection files into raw envelopes (one per inspection) for `replay fire`."""
    from safecampus.connectors.fire.importer import ImportRefused, import_file

    results = []
    for path in files:
        try:
            results.append(import_file(path, sheet=sheet))
        except ImportRefused as exc:
            fail(str(exc))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as handle:
        handle.writelines(e.model_dump_json() + "\n" for r in results for e in r.envelopes)
    bad = [d for r in results for d in r.dlq]
    dlq = out.with_name(out.name.removesuffix(".jsonl") + ".dlq.jsonl")
    if bad:
        with dlq.open("a", encoding="utf-8") as handle:
            handle.writelines(d.model_dump_json() + "\n" for d in bad)
    for r in results:
        console.print(
            f"{r.path.name}：{len(r.envelopes):,} 份检查记录 inspections，{len(r.dlq):,} 行不能用 refused",
            highlight=False,
        )
        for d in r.dlq[:3]:
            console.print(f"  · {d.reason}", highlight=False)
    console.print(f"→ {out}" + (f"，不能用的行 bad rows → {dlq}" if bad else ""), highlight=False)


def register(report_app: typer.Typer, import_app: typer.Typer) -> None:
    report_app.command("fire")(report_fire)
    import_app.command("fire")(import_fire)
