"""The README's examples work: each envelope line replays to one event, the decode example decodes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_starts_with_the_two_commands() -> None:
    block = README.read_text(encoding="utf-8").split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_envelope_examples_replay(tmp_path: Path, city_store: str) -> None:
    text = README.read_text(encoding="utf-8")
    examples = [json.loads(line) for line in text.splitlines() if line.startswith('{"domain":')]
    assert {e["domain"] for e in examples} == {"security", "bus", "canteen", "fire"}
    for example in examples:
        raw = tmp_path / f"{example['domain']}.jsonl"
        raw.write_text(json.dumps(example, ensure_ascii=False) + "\n", encoding="utf-8")
        out = tmp_path / example["domain"]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "safecampus.cli",
                "replay",
                example["domain"],
                "--input",
                str(raw),
                "--out",
                str(out),
                "--store",
                city_store,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert (out / "dlq.jsonl").read_text() == "", (out / "dlq.jsonl").read_text()
        assert len((out / "events.jsonl").read_text().splitlines()) >= 1


def test_readme_decode_example() -> None:
    frame = re.search(r"decode jt808 ([0-9a-f]+)", README.read_text(encoding="utf-8"))
    assert frame
    result = subprocess.run(
        [sys.executable, "-m", "safecampus.cli", "decode", "jt808", frame.group(1)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    decoded = json.loads(result.stdout)
    assert decoded["message_id"] == "0x0200" and decoded["time"].endswith("+08:00")


def _tour() -> list[str]:
    """The commands of the tour's first block, continuation lines joined, comments dropped."""
    tour = README.read_text(encoding="utf-8").split("## A tour", 1)[1]
    block = tour.split("```bash", 1)[1].split("```", 1)[0]
    commands, current = [], ""
    for line in block.strip().splitlines():
        text = line.split("  #")[0].rstrip()
        if text.endswith("\\"):
            current += text[:-1] + " "
            continue
        commands.append((current + text).strip())
        current = ""
    return commands


def test_the_tour_runs_as_written_and_shows_what_it_claims(tmp_path: Path) -> None:
    """A new user's first minutes: each command of the tour in a fresh folder, each claim checked."""
    import shlex
    import shutil

    shutil.copytree(README.parent / "docs", tmp_path / "docs")  # the example files the tour names
    commands = _tour()
    assert [c.split()[1:3] for c in commands][:3] == [["simulate", "--out"], ["registry", "load"], ["replay", "bus"]]
    outputs = []
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == ".venv/bin/safecampus", command
        result = subprocess.run(
            [sys.executable, "-m", "safecampus.cli", *argv[1:]],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=600,
            check=False,
            env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert result.returncode == 0, f"{command}\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr
        outputs.append(result.stdout)
    by_name = dict(zip([" ".join(shlex.split(c)[1:3]) for c in commands], outputs, strict=True))
    assert (tmp_path / "out" / "safecampus.db").is_file()  # registry load made the default store
    assert (tmp_path / "out" / "bus" / "runs.jsonl").stat().st_size > 0
    assert '"event_type": "intrusion"' in by_name["decode isapi"] and '"school_id": "S0000"' in by_name["decode isapi"]
    listed = by_name["alerts list"]
    assert (
        "shown of 0" not in listed and "一键报警" in listed and "未确认学生全部下车" in listed
    )  # replay wrote the store
    acked = json.loads(
        next(
            line
            for line in (tmp_path / "out" / "security" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
            if "7f4faffcbbc9abd742f88891" in line and '"acknowledged"' in line
        )
    )
    assert any(e.get("operator_id") == "op-017" for e in acked["evidence"])  # the operations log was applied
    assert "op-020" in by_name["alerts ack"]
    assert (tmp_path / "out" / "fire" / "ledger.jsonl").stat().st_size > 0
    assert "Districts by fire-safety compliance" in by_name["report fire"]
    assert "整改台账" in (tmp_path / "out" / "fire-ledger.html").read_text(encoding="utf-8")
