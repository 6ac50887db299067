"""Everything a person in Changzhou reads is Simplified Chinese, and what protocols carry in GB2312 encodes.

The code's strings (every literal in the packages, with CJK characters), the README and docs, and
the simulator's output (registry CSV files and every raw payload) are checked character by
character with OpenCC: a text is Simplified when converting it Traditional → Simplified changes nothing.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

import opencc
import pytest

from safecampus.connectors.bus.jt808_decode import decode_frame
from safecampus.connectors.bus.jt808_frame import Jt808Error
from safecampus.connectors.bus.jt808_messages import Registration
from safecampus.simulator.run import Simulation

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
TO_SIMPLIFIED = opencc.OpenCC("t2s")


def not_simplified(text: str) -> list[str]:
    """The runs of CJK characters in `text` that OpenCC would change to become Simplified."""
    return [run for run in CJK.findall(text) if TO_SIMPLIFIED.convert(run) != run]


def test_the_check_tells_traditional_from_simplified() -> None:
    traditional = opencc.OpenCC("s2t").convert("校车超速 天宁区 苏D00030")  # what the code said before
    assert not_simplified(traditional) == traditional.replace("D00030", "").split()
    assert not_simplified("校车超速 天宁区 苏D00030 著名") == []


def _literals(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value):
            found.append((node.lineno, node.value))
    return found


def test_every_string_in_the_code_is_simplified() -> None:
    sources = [
        p for d in ("safecampus", "schemas", "connectors", "pipelines", "dashboards") for p in (ROOT / d).rglob("*.py")
    ]
    literals = [(path, line, text) for path in sources for line, text in _literals(path)]
    assert len(literals) > 100  # titles, details, names: the walk found the string tables
    bad = [f"{path.relative_to(ROOT)}:{line}: {run}" for path, line, text in literals for run in not_simplified(text)]
    assert bad == []


def test_the_readme_and_docs_are_simplified() -> None:
    for doc in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        assert not_simplified(doc.read_text(encoding="utf-8")) == [], doc.name


def test_the_simulated_city_and_its_payloads_are_simplified(simulated_day: Simulation) -> None:
    registry = simulated_day.out_dir / "registry"
    texts = [p.read_text(encoding="utf-8") for p in registry.rglob("*.csv")]
    assert any(CJK.search(t) for t in texts)  # school, district and operator names
    plates: list[str] = []
    for domain in ("security", "bus", "canteen", "fire"):
        with simulated_day.raw_file(domain).open(encoding="utf-8") as handle:
            for line in handle:
                envelope = json.loads(line)
                if envelope.get("encoding") == "hex":
                    try:
                        message = decode_frame(bytes.fromhex(envelope["payload"]))
                    except (Jt808Error, ValueError):
                        continue  # the simulator's damaged frames carry no text
                    if isinstance(message.payload, Registration):
                        plates.append(message.payload.plate)
                else:
                    texts.append(envelope["payload"])
    bad = sorted({run for text in texts for run in not_simplified(text)})
    assert bad == []
    with (registry / "buses.csv").open(encoding="utf-8") as handle:
        plates += [row["plate"] for row in csv.DictReader(handle)]
    assert plates and all(plate.startswith("苏D") for plate in plates)


@pytest.mark.parametrize("codec", ["gb2312", "gbk"])
def test_what_protocols_carry_in_gb2312_encodes(simulated_day: Simulation, codec: str) -> None:
    registry = simulated_day.out_dir / "registry"
    names: list[str] = []
    for table, column in (("buses.csv", "plate"), ("schools.csv", "name"), ("districts.csv", "name")):
        with (registry / table).open(encoding="utf-8") as handle:
            names += [row[column] for row in csv.DictReader(handle)]
    assert len(names) > 100
    for name in names:
        name.encode(codec)  # JT/T 808 carries plates in GBK; GB/T 28181 bodies are GB2312
    with simulated_day.raw_file("security").open(encoding="utf-8") as handle:
        declared = [json.loads(line)["payload"] for line in handle if 'encoding=\\"GB2312\\"' in line]
    assert declared
    for body in declared[:2000]:
        body.encode(codec)
