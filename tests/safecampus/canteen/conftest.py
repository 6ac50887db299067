"""Canteen fixtures: six simulated weeks of every canteen (September published on 10 October, a late entry
on the 12th), as the pipeline stores them; the audit over them; a headless Chromium (Debian's)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from safecampus.canteen.data import CanteenData
from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.connectors.store import StoreSink
from safecampus.pipelines.canteen import CanteenPipeline
from safecampus.pipelines.normalize import event_rows, normalize_lines
from safecampus.simulator.run import Simulation, simulate

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "local"
DAYS = (
    50  # 1 September – 20 October 2026: September published on the 10th (one late, one never), a late entry on the 12th
)


@pytest.fixture(scope="session")
def canteen_weeks(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    return simulate(tmp_path_factory.mktemp("canteen"), days=DAYS, start=date(2026, 9, 1), domains=("canteen",))


def store_records(url: str, raw: Path, registry: RegistryView) -> None:
    """Normalize a raw file and upsert its events and alerts, as the pipeline's store sink does."""
    pipeline = CanteenPipeline(Settings(), registry)
    lines = list(enumerate(raw.read_bytes().splitlines(), start=1))
    sink = StoreSink(url)
    for start in range(0, len(lines), 5000):
        out = normalize_lines(pipeline, lines[start : start + 5000], raw.name)
        bodies = [e.model_dump_json() for _, e in out.events]
        sink.write(events=event_rows(pipeline, out.events, bodies), alerts=out.alerts, dlq=out.dlq)


@pytest.fixture(scope="session")
def _canteen_store_template(
    _city_store_template: Path,
    canteen_weeks: Simulation,
    city_registry: RegistryView,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    path = tmp_path_factory.mktemp("canteen-store") / "canteen.db"
    shutil.copyfile(_city_store_template, path)
    store_records(f"sqlite:///{path}", canteen_weeks.raw_file("canteen"), city_registry)
    return path


@pytest.fixture
def canteen_store(_canteen_store_template: Path, tmp_path: Path) -> str:
    """A store of this test's own: the city's registry and six weeks of canteen records."""
    path = tmp_path / "safecampus.db"
    shutil.copyfile(_canteen_store_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def canteen_data(_canteen_store_template: Path) -> CanteenData:
    return CanteenData.load(f"sqlite:///{_canteen_store_template}")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with fonts-noto-cjk by deploy/local/chromium.sh (idempotent) when absent."""
    proc = subprocess.run(
        ["bash", str(DEPLOY / "chromium.sh")], capture_output=True, text=True, timeout=900, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"deploy/local/chromium.sh failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]
