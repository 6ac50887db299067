"""The control room's desk: open alerts from the store, and acknowledging one of them.

    safecampus alerts list --severity critical
    safecampus alerts ack 3f9c0a… --operator op-017 --comment "guard sent"

An acknowledgement is applied to the stored alert (status acknowledged, the operator id and time in
its evidence) with the same upsert every sink uses; operators are ids, never names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from safecampus.config import Settings
from safecampus.connectors.store import alert_row, engine_for, upsert
from safecampus.pipelines.alerts import acknowledge
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SEVERITIES, local_text
from safecampus.schemas.operations import Acknowledgement
from safecampus.schemas.store import AlertRow

alerts_app = typer.Typer(help="Open alerts and acknowledgements (the control room's desk).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)
StoreOption = Annotated[str | None, typer.Option(help="store URL (default: the configured database_url)")]


@alerts_app.command("list")
def list_alerts(
    store: StoreOption = None,
    severity: Annotated[str | None, typer.Option(help="only this severity")] = None,
    domain: Annotated[str | None, typer.Option(help="only this domain")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Open alerts (firing or acknowledged), most severe and newest first."""
    query = select(AlertRow).where(AlertRow.status.in_(("firing", "acknowledged")))  # type: ignore[attr-defined]
    if severity:
        query = query.where(AlertRow.severity == severity)
    if domain:
        query = query.where(AlertRow.domain == domain)
    with Session(engine_for(store or Settings().database_url)) as session:
        rows = session.exec(query).all()
    rows = sorted(rows, key=lambda r: (SEVERITIES.index(r.severity), -r.occurred_at.timestamp()))[:limit]  # type: ignore[arg-type]
    table = Table(title=f"Open alerts ({len(rows)} shown)", title_justify="left")
    for column in ("severity", "status", "rule", "subject", "school", "since (Asia/Shanghai)"):
        table.add_column(column)
    table.add_column("fingerprint", overflow="fold")  # whole, to copy into `alerts ack`
    for row in rows:
        table.add_row(
            row.severity,
            row.status,
            row.rule,
            row.subject,
            row.school_id or "—",
            local_text(row.occurred_at.replace(tzinfo=row.occurred_at.tzinfo or UTC)),
            row.fingerprint,
        )
    console.print(table)


@alerts_app.command("ack")
def ack(
    fingerprint: Annotated[str, typer.Argument(help="the alert's fingerprint (see: safecampus alerts list)")],
    operator: Annotated[str, typer.Option(help="operator id (not a name)")],
    comment: Annotated[str, typer.Option(help="what was done")] = "",
    store: StoreOption = None,
) -> None:
    """Acknowledge one alert: it stays visible, marked as taken in hand."""
    url = store or Settings().database_url
    engine = engine_for(url)
    with Session(engine) as session:
        row = session.get(AlertRow, fingerprint)
    if row is None:
        errors.print(f"[bold red]error:[/] no alert with fingerprint {fingerprint} in {url}", highlight=False)
        raise typer.Exit(2)
    alert = Alert.model_validate_json(row.body)
    if alert.status == "resolved":
        console.print(f"{alert.rule} on {alert.subject} is already resolved; acknowledgement recorded anyway")
    note = Acknowledgement(
        fingerprint=fingerprint, operator_id=operator, acknowledged_at=datetime.now(UTC), comment=comment
    )
    acked = acknowledge(alert, note)
    upsert(engine, AlertRow, [alert_row(acked)])
    console.print(f"acknowledged {acked.rule} on {acked.subject} ({acked.severity}) by {operator}")
