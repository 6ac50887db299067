"""A picture of each dashboard from a real Prometheus: every panel's queries run and drawn (matplotlib).

    safecampus dashboards render --prometheus http://127.0.0.1:9090 --out docs/dashboards

Grafana cannot run here; this shows what its panels would show from the same queries: stats as numbers,
bar gauges as bars, tables as rows, time series as lines over the last hour.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from safecampus.dashboards.grafana import BOARDS
from safecampus.dashboards.panels import Board, Panel, at_all

CJK_FONTS = ["Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]


def _get(prometheus: str, path: str, **params: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/{path}?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=30) as answer:
        body = json.load(answer)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's legend: `{{label}}` replaced by its value; a label the series lacks shows as 未知 (unknown)."""
    out = template
    for key, value in labels.items():
        out = out.replace("{{" + key + "}}", value or "未知")
    return re.sub(r"\{\{\w+\}\}", "未知", out).strip() or "value"


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "—"
    if unit == "percentunit":
        return f"{value:.1%}"
    if unit == "s":
        return f"{value / 86400:,.1f} 天 d" if abs(value) >= 86400 else f"{value:,.0f} s"
    if unit == "currencyCNY":
        return f"¥{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def draw_panel(ax: Any, panel: Panel, prometheus: str, now: float) -> None:
    ax.set_title(panel.title, fontsize=9, loc="left")
    if panel.kind == "timeseries":
        for expr, legend in panel.queries:
            for series in _get(prometheus, "query_range", query=at_all(expr), start=str(now - 3600), end=str(now),
                               step="15"):  # fmt: skip
                xs = [(float(t) - now) / 60 for t, _ in series["values"]]
                ax.plot(xs, [float(v) for _, v in series["values"]], label=_legend(legend, series["metric"]))
        ax.set_xlabel("分钟 minutes", fontsize=7)
        if ax.lines:
            ax.legend(fontsize=6, loc="best")
        ax.tick_params(labelsize=6)
        return
    rows = []
    for expr, legend in panel.queries:
        for series in _get(prometheus, "query", query=at_all(expr), time=str(now)):
            rows.append((_legend(legend, series["metric"]), float(series["value"][1])))
    ax.set_xticks([])
    ax.set_yticks([])
    if not rows:
        ax.text(0.5, 0.5, "无数据 No data", ha="center", va="center", fontsize=10, color="grey")
    elif panel.kind == "stat":
        text = "\n".join(f"{name}: {_number(value, panel.unit)}" for name, value in rows[:4])
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, fontweight="bold")
    elif panel.kind == "bargauge":
        rows = sorted(rows, key=lambda r: r[1])[-10:]
        ax.barh(range(len(rows)), [v for _, v in rows], color="#3274d9")
        ax.set_yticks(range(len(rows)), [n for n, _ in rows], fontsize=6)
        ax.tick_params(axis="x", labelsize=6)
        ax.set_xticks(ax.get_xticks())
    else:
        rows = sorted(rows, key=lambda r: -r[1])[:10]
        ax.text(0.02, 0.95, "\n".join(f"{n[:38]:<38} {_number(v, panel.unit)}" for n, v in rows), va="top",
                family="monospace", fontsize=6)  # fmt: skip


def render(board: Board, prometheus: str, out: Path) -> Path:
    """One PNG of the board's panels, three a row, from what Prometheus answers now."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = CJK_FONTS
    plt.rcParams["axes.unicode_minus"] = False
    columns = 3
    rows = math.ceil(len(board.panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 4.2, rows * 2.6), squeeze=False)
    now = time.time()
    for ax, panel in zip(axes.flat, board.panels, strict=False):
        draw_panel(ax, panel, prometheus, now)
    for ax in list(axes.flat)[len(board.panels) :]:
        ax.axis("off")
    fig.suptitle(board.title, fontsize=12)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{board.uid}.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def render_all(prometheus: str, out: Path) -> list[Path]:
    return [render(board, prometheus.rstrip("/"), out) for board in BOARDS]
