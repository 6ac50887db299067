"""The short crash-cycle run of `make chaos` (bench/chaos.py --short) as a test: SIGKILLs of the streaming
pipeline, a broker restart and a PostgreSQL restart under load, then the store checked record by record.

It starts a private broker and PostgreSQL of its own (ports 19092 and 15432), so the shared services the
other tests use are never restarted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def test_crash_cycles_lose_nothing_and_double_nothing(prism_location: str) -> None:
    run = subprocess.run(
        [sys.executable, str(CHAOS), "--short"], capture_output=True, text=True, timeout=1200, check=False
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    figures = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("{")))
    assert figures["kills"] == 3
    for domain, counts in figures["events"].items():
        assert counts["expected"] > 1000, domain  # the run carried real load
        assert counts["stored"] == counts["expected"], domain
    assert figures["events_lost"] == 0 and figures["events_duplicated_or_unexpected"] == 0
    assert figures["dlq_expected"] > 0 and figures["dlq_stored"] == figures["dlq_expected"]
    assert figures["alerts_expected"] > 0 and figures["alerts_lost"] == 0
    assert figures["alert_fingerprints_doubled"] == 0
