"""What every `safecampus` sub-command module shares: the consoles, one-line failures, the Kafka check."""

from __future__ import annotations

import logging
from typing import NoReturn

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one plain line to stderr and exit non-zero."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def check_kafka_or_exit(bootstrap: str) -> None:
    """Exit with one line naming `make kafka` unless a broker answers at `bootstrap`."""
    from safecampus.connectors.kafka import KafkaUnavailableError, check_kafka

    kafka_log = logging.getLogger("kafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # kafka-python logs every refused connection; one line says it all
    try:
        check_kafka(bootstrap)
    except KafkaUnavailableError as exc:
        fail(str(exc))
    finally:
        kafka_log.setLevel(level)
