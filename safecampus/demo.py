"""`safecampus demo`: a simulated school morning through every pipeline, and the summary people read.

Runs on the embedded default, as a user would: simulate → `registry load` → `replay` per domain,
files in, files out, a SQLite store, Beam's in-process runner. By default it shows the morning
peak (06:00–09:00, when students arrive and the buses run); `--full-day` runs the whole day.
Beam's own logging goes to `OUT/demo.log`, not into the progress bar.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.registry import load_dir, load_view
from safecampus.connectors.store import engine_for
from safecampus.schemas.alert import rule_name
from safecampus.schemas.common import DOMAINS, SEVERITIES, SEVERITY_NAMES
from safecampus.schemas.store import AlertRow
from safecampus.simulator.run import simulate

MORNING_PEAK = (6.0, 9.0)  # local hours: arrivals at school and the morning bus runs
FIRE_DAYS = 30  # the fire ledger needs weeks of forms: deadlines passing, rectifications, confirmations
DOMAIN_NAMES = {"security": "安防 security", "bus": "校车 bus", "canteen": "食堂 canteen", "fire": "消防 fire"}
COLOUR = {"critical": "red", "high": "dark_orange", "warning": "yellow", "info": "blue"}


def run_demo(out: Path, days: int, console: Console, full_day: bool = False) -> None:
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    store_url = f"sqlite:///{out / 'safecampus.db'}"
    (out / "safecampus.db").unlink(missing_ok=True)  # a demo shows this run, not the last one's alerts
    settings = Settings()
    columns = (
        TextColumn("{task.description:<30}"),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[count]:>16}"),
        TextColumn("{task.fields[rate]:>14}"),
        TimeElapsedColumn(),
    )
    with _runner_logs_to(out / "demo.log"), Progress(*columns, console=console) as progress:
        what = "the whole day" if full_day else "the morning peak 06:00–09:00"
        task = _step(progress, f"模拟 simulating {what}", None)
        sim = simulate(out / "sim", days=days, hours=None if full_day else MORNING_PEAK)
        history = simulate(out / "sim-fire", days=max(days, FIRE_DAYS), domains=("fire",))  # whole days, fire only
        sim.counts["fire"] = history.counts["fire"]
        _done(progress, task, sum(sim.counts.values()), "records")
        task = _step(progress, "登记 registry load", None)
        rows = load_dir(out / "sim" / "registry", engine_for(store_url))
        _done(progress, task, rows, "rows")
        from safecampus.pipelines.replay import run_replay

        for domain in DOMAINS:
            task = _step(progress, f"回放 replay {domain}", sim.counts[domain])
            raw = history.raw_file(domain) if domain == "fire" else sim.raw_file(domain)
            run_replay([(domain, raw, out / domain)], settings, store_url, store_url)
            _done(progress, task, sim.counts[domain], "records")
        from safecampus.canteen.demo_month import canteen_month

        task = _step(progress, "食堂月报 canteen month", None)
        records, public, audit = canteen_month(out, settings)
        _done(progress, task, records, "records")
    _summary(out, store_url, sim.counts, console, time.monotonic() - started, full_day)
    _fire_ledger(out, store_url, settings, console)
    console.print(f"食堂公示 Canteen public disclosure → {public}\n食堂审计 Canteen auditors' report → {audit}")
    from safecampus.plan.demo import plan_demo

    plan_started = time.monotonic()
    plan_demo(out, store_url, settings, console)  # the scorecard and the plan, from the stores above
    console.print(f"规划与创建 plan and certification: {time.monotonic() - plan_started:.1f} s", highlight=False)


def _fire_ledger(out: Path, store_url: str, settings: Settings, console: Console) -> None:
    """The districts ranked by fire-safety compliance, and the remediation ledger as HTML and XLSX."""
    from safecampus.fire.cli import print_ranking
    from safecampus.fire.html import render_html
    from safecampus.fire.report import build_fire_report
    from safecampus.fire.xlsx import write_xlsx

    report = build_fire_report(store_url, settings)
    print_ranking(report, console)
    (out / "fire-ledger.html").write_text(render_html(report), encoding="utf-8")
    write_xlsx(report, out / "fire-ledger.xlsx")
    console.print(
        f"整改台账 remediation ledger ({FIRE_DAYS} simulated days of inspections) → {out}/fire-ledger.html, "
        f"{out}/fire-ledger.xlsx (safecampus report fire --store sqlite:///{out}/safecampus.db …)",
        highlight=False,
    )


def _step(progress: Progress, description: str, total: int | None) -> TaskID:
    count = f"{total:,} records" if total is not None else ""
    return progress.add_task(description, total=None, count=count, rate="", started=True)


def _done(progress: Progress, task: TaskID, n: int, unit: str) -> None:
    elapsed = progress.tasks[task].elapsed or 0.0
    rate = f"{n / elapsed:,.0f}/s" if elapsed > 0 else ""
    progress.update(task, total=1, completed=1, count=f"{n:,} {unit}", rate=rate)
    progress.stop_task(task)


@contextlib.contextmanager
def _runner_logs_to(path: Path) -> Iterator[None]:
    """Beam's logging (and its worker processes' stderr) into a file: the terminal is for people."""
    handler = logging.FileHandler(path, encoding="utf-8")
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers, root.level = [handler], logging.INFO
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with path.open("a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            root.handlers, root.level = saved_handlers, saved_level
            handler.close()


def _count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _summary(out: Path, store_url: str, raw: dict[str, int], console: Console, seconds: float, full_day: bool) -> None:
    records = Table(title="各领域记录 Records by domain", title_justify="left")
    for column in ("领域 domain", "原始 raw", "事件 events", "告警更新 alert updates", "无法使用 could not use"):
        records.add_column(column, justify="left" if column.endswith("domain") else "right")
    unusable = 0
    for name in DOMAINS:
        counts = {n: _count(out / name / f"{n}.jsonl") for n in ("events", "alerts", "dlq")}
        unusable += counts["dlq"]
        records.add_row(
            DOMAIN_NAMES[name],
            f"{raw.get(name, 0):,}",
            f"{counts['events']:,}",
            f"{counts['alerts']:,}",
            f"{counts['dlq']:,}",
        )
    console.print(records)
    with Session(engine_for(store_url)) as session:
        alerts = session.exec(select(AlertRow)).all()
    shown = [a for a in alerts if a.severity != "info"]  # info records are not alerts
    by_rule = Counter((a.severity, a.domain, a.rule) for a in shown)
    rules = Table(title="告警（按指纹去重，按严重程度排序）Alerts by severity and rule", title_justify="left")
    for column in ("严重程度 severity", "领域 domain", "规则 rule", "告警 alerts"):
        rules.add_column(column, justify="right" if column.endswith("alerts") else "left")
    rules.add_column("")
    widest = max(by_rule.values(), default=1)
    ordered = sorted(by_rule.items(), key=lambda item: (SEVERITIES.index(item[0][0]), -item[1], item[0][2]))  # type: ignore[arg-type]
    for (severity, domain, rule), n in ordered:
        bar = "█" * max(1, round(20 * n / widest))  # a picture of the counts, scaled to the largest
        rules.add_row(
            SEVERITY_NAMES[severity],
            DOMAIN_NAMES[domain],
            f"{rule_name(rule)} {rule}",
            str(n),
            f"[{COLOUR[severity]}]{bar}[/]",
        )
    console.print(rules)
    _control_room(alerts, store_url, console)
    console.print(
        f"[bold]无法使用的记录 Records we could not use:[/] {unusable}, each kept with its original bytes and the "
        f"reason in plain words → {out}/<domain>/dlq.jsonl"
    )
    span = "whole day" if full_day else "morning peak 06:00–09:00 (safecampus demo --full-day runs the whole day)"
    console.print(f"用时 Finished in {seconds:.0f} s on {machine()}; simulated the {span}.")
    console.print(
        f"Look next at: {out}/<domain>/alerts.jsonl · {out}/<domain>/kpis.jsonl · the store {out}/safecampus.db "
        f"(safecampus alerts list --store sqlite:///{out}/safecampus.db) · {out}/sim/ground_truth.jsonl · "
        f"runner log {out}/demo.log"
    )


def machine() -> str:
    """Cores and CPU model: machines differ up to 4× per core, so a time means little without them."""
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}"


def _control_room(alerts: Sequence[AlertRow], store_url: str, console: Console) -> None:
    registry = load_view(engine_for(store_url))
    security = [a for a in alerts if a.domain == "security" and a.severity != "info"]
    open_by_severity = Counter(a.severity for a in security if a.status in ("firing", "acknowledged"))
    offline = sum(1 for a in security if a.rule == "security.device_offline" and a.status == "firing")
    linkable = [d for d in registry.devices.values() if d.kind in ("alarm_box", "camera")]
    linked = sum(d.linked_to_police for d in linkable)
    rate = linked / len(linkable) if linkable else 0.0
    view = " · ".join(
        f"{SEVERITY_NAMES[sev]} {open_by_severity.get(sev, 0)}" for sev in ("critical", "high", "warning")
    )
    console.print(
        f"[bold]监控中心 Control room:[/] 未处理安防告警 open security alerts: {view} · "
        f"当前离线设备 devices offline now: {offline} · "
        f"一键报警和视频联网公安 linked to police: {rate:.1%} ({linked:,}/{len(linkable):,})"
    )
