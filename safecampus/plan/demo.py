"""The demo's part of the plan: import the simulated progress records, score the counties, report the plan.

    plan_demo(Path("out"), "sqlite:///out/safecampus.db", Settings(), console)

Prints the counties ranked by score with what each lacks and the plan's status in one table, and writes
`out/certification.html|xlsx`, `out/plan.html|xlsx` and the figures for the exporter (`out/plan/kpis.jsonl`).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlmodel import Session, col, select

from safecampus.config import Settings
from safecampus.connectors.progress.importer import import_progress, places_of
from safecampus.connectors.registry import load_view
from safecampus.connectors.store import engine_for, upsert
from safecampus.pipelines.plan.measures import SUBSIDY_RULES
from safecampus.schemas.store import AlertRow, KpiRow


def import_progress_dir(directory: Path, store_url: str, settings: Settings) -> tuple[int, int]:
    """Every progress file under `directory` into the store: (rows imported, rows refused); refused rows
    go to `directory/progress.dlq.jsonl`."""
    engine = engine_for(store_url)
    places = places_of(load_view(engine), settings.plan.teacher_salt, settings.plan.first_aid_validity_years)
    imported = refused = 0
    dlq = directory / "progress.dlq.jsonl"
    dlq.unlink(missing_ok=True)
    for path in sorted(directory.glob("*.csv")):
        result = import_progress(path, places)
        imported += result.save(engine)
        refused += len(result.dlq)
        with dlq.open("a", encoding="utf-8") as handle:
            handle.writelines(d.model_dump_json() + "\n" for d in result.dlq)
    return imported, refused


def borrow_canteen_figures(canteen_store: Path, store_url: str) -> int:
    """The canteen month's audit KPIs and subsidy red flags (the demo replays it into a store of its own)
    copied into the demo's store, so that the scorecard and the plan see them. Rows copied."""
    source = engine_for(f"sqlite:///{canteen_store}")
    with Session(source) as session:
        kpis = [row.model_dump() for row in session.exec(select(KpiRow).where(KpiRow.domain == "canteen"))]
        alerts = session.exec(select(AlertRow).where(col(AlertRow.rule).in_(SUBSIDY_RULES))).all()
    engine = engine_for(store_url)
    return upsert(engine, KpiRow, kpis) + upsert(engine, AlertRow, [a.model_dump() for a in alerts])


def plan_demo(
    out: Path, store_url: str, settings: Settings, console: Console, progress: Path | None = None
) -> tuple[int, int]:
    """The counties and the plan printed, both reports written; (progress rows imported, refused).
    `progress`: the simulator's progress files (default OUT/sim/progress)."""
    from safecampus.plan.cli import print_counties, print_plan
    from safecampus.plan.html import certification_html, plan_html
    from safecampus.plan.report import build_plan, plan_kpis
    from safecampus.plan.xlsx import certification_xlsx, plan_xlsx

    progress = progress or out / "sim" / "progress"
    imported, refused = import_progress_dir(progress, store_url, settings)
    if (out / "canteen-month.db").exists():
        borrow_canteen_figures(out / "canteen-month.db", store_url)
    report = build_plan(store_url, settings)
    print_counties(report.certification, console)
    print_plan(report, console)
    (out / "certification.html").write_text(certification_html(report.certification), encoding="utf-8")
    certification_xlsx(report.certification, out / "certification.xlsx")
    (out / "plan.html").write_text(plan_html(report), encoding="utf-8")
    plan_xlsx(report, out / "plan.xlsx")
    (out / "plan").mkdir(exist_ok=True)
    (out / "plan" / "kpis.jsonl").write_text("".join(k.model_dump_json() + "\n" for k in plan_kpis(report)))
    console.print(
        f"进度记录 progress records: {imported:,} imported, {refused} refused "
        f"→ {progress}/progress.dlq.jsonl · "
        f"创建评分 scorecard → {out}/certification.html, .xlsx · 规划进度 plan → {out}/plan.html, .xlsx",
        highlight=False,
    )
    return imported, refused
