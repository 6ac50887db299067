"""Fire fixtures: forty simulated days of every childcare institution (1 September – 10 October 2026, the
National Day holiday closed), replayed into a store of their own; a headless Chromium (Debian's)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from safecampus.config import Settings
from safecampus.pipelines.replay import run_replay
from safecampus.simulator.run import Simulation, simulate

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "local"
DAYS = 40


@dataclass(frozen=True)
class FireRun:
    sim: Simulation
    store: Path  # the store the replay wrote (registry, inspections, alerts)
    out: Path  # the replay's files: events, alerts, kpis, dlq, ledger


@pytest.fixture(scope="session")
def fire_run(_city_store_template: Path, tmp_path_factory: pytest.TempPathFactory) -> FireRun:
    root = tmp_path_factory.mktemp("fire")
    sim = simulate(root / "sim", days=DAYS, start=date(2026, 9, 1), domains=("fire",))
    store = root / "safecampus.db"
    shutil.copyfile(_city_store_template, store)
    url = f"sqlite:///{store}"
    from safecampus.connectors.registry import load_dir
    from safecampus.connectors.store import engine_for

    load_dir(sim.out_dir / "registry", engine_for(url))  # the calendar dates and last inspections of this city
    run_replay([("fire", sim.raw_file("fire"), root / "fire")], Settings(), url, url)
    return FireRun(sim, store, root / "fire")


@pytest.fixture
def fire_store(fire_run: FireRun, tmp_path: Path) -> str:
    """A copy of the replayed store, this test's own."""
    path = tmp_path / "safecampus.db"
    shutil.copyfile(fire_run.store, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium with fonts-noto-cjk: deploy/local/chromium.sh installs them when absent."""
    script = DEPLOY / "chromium.sh"
    if script.exists():
        proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            pytest.fail(f"deploy/local/chromium.sh failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout.strip().splitlines()[-1]
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("no chromium: apt-get install chromium fonts-noto-cjk")
    return found
