"""Benchmark: security payloads per second through decode and normalization, per wire format.

For each format (ISAPI bare XML, ISAPI multipart with a JPEG part, GB/T 28181 Alarm, GB/T 28181
Keepalive, GB/T 28181 inside a SIP MESSAGE, alarm-box JSON) the same payloads go through:

    decoder   a plain loop calling only the vendor decoder (decode_isapi / decode_gb28181 /
              decode_alarmbox): the ceiling for that format
    xml       a plain loop calling only `parse_untrusted_xml` on the payload's XML body (the
              share of the decoder's time spent parsing XML; not for alarm-box JSON)
    pipeline  a plain loop through `SecurityPipeline.decode` on ready-made envelopes (decode +
              taxonomy + severity + registry enrichment + SecurityEvent validation)
    loop      `bench_replay.plain_loop` on the same JSONL file: the replay's work without Beam
              (envelope parsing + normalize + detection + KPIs + JSONL outputs)
    replay    `run_replay` of a JSONL file of the same envelopes on Beam's in-process runner
              (envelope parsing + normalize + detection + KPIs + JSONL outputs), start-up included

Payloads are built with `safecampus/simulator/security_payloads.py` using device ids of the seeded city
registry (`city_registry()`), so every enrichment lookup hits. The plain loops run best-of-N
inside one child process per format; each loop and replay runs in its own child process, best-of-N.
Prints figures and ratios; asserts nothing.

    python bench/bench_security.py [--payloads 20000] [--repeat 2] [--loops 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_replay import best_time, city_registry  # bench/ is sys.path[0] when run as a script

logging.basicConfig(level=logging.ERROR)

FORMATS = ("isapi-xml", "isapi-multipart", "gb-alarm", "gb-keepalive", "gb-sip", "alarmbox")
# 20:00 to 02:00 Beijing time: crosses the 22:00 night boundary (severity), and each device
# reports often enough for its heartbeat interval that detection is not all offline alerts.
START = datetime(2026, 9, 1, 12, tzinfo=UTC)
SPAN_S = 6 * 3600
ISAPI_EVENTS = ("VMD", "linedetection", "fielddetection", "videoloss", "shelteralarm")
GB_ALARMS = ((5, 2), (5, 6), (5, 5), (2, 1), (2, 2))  # (AlarmMethod, AlarmType)
BOX_KINDS = ("one_key", "fence", "door_forced", "door_held", "heartbeat", "tamper", "fault")


def build_file(fmt: str, count: int, path: Path) -> None:
    """Write `count` raw envelopes of one format as a replay JSONL file."""
    from safecampus.schemas.envelope import RawEnvelope
    from safecampus.simulator import security_payloads as p

    devices = list(city_registry().devices.values())
    if fmt.startswith("isapi"):
        chosen = [d for d in devices if d.kind == "camera" and d.vendor == "hikvision"]
    elif fmt.startswith("gb"):
        chosen = [d for d in devices if d.kind == "camera" and d.vendor == "gb28181"]
    else:
        chosen = [d for d in devices if d.kind != "camera"]
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            device = chosen[n % len(chosen)]
            at = START + timedelta(seconds=n * SPAN_S / count)
            rounds = n // len(chosen)  # a device's events alternate active / inactive of one type
            state = "active" if rounds % 2 == 0 else "inactive"
            source, ctype = fmt.split("-", 1)[0], "application/xml"
            if fmt in ("isapi-xml", "isapi-multipart"):
                mac = "44:19:b6:" + ":".join(f"{b:02x}" for b in n.to_bytes(3, "big"))
                event = ISAPI_EVENTS[(n + rounds // 2) % len(ISAPI_EVENTS)]
                data = p.isapi_alert_xml(device.device_id, mac, "10.12.0.1", device.channel, event, state, at)  # type: ignore[arg-type]
                if fmt == "isapi-multipart":
                    data, ctype = p.isapi_multipart(data, f"boundary{n:08x}")
            elif fmt in ("gb-alarm", "gb-sip"):
                method, alarm_type = GB_ALARMS[(n + rounds // 2) % len(GB_ALARMS)]
                data = p.gb28181_alarm_xml(device.device_id, 2, method, alarm_type, at, sn=n)
                if fmt == "gb-sip":
                    data = p.gb28181_sip_message(data, device.device_id, cseq=n + 1, at=at)
                source = "gb28181"
            elif fmt == "gb-keepalive":
                data, source = p.gb28181_keepalive_xml(device.device_id, sn=n), "gb28181"
            else:
                kind = BOX_KINDS[(n + rounds // 2) % len(BOX_KINDS)]
                data = p.alarmbox_json(device.device_id, kind, state, at, zone="east fence")  # type: ignore[arg-type]
                source, ctype = "alarmbox", "application/json"
            envelope = RawEnvelope.of_bytes(
                data,
                domain="security",
                source=source,
                content_type=ctype,
                received_at=at + timedelta(seconds=1),
                gateway="http-gw-1",
                key=device.device_id,
            )
            handle.write(envelope.model_dump_json() + "\n")


def _xml_body(source: str, data: bytes, content_type: str) -> bytes | None:
    """The XML the decoder hands to `parse_untrusted_xml` (private helpers, used read-only)."""
    if source == "isapi":
        from safecampus.connectors.security.isapi import _xml_body as isapi_body

        return isapi_body(data, content_type)
    if source == "gb28181":
        from safecampus.connectors.security.gb28181 import _strip_sip

        return _strip_sip(data)[0]
    return None


def child_loops(raw: Path, loops: int) -> dict[str, Any]:
    """The plain loops (decoder, xml, pipeline) over one file's envelopes, best of `loops`."""
    from safecampus.config import Settings
    from safecampus.connectors.security.alarmbox import decode_alarmbox
    from safecampus.connectors.security.gb28181 import decode_gb28181
    from safecampus.connectors.security.isapi import decode_isapi
    from safecampus.connectors.security.xml import parse_untrusted_xml
    from safecampus.pipelines.catalog import pipeline_for
    from safecampus.pipelines.domain import DecodeError
    from safecampus.schemas.envelope import RawEnvelope

    pipeline = pipeline_for("security", Settings(), city_registry())
    with raw.open("rb") as handle:
        envelopes = [RawEnvelope.model_validate_json(line) for line in handle]
    source = envelopes[0].source
    items = [(e.payload_bytes(), e.content_type, e.received_at) for e in envelopes]

    def decoder() -> None:
        if source == "isapi":
            for data, ctype, _ in items:
                decode_isapi(data, ctype)
        elif source == "gb28181":
            for data, _, received in items:
                decode_gb28181(data, received)
        else:
            for data, _, _ in items:
                decode_alarmbox(data)

    bodies = [b for data, ctype, _ in items if (b := _xml_body(source, data, ctype)) is not None]

    def xml() -> None:
        for body in bodies:
            parse_untrusted_xml(body)

    def normalize() -> None:
        for envelope in envelopes:
            pipeline.decode(envelope)

    def envelopes_only() -> None:
        with raw.open("rb") as handle:
            for line in handle:
                RawEnvelope.model_validate_json(line)

    errors = 0
    for envelope in envelopes:
        try:
            pipeline.decode(envelope)
        except DecodeError:
            errors += 1
    return {
        "decoder": best_time(decoder, loops),
        "xml": best_time(xml, loops) if bodies else None,
        "pipeline": best_time(normalize, loops),
        "envelope": best_time(envelopes_only, loops),
        "errors": errors,
        "bytes": sum(len(data) for data, _, _ in items) / len(items),
    }


def child_replay(raw: Path, mode: str) -> dict[str, Any]:
    """One run of `run_replay` (mode "replay") or of bench_replay's plain loop (mode "plain")."""
    from bench_replay import timed_replay  # bench/ is sys.path[0] when run as a script

    return timed_replay("security", raw, mode)


def run_child(*args: str) -> dict[str, Any]:
    from bench_replay import run_child as run_script

    return run_script(__file__, *args)


def machine() -> str:
    from bench_replay import machine as describe

    return describe()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payloads", type=int, default=20_000, help="payloads per format")
    parser.add_argument(
        "--repeat", type=int, default=2, help="best of N for the plain-loop and replay runs (one process each)"
    )
    parser.add_argument("--loops", type=int, default=3, help="best of N for the plain loops (in one process)")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, raw, *rest = args.child
        result = child_loops(Path(raw), int(rest[0])) if mode == "loops" else child_replay(Path(raw), mode)
        print(json.dumps(result))
        return

    print(machine())
    print(
        f"{args.payloads:,} payloads per format; decoder/xml/pipeline loops best of {args.loops} in one child "
        f"process, loop and replay best of {args.repeat} (one child process each); other processes may be "
        "running on the same cores"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-security-"))
    try:
        run_formats(args.formats, args.payloads, args.loops, args.repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_formats(formats: list[str], payloads: int, loop_count: int, repeat: int, work: Path) -> None:
    """Build each format's file, measure it and print its row, then the legend."""
    empty = work / "empty.jsonl"
    empty.write_bytes(b"")
    start_up = min(run_child("replay", str(empty))["seconds"] for _ in range(repeat))
    print(f"replay start-up (empty file): {start_up:.2f} s\n")
    print(
        f"{'format':16} {'bytes':>6} {'decoder/s':>10} {'xml/s':>9} {'xml %':>6} {'envelope/s':>11} "
        f"{'pipeline/s':>11} {'loop/s':>7} {'replay/s':>9} {'b/a':>5} {'c/a':>5} {'c/a marg':>8} {'c/loop':>6} "
        f"{'dlq':>4}"
    )
    for fmt in formats:
        raw = work / f"{fmt}.jsonl"
        build_file(fmt, payloads, raw)
        n = payloads
        loops = run_child("loops", str(raw), str(loop_count))
        plain = min((run_child("plain", str(raw)) for _ in range(repeat)), key=lambda r: r["seconds"])
        replay = min((run_child("replay", str(raw)) for _ in range(repeat)), key=lambda r: r["seconds"])
        a = n / loops["decoder"]
        b = n / loops["pipeline"]
        c = n / replay["seconds"]
        marginal = n / max(replay["seconds"] - start_up, 1e-9)
        xml_rate = f"{n / loops['xml']:>9,.0f}" if loops["xml"] else f"{'-':>9}"
        xml_share = f"{100 * loops['xml'] / loops['decoder']:>5.0f}%" if loops["xml"] else f"{'-':>6}"
        print(
            f"{fmt:16} {loops['bytes']:>6,.0f} {a:>10,.0f} {xml_rate} {xml_share} {n / loops['envelope']:>11,.0f} "
            f"{b:>11,.0f} {n / plain['seconds']:>7,.0f} {c:>9,.0f} {b / a:>5.2f} {c / a:>5.2f} {marginal / a:>8.2f} "
            f"{plain['seconds'] / replay['seconds']:>6.2f} "
            f"{loops['errors'] + replay['dlq']:>4}"
        )
    print(
        "\na decoder  = vendor decoder alone (ceiling); xml = parse_untrusted_xml alone on the same XML bodies"
        "\nxml %      = xml time / decoder time; envelope = RawEnvelope.model_validate_json alone (replay pays it,"
        " the pipeline loop does not)"
        "\nb pipeline = SecurityPipeline.decode on ready envelopes (decode + taxonomy + severity + enrichment)"
        "\nloop       = bench_replay.plain_loop: the replay's work in a plain loop (envelope + normalize +"
        " detection + KPIs + outputs)"
        "\nc replay   = run_replay of the JSONL file (envelope + normalize + detection + KPIs + outputs)"
        "\nc/a marg   = c/a with the replay's fixed start-up (empty-file replay) taken out"
        "\nc/loop     = replay rate / plain-loop rate: what Beam itself costs (1.00 = nothing)"
        "\ndlq        = payloads that failed in the pipeline loop + DLQ lines of the replay (expected 0)"
    )


if __name__ == "__main__":
    main()
