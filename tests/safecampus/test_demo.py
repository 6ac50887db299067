"""The README's first command: `safecampus demo` on the embedded default, summary and outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_every_pipeline_and_prints_the_summary(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "safecampus.cli", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in (
        "Records by domain",
        "Alerts by severity and rule",
        "Control room:",
        "devices offline now",
        "linked to police",
        "Records we could not use",
        "morning peak",
        "Finished in",
    ):
        assert text in out, text
    assert "Traceback" not in out + result.stderr
    assert "INFO" not in out and "apache_beam" not in out  # the runner's logging went to the log file
    assert (tmp_path / "demo.log").stat().st_size > 0
    for domain in ("security", "bus", "canteen", "fire"):
        for name in ("events", "alerts", "kpis", "dlq"):
            assert (tmp_path / domain / f"{name}.jsonl").exists()
    assert (tmp_path / "safecampus.db").stat().st_size > 0
    assert "security.one_key_alarm" in out and "bus.overspeed" in out and "canteen.single_person_acceptance" in out
    assert "一键报警" in out and "校车超速" in out  # rules by their Chinese names
    assert "提示 info" not in out and "trip_completed" not in out  # info records are not alerts
    rows = [line for line in out.splitlines() if "security.one_key_alarm" in line or "fire.hazard.video" in line]
    assert "critical" in rows[0] and "warning" in rows[-1]  # most severe first
    ranking = out[out.index("Districts by fire-safety compliance") :].splitlines()[1:9]
    rates = [float(line.split("%")[0].split()[-1]) for line in ranking if "未登记" not in line]
    assert len(rates) == 7 and rates == sorted(rates, reverse=True)  # seven districts, best first
    assert "整改台账" in (tmp_path / "fire-ledger.html").read_text(encoding="utf-8")
    assert (tmp_path / "fire-ledger.xlsx").read_bytes().startswith(b"PK")  # a zip: the XLSX workbook
    # the canteen month: one public disclosure and one auditors' report, their paths printed, and the audit's
    # KPIs where `exporter --from-dir` reads them (the 食堂财务 board)
    public = tmp_path / "reports" / "C0001-2026-09-公示.html"
    audits = sorted((tmp_path / "reports").glob("*-2026-09-审计.html"))
    assert f"Canteen public disclosure → {public}" in out and len(audits) == 1 and str(audits[0]) in out
    assert "2026-09" in public.read_text(encoding="utf-8") and "审计" in audits[0].read_text(encoding="utf-8")
    audited = (tmp_path / "canteen-month" / "kpis.jsonl").read_text(encoding="utf-8")
    assert '"metric":"canteen_disclosure_status"' in audited and '"metric":"canteen_month_income_cny"' in audited
    # the bureau's view: counties ranked by score with what each lacks, the plan in one table, both reports
    counties = out[out.index("Counties by certification score") :].splitlines()[1:]
    scores = [float(line.split(" 分")[0].split()[-1]) for line in counties if " 分 · " in line]
    assert len(scores) == 7 and scores == sorted(scores, reverse=True)
    assert "所学校" in out and "Plan targets as of" in out and "校园地下接送中心" in out
    assert "进度报告" in (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert 'data-chart="certification-scores"' in (tmp_path / "certification.html").read_text(encoding="utf-8")
    assert (tmp_path / "plan" / "kpis.jsonl").stat().st_size > 0
