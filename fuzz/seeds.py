"""Seed inputs of every fuzz target, from the tests' samples, docs/examples and a simulated morning.

`seeds(target)` returns the inputs (bytes, with the target's selector byte where it takes one; see
targets.py). Sources: the hand-made files in fuzz/seeds/ (real frames from Traccar's published test
suite, SIP messages, multipart posts), docs/examples/, the frames the JT/T 808 tests decode, and a
simulated hour of the seeded city (every vendor format and message kind it makes) plus its canteen
and fire forms. The simulation is cached in build/fuzz/, named by a digest of the simulator and the schemas.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

from safecampus.schemas.common import DOMAINS

ROOT = Path(__file__).resolve().parents[1]
HAND = Path(__file__).resolve().parent / "seeds"


def _cache() -> Path:
    """build/fuzz/simulated-<digest of the simulator and the schemas>: a changed form is simulated again."""
    digest = hashlib.sha1()
    for path in sorted([*(ROOT / "safecampus" / "simulator").rglob("*.py"), *(ROOT / "schemas").glob("*.py")]):
        digest.update(path.read_bytes())
    return ROOT / "build" / "fuzz" / f"simulated-{digest.hexdigest()[:12]}"


CACHE = _cache()
PER_KIND = 6  # samples of each (domain, source, content kind) from the simulation
# What kind of record a payload is: an ISAPI event type, a GB/T 28181 command, a form's kind or category.
_KIND = re.compile(r'eventType>[^<]*|CmdType>[^<]*|AlarmMethod>[^<]*|"(?:kind|category)": ?"[^"]*"')
_HEX_FRAME = re.compile(r"""["']?(7e[0-9a-f]{24,}7e)["']?""", re.IGNORECASE)


@cache
def simulated_lines() -> dict[str, list[bytes]]:
    """A few raw-envelope lines of each domain and source, from a simulated morning (cached)."""
    if not CACHE.is_dir() or not any(CACHE.glob("*.jsonl")):
        _simulate()
    return {domain: (CACHE / f"{domain}.jsonl").read_bytes().splitlines() for domain in DOMAINS}


def _simulate() -> None:
    import tempfile

    from safecampus.simulator.run import simulate

    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        morning = simulate(Path(tmp) / "morning", hours=(6.5, 8.5), domains=("security", "bus"))
        day = simulate(Path(tmp) / "day", domains=("canteen", "fire"))
        for domain in DOMAINS:
            source = morning if domain in ("security", "bus") else day
            (CACHE / f"{domain}.jsonl").write_bytes(b"\n".join(_variety(source.raw_file(domain))) + b"\n")


def _variety(path: Path) -> list[bytes]:
    """Up to PER_KIND lines of each source and payload kind (JT/T 808 message id, XML root, JSON kind)."""
    kept: dict[str, list[bytes]] = defaultdict(list)
    with path.open("rb") as handle:
        for line in handle:
            envelope = json.loads(line)
            payload = str(envelope["payload"])
            named = _KIND.search(payload)
            kind = payload[:6] if envelope["source"] == "jt808" else named.group(0) if named else ""
            key = f"{envelope['source']}/{kind}"
            if len(kept[key]) < PER_KIND:
                kept[key].append(line.rstrip(b"\n"))
    return [line for lines in kept.values() for line in lines]


def _payloads(domain: str, source: str) -> list[bytes]:
    out = []
    for line in simulated_lines()[domain]:
        envelope = json.loads(line)
        if envelope["source"] == source:
            text = str(envelope["payload"])
            out.append(bytes.fromhex(text) if envelope.get("encoding") == "hex" else text.encode())
    return out


def _hand(pattern: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted(HAND.glob(pattern))]


def _frames_in(path: Path) -> list[bytes]:
    return [bytes.fromhex(match) for match in _HEX_FRAME.findall(path.read_text(encoding="utf-8"))]


def _multipart(xml: bytes, boundary: bytes = b"MIME_boundary") -> bytes:
    """An ISAPI post with a picture, as a camera sends it (XML part, then a JPEG part)."""
    return (
        b"--" + boundary + b'\r\nContent-Disposition: form-data; name="alert"\r\n'
        b"Content-Type: application/xml\r\n\r\n" + xml + b"\r\n--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="pic"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\xff\xd9\r\n--" + boundary + b"--\r\n"
    )


def _sip(body: bytes) -> bytes:
    return (
        b"MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060\r\n"
        b"Date: 2026-09-01T08:00:00\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _csv_of_form(form: dict[str, object]) -> bytes:
    """An inspection app's export of one JSON form: a row per checklist item, its finding beside it."""
    import csv
    import io

    head = ["inspection_id", "institution_id", "inspector_role", "kind", "inspected_at"]
    extra = ["severity", "description", "area", "photos", "major", "deadline", "rectified_at"]
    findings = {f["item_code"]: f for f in form.get("findings", [])}  # type: ignore[attr-defined]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*head, "item_code", "result", *extra])
    for item in form.get("checklist", []):  # type: ignore[attr-defined]
        finding = findings.get(item["item_code"], {})
        cells = [";".join(v) if isinstance(v := finding.get(name, ""), list) else v for name in extra]
        writer.writerow([*(form.get(name, "") for name in head), item["item_code"], item["result"], *cells])
    return out.getvalue().encode()


def _xlsx_of(export: bytes) -> bytes:
    """The same export as an XLSX workbook, as an inspection app offers it."""
    import csv
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in csv.reader(io.StringIO(export.decode("utf-8"), newline="")):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _first_lines(data: bytes, lines: int) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:lines])


def _canteen_files() -> list[bytes]:
    """Ledgers as schools send them (docs/examples with its title row, the simulated ledger's CSV and XLSX
    with Chinese headers), and today's JSON forms as an array and as lines; each small (MAX_LEN)."""
    import tempfile

    from safecampus.simulator.ledger_files import write_ledger_files

    forms = _payloads("canteen", "ledger-json")
    example = (ROOT / "docs" / "examples" / "canteen-ledger.csv").read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.jsonl"
        raw.write_bytes(b"\n".join(simulated_lines()["canteen"][:8]) + b"\n")
        csv_path, _ = write_ledger_files(raw, Path(tmp) / "files", xlsx=True)
        ledger = csv_path.read_bytes()
    exports = [_first_lines(example, 12), _first_lines(ledger, 6), _first_lines(ledger.replace(b",", b";"), 4)]
    return (
        [b"\x00[" + b",".join(forms[:3]) + b"]", b'\x00{"entries": [' + b",".join(forms[3:5]) + b"]}"]
        + [b"\x01" + b"\n".join(forms[:4])]
        + [b"\x02" + export for export in exports]
        + [b"\x03" + _xlsx_of(export.decode("utf-8-sig").replace(";", ",").encode()) for export in exports[:2]]
    )


def _progress_files() -> list[bytes]:
    """The four progress forms as the simulated city writes them (CSV, and the first two as XLSX), a few
    rows each, and the alarm tests as JSON objects."""
    import csv
    import io
    import tempfile
    from datetime import date

    from safecampus.simulator.city import build_city
    from safecampus.simulator.progress import write_progress

    with tempfile.TemporaryDirectory() as tmp:
        files = [_first_lines(p.read_bytes(), 6) for p in write_progress(build_city(), Path(tmp), date(2026, 9, 1))]
    rows = list(csv.DictReader(io.StringIO(files[3].decode("utf-8-sig"))))
    return (
        [b"\x02" + f for f in files]
        + [b"\x03" + _xlsx_of(f.decode("utf-8-sig").encode()) for f in files[:2]]
        + [b"\x00" + json.dumps(rows, ensure_ascii=False).encode()]
    )


def seeds(target: str) -> list[bytes]:
    """The seed inputs of one target (see targets.TARGETS)."""
    examples = ROOT / "docs" / "examples"
    if target == "jt808":
        frames = _payloads("bus", "jt808") + _frames_in(ROOT / "tests" / "connectors" / "bus" / "test_jt808.py")
        for path in sorted(HAND.glob("jt808*.txt")):
            lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
            frames += [bytes.fromhex(line) for line in lines if line and not line.startswith("#")]
        return frames
    if target == "isapi":
        xml = _payloads("security", "isapi") + [(examples / "isapi-alert.xml").read_bytes(), *_hand("isapi*.xml")]
        return (
            [b"\x00" + x for x in xml]
            + [b"\x01" + x for x in xml[:4]]
            + [b"\x02MIME_boundary\n" + _multipart(x) for x in xml[:4]]
        )
    if target == "gb28181":
        xml = _payloads("security", "gb28181") + [(examples / "gb28181-alarm.xml").read_bytes()]
        return [b"\x01" + x for x in xml] + [b"\x00" + _sip(x) for x in xml[:6]]
    if target == "alarmbox":
        return _payloads("security", "alarmbox")
    if target == "counter":
        return _payloads("security", "counter") + _hand("counter*.json")
    if target == "escort":
        return _payloads("bus", "bus-json")
    if target == "canteen":
        return _payloads("canteen", "ledger-json")
    if target == "fire":
        return _payloads("fire", "inspection-json")
    if target == "fire_csv":
        return [_csv_of_form(json.loads(form)) for form in _payloads("fire", "inspection-json")] + _hand("fire*.csv")
    if target == "fire_import":
        forms = _payloads("fire", "inspection-json")
        exports = [_csv_of_form(json.loads(form)) for form in forms[:4]] + _hand("fire*.csv")
        return (
            [b"\x00" + form for form in forms[:4]]
            + [b"\x00[" + b",".join(forms[:3]) + b"]", b"\x01" + b"\n".join(forms[:4])]
            + [b"\x02" + export for export in exports]
            + [b"\x03" + _xlsx_of(_first_lines(export, 5)) for export in exports[:3]]  # a few rows: fast
        )
    if target == "canteen_import":
        return _canteen_files()
    if target == "progress_import":
        return _progress_files()
    if target == "replay_line":
        return [bytes([DOMAINS.index(d)]) + line for d in DOMAINS for line in simulated_lines()[d][:40]]
    raise KeyError(target)
