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
