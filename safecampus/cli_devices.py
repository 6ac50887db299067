"""`safecampus decode` and `safecampus gateway`: one device payload decoded, and the device gateways."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from safecampus.cli_common import check_kafka_or_exit as _check_kafka
from safecampus.cli_common import console, fail
from safecampus.config import Settings
from safecampus.schemas.common import SHANGHAI

decode_app = typer.Typer(
    help="Decode one device payload and print the normalized record as JSON.", no_args_is_help=True
)
gateway_app = typer.Typer(
    help="Device gateways: each payload stored unchanged as a raw envelope.", no_args_is_help=True
)


def _print_security(path: Path, source: str) -> None:
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from safecampus.connectors.registry import EmptyRegistryError, RegistryView, registry_at
    from safecampus.connectors.store import StoreError
    from safecampus.pipelines.catalog import pipeline_for
    from safecampus.pipelines.domain import DecodeError
    from safecampus.schemas.common import describe_validation_error
    from safecampus.schemas.envelope import RawEnvelope

    if not path.is_file():
        fail(f"file {path} does not exist", 2)
    envelope = RawEnvelope.of_bytes(
        path.read_bytes(),
        domain="security",
        source=source,
        content_type="application/xml",
        received_at=datetime.now(UTC),
    )
    settings = Settings()
    try:  # enrich from the loaded registry when there is one; else the device is shown as unregistered
        registry = registry_at(settings.database_url)
    except (EmptyRegistryError, StoreError):
        registry = RegistryView()
    pipeline = pipeline_for("security", settings, registry)
    try:
        (event,) = pipeline.decode(envelope)
    except DecodeError as exc:
        fail(str(exc))
    except ValidationError as exc:
        fail(f"{source} payload: {describe_validation_error(exc)}")
    shown = event.model_dump(mode="json")
    shown["occurred_at"] = event.occurred_at.astimezone(SHANGHAI).isoformat()  # type: ignore[attr-defined]
    print(json.dumps(shown, ensure_ascii=False, indent=2))


@decode_app.command("isapi")
def decode_isapi(
    file: Annotated[Path, typer.Argument(help="ISAPI EventNotificationAlert XML (or multipart post)")],
) -> None:
    """Decode a Hikvision ISAPI alert."""
    _print_security(file, "isapi")


@decode_app.command("gb28181")
def decode_gb28181(file: Annotated[Path, typer.Argument(help="GB/T 28181 Notify body (or SIP MESSAGE)")]) -> None:
    """Decode a GB/T 28181 alarm or keepalive."""
    _print_security(file, "gb28181")


@decode_app.command("jt808")
def decode_jt808(
    frame: Annotated[str, typer.Argument(help="one JT/T 808 frame in hex (with or without 7e), or a split message's")],
) -> None:
    """Decode one JT/T 808 frame, or the pieces (7e…7e7e…7e) of a split message, joined."""
    from safecampus.connectors.bus.jt808_decode import decode_message, message_to_json
    from safecampus.connectors.bus.jt808_frame import Jt808Error

    try:
        data = bytes.fromhex(frame.replace(" ", ""))
    except ValueError:
        fail("the frame is not hexadecimal text")
    try:
        print(json.dumps(message_to_json(decode_message(data)), ensure_ascii=False, indent=2))
    except Jt808Error as exc:
        fail(f"bad JT/T 808 frame: {exc}")


def _raw_sink(kafka: str | None, out: Path | None) -> Any:
    from safecampus.gateways import FileRawSink, KafkaRawSink

    if (kafka is None) == (out is None):
        fail("say where payloads go: --kafka HOST:PORT (raw.<domain> topics) or --out FILE (a replay file)", 2)
    if kafka is not None:
        _check_kafka(kafka)
        return KafkaRawSink(kafka)
    return FileRawSink(out)  # type: ignore[arg-type]


def _listen_error(port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on 127.0.0.1 is taken (another gateway?); stop it or choose another with --port"
    return f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}"


@gateway_app.command("jt808")
def gateway_jt808(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1")] = 7808,
    kafka: Annotated[str | None, typer.Option(help="write frames to raw.bus on this broker")] = None,
    out: Annotated[Path | None, typer.Option(help="or append them to this JSONL replay file")] = None,
    store: Annotated[
        str | None,
        typer.Option(help="store URL whose registry says which terminals may connect (default: settings)"),
    ] = None,
) -> None:
    """Serve JT/T 808 bus terminals: reply as the protocol requires, store every frame unchanged.

    Terminals not in the registry are refused (0x8100 result 4); with no registry in the store
    every terminal is accepted and counted as unverified. Refusals are logged to stderr.
    """
    from safecampus.connectors.registry import EmptyRegistryError, registry_at
    from safecampus.connectors.store import StoreError
    from safecampus.gateways import serve_jt808

    logging.getLogger("safecampus.connectors.bus.jt808_gateway").setLevel(logging.INFO)
    url = store or Settings().database_url
    try:
        known: Any = registry_at(url).buses_by_terminal
        checked = f"{len(known)} registered terminals"
    except (EmptyRegistryError, StoreError):
        known, checked = None, "no registry in the store: every terminal accepted, counted as unverified"
    sink = _raw_sink(kafka, out)
    try:
        serve_jt808(
            port,
            sink,
            known_terminals=known,
            on_ready=lambda: console.print(
                f"JT/T 808 gateway on 127.0.0.1:{port} → {kafka or out}; {checked} (Ctrl-C stops)"
            ),
        )
    except OSError as exc:
        fail(_listen_error(port, exc))
    finally:
        sink.close()


@gateway_app.command("http")
def gateway_http(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1")] = 8080,
    kafka: Annotated[
        str | None,
        typer.Option(help="write posts to raw.security (escort confirmations: raw.bus, inspections: raw.fire)"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="or append them to this JSONL replay file")] = None,
    tokens: Annotated[
        Path | None,
        typer.Option(help="device token file (name sha256$salt$digest per line); without it the gateway runs open"),
    ] = None,
) -> None:
    """Receive camera (ISAPI, GB/T 28181), alarm-box, escort-app (POST /escort) and inspection-app
    (POST /inspection) posts; store every body unchanged.

    /escort takes the escort app's "all students off" confirmation:
    {"terminal_id": "013800000001", "kind": "all_off", "time": "2026-09-01T07:52:10+08:00"}
    /inspection takes a childcare fire-safety inspection form (JSON, at most 256 KiB).

    Devices authenticate with `Authorization: Bearer TOKEN` or `?token=TOKEN`; make tokens with
    `python -m safecampus.connectors.security.tokens NAME…`. Refusals are logged to stderr.
    """
    from safecampus.connectors.security.tokens import TokenFileError, TokenStore
    from safecampus.gateways import serve_http

    logging.getLogger("safecampus.connectors.security.http").setLevel(logging.INFO)
    store_of_tokens = None
    if tokens is not None:
        try:
            store_of_tokens = TokenStore.from_file(tokens)
        except (OSError, TokenFileError) as exc:
            fail(f"cannot read the token file: {exc}", 2)
    mode = (
        f"{len(store_of_tokens)} device tokens required"
        if store_of_tokens
        else "OPEN: no device tokens configured (--tokens FILE), every post accepted"
    )
    sink = _raw_sink(kafka, out)
    banner = (
        f"HTTP gateway on http://127.0.0.1:{port}/ (ISAPI), /gb28181, /alarmbox → security; "
        f"/escort (escort app) → bus; /inspection (inspection app) → fire; → {kafka or out}; {mode}"
    )
    try:
        serve_http(port, sink, tokens=store_of_tokens, on_ready=lambda: console.print(banner))
    except OSError as exc:
        fail(_listen_error(port, exc))
    finally:
        sink.close()
