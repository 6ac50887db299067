"""What every `safecampus` sub-command module shares: the consoles, one-line failures, the Kafka check."""

from __future__ import annotations

import importlib
import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

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


def split_beam_args(words: list[str] | None) -> tuple[list[str] | None, list[str]]:
    """`run bus -- --job_endpoint=…`: what follows `--` arrives among the domains; Beam options start with "-".
    Returns the domains (None when none were named) and the Beam options, as written."""
    words = words or []
    cut = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    return words[:cut] or None, words[cut:]


class ReportFormat(StrEnum):
    html = "html"
    xlsx = "xlsx"
    json = "json"


def write_report(out: Path, format: ReportFormat, report: Any, html: str, xlsx: str) -> None:
    """`report` at `out`: its `as_json()` as JSON, or through its HTML or XLSX writer, named "module:function"
    and imported only when chosen (openpyxl is slow to import). The HTML writer returns the page; the XLSX
    writer takes the report and the path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if format is ReportFormat.json:
        out.write_text(json.dumps(report.as_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        return
    module, _, name = (html if format is ReportFormat.html else xlsx).partition(":")
    writer = getattr(importlib.import_module(module), name)
    if format is ReportFormat.html:
        out.write_text(writer(report), encoding="utf-8")
    else:
        writer(report, out)
