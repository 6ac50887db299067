"""Pytest fixtures that start the real services (Kafka, Prism, PostgreSQL) with deploy/local/*.sh.

Load them from the root conftest with `pytest_plugins = ["tests.integration_services"]`
(or `python -m pytest -p tests.integration_services`). Each script is idempotent and reuses a
running service; what a fixture started it also stops at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from safecampus.connectors.kafka import KafkaUnavailableError, check_kafka

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "local"
KAFKA_BOOTSTRAP = "127.0.0.1:9092"
# Several checkouts testing at once on one server each name their own database (postgres.sh creates it).
TEST_DB = os.environ.get("SAFECAMPUS_TEST_DB", "safecampus_test")


def _run(script: str, *args: str, timeout: float = 900, last_line: bool = True) -> str:
    """Run a deploy script; return its stdout (or last line of it), or fail the test with its output."""
    proc = subprocess.run(
        ["bash", str(DEPLOY / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    if not last_line:
        return proc.stdout
    lines = proc.stdout.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Kafka broker at 127.0.0.1:9092, started with deploy/local/kafka.sh when none answers."""
    started = False
    try:
        check_kafka(KAFKA_BOOTSTRAP, timeout_s=3)
    except KafkaUnavailableError:
        _run("kafka.sh", "start")
        started = True
        check_kafka(KAFKA_BOOTSTRAP, timeout_s=30)
    yield KAFKA_BOOTSTRAP
    if started:
        _run("kafka.sh", "stop")


@pytest.fixture(scope="session")
def prism_location() -> str:
    """Path of the Prism runner binary, built once with `go install` (deploy/local/prism.sh)."""
    return _run("prism.sh")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a real PostgreSQL: the tests' own database (`safecampus_test`, or
    $SAFECAMPUS_TEST_DB), emptied first, so a
    store an older version of the project made (without today's columns) never meets today's tables."""
    out = _run("postgres.sh", "start", last_line=False)
    url = out.strip().splitlines()[-1].rsplit("/", 1)[0] + "/" + TEST_DB
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    yield url
    if "postgres: started" in out:
        _run("postgres.sh", "stop")


def prefixed_topics(bootstrap: str, letter: str, names: Sequence[str], partitions: int = 2) -> Iterator[str]:
    """A fresh topic prefix with `names` created under it (`partitions` each), deleted afterwards: a test's
    own topics, for a fixture to yield from (`yield from prefixed_topics(kafka_bootstrap, "t", [...])`)."""
    prefix = f"{letter}{uuid.uuid4().hex[:8]}."
    topics = [f"{prefix}{name}" for name in names]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    admin.close()
    yield prefix
    # A fresh client: a test may have restarted the broker under the first one's connection.
    for attempt in range(5):
        try:
            cleanup = KafkaAdminClient(bootstrap_servers=bootstrap)
            try:
                cleanup.delete_topics(topics)
            finally:
                cleanup.close()
            return
        except KafkaError:
            time.sleep(1 + attempt)
