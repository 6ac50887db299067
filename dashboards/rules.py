"""The Prometheus rule files under deploy/prometheus/rules/, read for the tests, and docs/metrics.md made from
them, the exporter's families and the Grafana boards:

    python -m safecampus.dashboards.rules docs/metrics.md
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from safecampus.dashboards.grafana import BOARDS
from safecampus.dashboards.metrics import FAMILIES

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


def reference() -> str:
    """docs/metrics.md: every family with its type, labels, meaning and source."""
    lines = [
        "# Metrics reference / 指标说明",
        "",
        "Generated from `dashboards/metrics.py`, `deploy/prometheus/rules/` and the boards of `dashboards/grafana.py`",
        "by `python -m safecampus.dashboards.rules docs/metrics.md`; `tests/dashboards/test_metrics.py` fails when",
        "this file is stale. Served by `safecampus exporter` on `/metrics`; every ratio is a recording rule",
        "(listed after the families), and the Grafana boards that read them close the file.",
        "",
        "| name | type | labels | meaning | source |",
        "|---|---|---|---|---|",
    ]
    for f in FAMILIES:
        labels = ", ".join(f"`{label}`" for label in f.labels) or "—"
        lines.append(f"| `{f.name}` | {f.kind} | {labels} | {f.help} | {f.source} |")
    return "\n".join(lines) + "\n"


def boards_reference() -> str:
    """The Grafana boards (dashboards/json/, provisioned from deploy/grafana/) and what each can be filtered by."""
    lines = ["", "## Dashboards / 看板", "", "| uid | title | panels | variables |", "|---|---|---|---|"]
    for board in BOARDS:
        variables = ", ".join(f"`${v.name}` {v.label}" for v in board.variables)
        lines.append(f"| `{board.uid}` | {board.title} | {len(board.panels)} | {variables} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Write docs/metrics.md (or print it): the families, the recording and alerting rules, the boards."""
    text = reference() + recording_reference() + boards_reference()
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
