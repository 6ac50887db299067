"""The Prometheus rule files under deploy/prometheus/rules/, read for the metrics reference and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

RULES_DIR = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "rules"


def rules(kind: str) -> list[dict[str, Any]]:
    """Every rule with a `record` (kind "record") or an `alert` (kind "alert") key, in file order."""
    found: list[dict[str, Any]] = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            found.extend(rule for rule in group["rules"] if kind in rule)
    return found


def recording_reference() -> str:
    lines = ["", "## Recording rules / 记录规则", "", "| name | expression |", "|---|---|"]
    for rule in rules("record"):
        expr = " ".join(str(rule["expr"]).split()).replace("|", "\\|")
        lines.append(f"| `{rule['record']}` | `{expr}` |")
    lines += [
        "",
        "## Alerting rules / 告警规则",
        "",
        "| alert | severity | escalation | for | summary |",
        "|---|---|---|---|---|",
    ]
    for rule in rules("alert"):
        labels = rule.get("labels", {})
        summary = rule["annotations"]["summary"].replace("|", "\\|")
        lines.append(
            f"| `{rule['alert']}` | {labels.get('severity', '')} | {labels.get('escalation', '')} "
            f"| {rule.get('for', '0')} | {summary} |"
        )
    return "\n".join(lines) + "\n"
