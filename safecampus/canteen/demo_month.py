"""The demo's canteen month: six weeks of every canteen's ledger (September published on 10 October),
replayed into a store of its own and audited as `replay canteen` audits (statements, red flags and the audit's
KPIs into the store and `OUT/canteen-month/`, where `exporter --from-dir` finds them), then one public
disclosure and one auditors' report written as HTML."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from safecampus.canteen.audit_run import audit_after_replay
from safecampus.canteen.files import report_bytes
from safecampus.config import Settings
from safecampus.connectors.registry import load_dir
from safecampus.connectors.store import engine_for
from safecampus.simulator.run import simulate

MONTH, DAYS = "2026-09", 42


def canteen_month(out: Path, settings: Settings) -> tuple[int, Path, Path]:
    """Records replayed, and the paths of the public disclosure and the auditors' report."""
    from safecampus.pipelines.replay import run_replay

    sim = simulate(out / "sim-canteen", days=DAYS, start=date(2026, 9, 1), domains=("canteen",))
    store = out / "canteen-month.db"
    store.unlink(missing_ok=True)
    url = f"sqlite:///{store}"
    load_dir(out / "sim-canteen" / "registry", engine_for(url))
    run_replay([("canteen", sim.raw_file("canteen"), out / "canteen-month")], settings, url, url)
    data = audit_after_replay(url, out / "canteen-month", settings)  # its KPIs: the scorecard and the exporter
    flagged = max(data.canteen_ids(), key=lambda c: len(data.red_flags(c, MONTH)))
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    public = reports / f"C0001-{MONTH}-公示.html"
    public.write_bytes(report_bytes(data, "C0001", MONTH, "html", "public"))
    audit = reports / f"{flagged}-{MONTH}-审计.html"
    audit.write_bytes(report_bytes(data, flagged, MONTH, "html", "auditor"))
    return sim.counts["canteen"], public, audit
