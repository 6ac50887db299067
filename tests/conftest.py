"""Shared fixtures: a simulated day (made once per session) and the real-service fixtures."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from integration_services import kafka_bootstrap, postgres_url, prism_location  # noqa: F401

from safecampus.connectors.registry import RegistryView, save_rows
from safecampus.connectors.store import engine_for
from safecampus.simulator.city import build_city
from safecampus.simulator.run import Simulation, simulate

# Beam stops Prism from an atexit hook and logs it after pytest has closed its streams; that
# would print a "Logging error" traceback under the summary line. Nothing is lost by dropping it.
logging.raiseExceptions = False


@pytest.fixture(scope="session")
def simulated_day(tmp_path_factory: pytest.TempPathFactory) -> Simulation:
    """One simulated school day of the seeded city (all four domains)."""
    return simulate(tmp_path_factory.mktemp("sim"))


@pytest.fixture(scope="session")
def city_registry() -> RegistryView:
    """The seeded synthetic city as a registry view, for pipeline objects built in tests."""
    return RegistryView.of_rows(build_city().rows())


@pytest.fixture(scope="session")
def _city_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "city.db"
    save_rows(engine_for(f"sqlite:///{path}"), build_city().rows())
    return path


@pytest.fixture
def city_store(_city_store_template: Path, tmp_path: Path) -> str:
    """A SQLite store of this test's own holding the synthetic city's registry (as `registry load` leaves it)."""
    path = tmp_path / "safecampus.db"
    shutil.copyfile(_city_store_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def sample_lines(simulated_day: Simulation) -> dict[str, bytes]:
    """One valid raw-envelope line per domain, taken from the simulation."""
    lines: dict[str, bytes] = {}
    for domain in ("security", "bus", "canteen", "fire"):
        with simulated_day.raw_file(domain).open("rb") as handle:
            lines[domain] = handle.readline().rstrip(b"\n")
    return lines


def read_jsonl(path: Path) -> list[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture
def jsonl() -> Iterator[object]:
    yield read_jsonl
