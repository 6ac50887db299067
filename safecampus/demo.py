"""`safecampus demo`: a simulated school day through every pipeline, and the summary people read.

Runs on the embedded default: files in, files out, a SQLite store, Beam's in-process runner.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.registry import load_dir, load_view
from safecampus.connectors.store import engine_for
from safecampus.schemas.common import DOMAINS
from safecampus.schemas.store import AlertRow
from safecampus.simulator.run import simulate


def run_demo(out: Path, days: int, console: Console) -> None:
    started = time.monotonic()
    db_path = out / "safecampus.db"
    store_url = f"sqlite:///{db_path}"
    sim_dir = out / "sim"
    settings = Settings()
    columns = (
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        steps = progress.add_task("simulating the city", total=len(DOMAINS) + 2 + len(DOMAINS))
        sim = simulate(sim_dir, days=days, on_domain=lambda d, n: progress.advance(steps))
        progress.update(steps, description="loading the registry")
        load_dir(sim_dir / "registry", engine_for(store_url))
        progress.advance(steps)
        from safecampus.pipelines.replay import run_replay

        for domain in DOMAINS:
            progress.update(steps, description=f"running the {domain} pipeline")
            run_replay([(domain, sim.raw_file(domain), out / domain)], settings, store_url, store_url)
            progress.advance(steps)
        progress.update(steps, description="done", completed=len(DOMAINS) * 2 + 2)
    _summary(out, store_url, sim.counts, console, time.monotonic() - started)


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _summary(out: Path, store_url: str, raw: dict[str, int], console: Console, seconds: float) -> None:
    records = Table(title="Records by domain", title_justify="left")
    for column in ("domain", "raw", "events", "alerts", "DLQ"):
        records.add_column(column, justify="right" if column != "domain" else "left")
    dlq_total = 0
    for name in DOMAINS:
        counts = {n: len(_lines(out / name / f"{n}.jsonl")) for n in ("events", "alerts", "dlq")}
        dlq_total += counts["dlq"]
        records.add_row(
            name, f"{raw.get(name, 0):,}", f"{counts['events']:,}", f"{counts['alerts']:,}", f"{counts['dlq']:,}"
        )
    console.print(records)
    engine = engine_for(store_url)
    with Session(engine) as session:
        alerts = session.exec(select(AlertRow)).all()
    by_rule = Counter((a.domain, a.rule, a.severity) for a in alerts)
    rules = Table(title="Alerts by rule and severity (deduplicated by fingerprint)", title_justify="left")
    for column in ("domain", "rule", "severity", "alerts"):
        rules.add_column(column, justify="right" if column == "alerts" else "left")
    rules.add_column("")
    widest = max(by_rule.values(), default=1)
    colour = {"critical": "red", "high": "dark_orange", "warning": "yellow", "info": "blue"}
    for (domain, rule, severity), n in sorted(by_rule.items()):
        bar = "█" * max(1, round(20 * n / widest))  # a picture of the counts, scaled to the largest
        rules.add_row(domain, rule, severity, str(n), f"[{colour.get(severity, 'white')}]{bar}[/]")
    console.print(rules)
    _control_room(alerts, store_url, console)
    console.print(
        f"[bold]DLQ:[/] {dlq_total} records we could not use, each with its bytes and a reason → "
        f"{out}/<domain>/dlq.jsonl"
    )
    console.print(
        f"Finished in {seconds:.0f} s. Look next at: {out}/<domain>/alerts.jsonl · {out}/<domain>/kpis.jsonl"
        f" · the SQLite store {out}/safecampus.db · {out}/sim/ground_truth.jsonl (what was injected)"
    )


def _control_room(alerts: Sequence[AlertRow], store_url: str, console: Console) -> None:
    registry = load_view(engine_for(store_url))
    security = [a for a in alerts if a.domain == "security"]
    open_by_severity = Counter(a.severity for a in security if a.status in ("firing", "acknowledged"))
    offline = sum(1 for a in security if a.rule == "security.device_offline" and a.status == "firing")
    linkable = [d for d in registry.devices.values() if d.kind in ("alarm_box", "camera")]
    linked = sum(d.linked_to_police for d in linkable)
    rate = linked / len(linkable) if linkable else 0.0
    view = " · ".join(f"{sev} {open_by_severity.get(sev, 0)}" for sev in ("critical", "high", "warning", "info"))
    console.print(
        f"[bold]Control room:[/] open security alerts: {view} · devices offline now: {offline} · "
        f"one-key alarms and video linked to police: {rate:.1%} ({linked:,}/{len(linkable):,})"
    )
