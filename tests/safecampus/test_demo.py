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
        "Alerts by rule and severity",
        "Control room:",
        "devices offline now",
        "linked to police",
        "DLQ:",
    ):
        assert text in out, text
    assert "Traceback" not in out + result.stderr
    for domain in ("security", "bus", "canteen", "fire"):
        for name in ("events", "alerts", "kpis", "dlq"):
            assert (tmp_path / domain / f"{name}.jsonl").exists()
    assert (tmp_path / "safecampus.db").stat().st_size > 0
    assert "security.device_offline" in out and "bus.overspeed" in out and "canteen.red_flag" in out
