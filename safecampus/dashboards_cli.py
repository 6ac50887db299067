"""`safecampus dashboards build|push`: the Grafana dashboards generated from `safecampus.dashboards.grafana`.

    safecampus dashboards build                                   # dashboards/json/*.json, committed
    GRAFANA_TOKEN=glsa_… safecampus dashboards push --url http://grafana:3000
    safecampus dashboards render --prometheus http://127.0.0.1:9090 --out docs/dashboards   # PNGs

Uploads go through grafana-client, the maintained fork of grafana-api (abandoned in 2020).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from safecampus.dashboards import grafana

dashboards_app = typer.Typer(help="Grafana dashboards as code (仪表盘).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


@dashboards_app.command("build")
def build(
    out: Annotated[Path, typer.Option(help="folder for the JSON files")] = grafana.JSON_DIR,
) -> None:
    """Write every dashboard's JSON model (生成仪表盘 JSON)."""
    for path in grafana.write(out):
        console.print(f"已生成 wrote {path}", highlight=False)


@dashboards_app.command("push")
def push(
    url: Annotated[str, typer.Option(help="Grafana's base URL, e.g. http://127.0.0.1:3000")],
    token: Annotated[
        str,
        typer.Option(
            envvar="GRAFANA_TOKEN", help="a service-account token with dashboard write rights (or $GRAFANA_TOKEN)"
        ),
    ],
    folder_uid: Annotated[str | None, typer.Option(help="folder to put them in")] = None,
) -> None:
    """Upload every dashboard to Grafana's HTTP API, overwriting the same uid (上传仪表盘)."""
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaException

    api = GrafanaApi.from_url(url, credential=token, timeout=10.0)
    for board in grafana.BOARDS:
        body: dict[str, object] = {"dashboard": grafana.build(board), "overwrite": True,
                                   "message": "safecampus dashboards push"}  # fmt: skip
        if folder_uid:
            body["folderUid"] = folder_uid
        try:
            answer = api.dashboard.update_dashboard(body)
        except GrafanaException as exc:
            errors.print(f"[bold red]error:[/] Grafana refused {board.uid}: {exc.message}（上传失败）", highlight=False)
            raise typer.Exit(1) from None
        except Exception as exc:  # connection refused, timeout: one line, no traceback
            errors.print(f"[bold red]error:[/] cannot reach Grafana at {url} ({type(exc).__name__})（无法连接）")
            raise typer.Exit(1) from None
        console.print(f"已上传 pushed {board.uid} → {answer.get('url', '?')}", highlight=False)


@dashboards_app.command("render")
def render(
    prometheus: Annotated[str, typer.Option(help="Prometheus base URL")] = "http://127.0.0.1:9090",
    out: Annotated[Path, typer.Option(help="folder for the PNG files")] = Path("out/dashboards"),
) -> None:
    """Draw each dashboard's panels from a real Prometheus as one PNG (仪表盘截图; needs matplotlib)."""
    try:
        from safecampus.dashboards.render import render_all

        paths = render_all(prometheus, out)
    except ImportError:
        errors.print("[bold red]error:[/] matplotlib is missing: pip install -e '.[dev]'（缺少 matplotlib）")
        raise typer.Exit(1) from None
    except OSError as exc:
        errors.print(f"[bold red]error:[/] cannot query Prometheus at {prometheus} ({exc})（无法连接）")
        raise typer.Exit(1) from None
    except (ValueError, KeyError, TypeError) as exc:  # it answered, but not as Prometheus does
        errors.print(
            f"[bold red]error:[/] {prometheus} does not answer as Prometheus does ({type(exc).__name__})"
            "（不是 Prometheus 的应答）"
        )
        raise typer.Exit(1) from None
    for path in paths:
        console.print(f"已绘制 drew {path}", highlight=False)
