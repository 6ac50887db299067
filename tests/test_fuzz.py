"""The fuzz harness (fuzz/): a short coverage-guided run of every target fails the suite on any crash;
the seeds and every saved crash replay cleanly; no decoder opens a file or a socket.

The full run is `make fuzz` (FUZZ_RUNS inputs per target); this one is FUZZ_SHORT_RUNS (4,000).
"""

from __future__ import annotations

import builtins
import io
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "fuzz"
sys.path.insert(0, str(FUZZ))

import seeds  # noqa: E402
import targets  # noqa: E402

SHORT_RUNS = int(os.environ.get("FUZZ_SHORT_RUNS", "4000"))

# The reproducers of issue 10, as each target takes them; before the fixes each raised a foreign error.
REPRODUCERS: dict[str, list[bytes]] = {
    "isapi": [
        b'\x00<?xml version="1.0" encoding="' + codec + b'"?><EventNotificationAlert/>'
        for codec in (b"hex", b"rot13", b"undefined", b"punycode")
    ]
    + [
        b"\x00<EventNotificationAlert><ipAddress>1.2.3.4</ipAddress><channelID>"
        + b"1" * 4301
        + b"</channelID><eventType>VMD</eventType><dateTime>2026-09-01T08:00:00</dateTime></EventNotificationAlert>",
        "\x02中\n--中\r\n\r\n<EventNotificationAlert/>\r\n--中--".encode(),
    ],
    "canteen": [b"[" * 1000, b'{"quantity": ' + b"1" * 4301 + b"}"],
    "fire": [b"[" * 1000, b"{" * 100_000],
    "escort": [b'{"terminal_id":"013800000036","kind":"all_off","time":"9999-12-31T23:59:59+00:00"}'],
    "alarmbox": [b'{"device_id":"CZ-0090-00","kind":"fault","time":"9999-12-31T15:00:00+00:00"}'],
    "jt808": [b"\x7e" + b"\x7d\x01" * (1 << 20) + b"\x7e"],
    # Found by the fuzzer in the CSV export path (csv.Error leaked): a bare CR in a field, a NUL, a huge field.
    "fire_csv": [
        b"inspection_id,item_code,result\nT001-1,C01,p\rass\n",
        b"inspection_id,item_code,result\nT001-1,C\x0001,pass\n",
        b'inspection_id,item_code,result\nT001-1,"' + b"x" * 200_000 + b'",pass\n',
    ],
}


def _saved_crashes() -> Iterator[tuple[str, Path]]:
    for target in targets.TARGETS:
        for path in sorted((FUZZ / "regressions" / target).glob("*.bin")):
            yield target, path


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_every_seed_passes_its_target(target: str) -> None:
    found = seeds.seeds(target)
    assert len(found) >= 5, f"{target} has too few seeds to start from"
    for data in found:
        targets.TARGETS[target](data)


@pytest.mark.parametrize("domain", ["security", "bus", "canteen", "fire"])
def test_the_simulated_seeds_are_records_the_pipeline_takes(domain: str) -> None:
    """Seeds the pipeline refuses would start the fuzzer at the door: most must become events."""
    from safecampus.pipelines.normalize import normalize_lines

    lines = seeds.simulated_lines()[domain]
    out = normalize_lines(targets.pipeline(domain), list(enumerate(lines, start=1)), "seeds.jsonl")  # type: ignore[arg-type]
    assert len(lines) >= 10 and len(out.dlq) <= len(lines) // 10, out.dlq[:1]


@pytest.mark.parametrize(("target", "data"), [(t, d) for t, ds in REPRODUCERS.items() for d in ds])
def test_the_issues_reproducers_are_refused_by_their_targets(target: str, data: bytes) -> None:
    targets.TARGETS[target](data)


@pytest.mark.parametrize(("target", "path"), list(_saved_crashes()), ids=lambda v: getattr(v, "name", v))
def test_every_crash_the_fuzzer_found_stays_fixed(target: str, path: Path) -> None:
    targets.TARGETS[target](path.read_bytes())


def test_a_leaked_exception_is_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness is not vacuous: a decoder that leaks a foreign error fails its target."""

    def broken(data: bytes) -> None:
        raise KeyError("leaked")

    monkeypatch.setattr(targets, "decode_frame", broken)
    with pytest.raises(KeyError):
        targets.jt808(seeds.seeds("jt808")[0])
    monkeypatch.setattr(targets.pipeline("bus"), "decode", broken)
    with pytest.raises(targets.LeakedError, match="KeyError"):
        targets.replay_line(b"\x01" + seeds.simulated_lines()["bus"][0])


def test_no_decoder_opens_a_file_or_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    every = [(name, data) for name in targets.TARGETS for data in seeds.seeds(name)]  # importers: in memory
    every += [(name, data) for name, found in REPRODUCERS.items() for data in found]
    for name, data in every:  # warm every cache first (the registry, lazily imported modules)
        targets.TARGETS[name](data)
    opened: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        opened.append(repr(args[:1]))
        raise OSError("a decoder tried to open a file or a socket")

    for owner, attribute in [
        (builtins, "open"),
        (io, "open"),
        (os, "open"),
        (socket, "socket"),
        (socket, "create_connection"),
        (socket, "getaddrinfo"),
    ]:
        monkeypatch.setattr(owner, attribute, refuse)
    for name, data in every:
        targets.TARGETS[name](data)
    assert opened == [], opened
    assert len(every) > 100


def test_a_short_fuzz_run_of_every_target_finds_no_crash() -> None:
    done = subprocess.run(
        [sys.executable, str(FUZZ / "run.py"), "--runs", str(SHORT_RUNS)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:] if not line.startswith(" ")}
    assert set(rows) == set(targets.TARGETS), done.stdout
    for name, row in rows.items():
        inputs, cov, crashes = int(row[1].replace(",", "")), int(row[2]), int(row[7])
        assert inputs >= SHORT_RUNS and cov > 0 and crashes == 0, (name, row)
