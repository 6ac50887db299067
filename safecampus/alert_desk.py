"""The control room's desk: open alerts from the store, and acknowledging one of them.

    safecampus alerts list --severity critical
    safecampus alerts ack 3f9c0a1b --operator op-017 --comment "guard sent"   # a unique prefix is enough
    safecampus alerts ack 3f9c0a1b --operator op-017 --kafka 127.0.0.1:9092   # and to the operations topic
    safecampus alerts suppress --school S0042 --start 2026-09-01T09:00+08:00 --end 2026-09-01T10:00+08:00 \
        --reason fire_drill --kafka 127.0.0.1:9092                             # a window, to the running pipelines

An acknowledgement is kept in the store's acknowledgement history (every one, never overwritten)
and applied to the stored alert (status acknowledged, the operator id, time and comment in its
evidence) with the same upsert every sink uses; operators are ids, never names. With `--kafka` it is
also written to the `operations` topic, which the running pipelines follow (pipelines/operations.py):
a repeat of the alert stays acknowledged there too. Suppression windows go to that topic only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from safecampus.config import Settings
from safecampus.connectors.store import StoreError, alert_row, open_store, upsert_all
from safecampus.pipelines.alerts import acknowledge
from safecampus.schemas.alert import Alert, rule_name
from safecampus.schemas.common import DOMAINS, SEVERITIES, SEVERITY_NAMES, describe_validation_error, local_text
from safecampus.schemas.operations import Acknowledgement, SuppressionWindow
from safecampus.schemas.registry import LOCATION_ROLE_NAMES, District, School, SecurityDevice
from safecampus.schemas.store import AcknowledgementRow, AlertRow

alerts_app = typer.Typer(help="Open alerts and acknowledgements (the control room's desk).", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)
StoreOption = Annotated[str | None, typer.Option(help="store URL (default: the configured database_url)")]
KafkaOption = Annotated[
    str | None, typer.Option(help="bootstrap servers: also to the operations topic the running pipelines follow")
]
PrefixOption = Annotated[str, typer.Option(help="prefix of the topic names (tests isolate themselves)")]
SHORT = 12  # fingerprint characters shown; any unique prefix is accepted by `alerts ack`
STATUS_NAMES = {"firing": "告警中", "acknowledged": "已确认", "resolved": "已恢复", "suppressed": "已抑制"}


def _fail(message: str) -> None:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _store(store: str | None) -> tuple[str, Engine]:
    url = store or Settings().database_url
    try:
        return url, open_store(url)
    except StoreError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


@alerts_app.command("list")
def list_alerts(
    store: StoreOption = None,
    severity: Annotated[str | None, typer.Option(help="only this severity: critical, high, warning, info")] = None,
    domain: Annotated[str | None, typer.Option(help="only this domain: security, bus, canteen, fire")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Open alerts (firing or acknowledged), most severe and newest first."""
    if severity is not None and severity not in SEVERITIES:
        _fail(f"--severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if domain is not None and domain not in DOMAINS:
        _fail(f"--domain must be one of {', '.join(DOMAINS)}, not {domain!r}")
    url, engine = _store(store)
    query = select(AlertRow).where(col(AlertRow.status).in_(("firing", "acknowledged")))
    if severity:
        query = query.where(AlertRow.severity == severity)
    if domain:
        query = query.where(AlertRow.domain == domain)
    with Session(engine) as session:
        rows = sorted(session.exec(query).all(), key=lambda r: (SEVERITIES.index(r.severity), -_utc(r.occurred_at)))  # type: ignore[arg-type]
        shown = rows[:limit]
        schools = {s.school_id: s.name for s in session.exec(select(School)).all()}
        districts = {d.district_id: d.name for d in session.exec(select(District)).all()}
        subjects = {r.subject for r in shown}
        roles = {
            d.device_id: d.location_role
            for d in session.exec(select(SecurityDevice).where(col(SecurityDevice.device_id).in_(subjects))).all()
        }
        fingerprints = [r.fingerprint for r in shown]
        acks: dict[str, AcknowledgementRow] = {}
        for ack in session.exec(
            select(AcknowledgementRow)
            .where(col(AcknowledgementRow.fingerprint).in_(fingerprints))
            .order_by(col(AcknowledgementRow.acknowledged_at))
        ).all():
            acks[ack.fingerprint] = ack  # the latest one per alert
    title = f"未处理告警 Open alerts: {len(shown)} shown of {len(rows)} in {url}"
    table = Table(title=title, title_justify="left")
    for column in ("严重程度 severity", "状态 status", "规则 rule", "对象 subject", "学校 school", "位置 location"):
        table.add_column(column)
    table.add_column("发生时间 since (Asia/Shanghai)")
    table.add_column("指纹 fingerprint")
    table.add_column("回放 playback")
    now = datetime.now(UTC)
    links: list[str] = []
    for row in shown:
        place = [
            districts.get(row.district or "", row.district or ""),
            LOCATION_ROLE_NAMES.get(roles.get(row.subject, ""), ""),
        ]
        status = STATUS_NAMES.get(row.status, row.status)
        latest = acks.get(row.fingerprint)
        if latest is not None:
            status += f"({latest.operator_id}{':' + latest.comment if latest.comment else ''})"
        table.add_row(
            SEVERITY_NAMES.get(row.severity, row.severity),
            status,
            f"{rule_name(row.rule)}\n{row.rule}",
            row.subject,
            schools.get(row.school_id or "", row.school_id or "—"),
            " ".join(p for p in place if p) or "—",
            local_text(row.occurred_at.replace(tzinfo=row.occurred_at.tzinfo or UTC)),
            row.fingerprint[:SHORT],
            _playback_cell(row, now, links),
        )
    console.print(table)
    for line in links:  # below the table, whole: a wrapped URL cannot be copied
        console.print(line, soft_wrap=True, highlight=False)


def _playback_cell(row: AlertRow, now: datetime, links: list[str]) -> str:
    """The playback column of one alert; its link (or that it expired) is added to `links`."""
    link = Alert.model_validate_json(row.body).playback
    if link is None:
        return "—"
    links.append(f"{row.fingerprint[:SHORT]} {link.text(now)}")
    return "已过期 expired" if link.expired(now) else f"见下 below ({link.vendor})"


def _utc(moment: datetime) -> float:
    return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()


@alerts_app.command("ack")
def ack(
    fingerprint: Annotated[str, typer.Argument(help="the alert's fingerprint, or a unique prefix of it (alerts list)")],
    operator: Annotated[str, typer.Option(help="operator id (not a name)")],
    comment: Annotated[str, typer.Option(help="what was done")] = "",
    store: StoreOption = None,
    kafka: KafkaOption = None,
    topic_prefix: PrefixOption = "",
) -> None:
    """Acknowledge one alert: it stays visible, marked as taken in hand; earlier acknowledgements stay in history."""
    url, engine = _store(store)
    with Session(engine) as session:
        matches = session.exec(select(AlertRow).where(col(AlertRow.fingerprint).startswith(fingerprint)).limit(2)).all()
    if not fingerprint or not matches:
        _fail(f"no alert with fingerprint {fingerprint} in {url}")
    if len(matches) > 1:
        _fail(f"fingerprint prefix {fingerprint} matches more than one alert; give more characters")
    alert = Alert.model_validate_json(matches[0].body)
    if alert.status == "resolved":
        console.print(f"{rule_name(alert.rule)} ({alert.rule}) on {alert.subject} 已恢复 is already resolved; recorded")
    note = Acknowledgement(
        fingerprint=alert.fingerprint, operator_id=operator, acknowledged_at=datetime.now(UTC), comment=comment
    )
    acked = acknowledge(alert, note)
    history = {"fingerprint": note.fingerprint, "acknowledged_at": note.acknowledged_at}
    upsert_all(
        engine,
        [
            (AcknowledgementRow, [{**history, "operator_id": operator, "comment": comment}]),
            (AlertRow, [alert_row(acked)]),
        ],
    )
    what = f"{rule_name(acked.rule)} ({acked.rule}) on {acked.subject}, {acked.severity}"
    console.print(f"已确认 acknowledged {what}, by {operator}")
    if kafka:
        _to_operations(kafka, topic_prefix, note, note.fingerprint)


@alerts_app.command("suppress")
def suppress(
    school: Annotated[str, typer.Option(help="the school, e.g. S0042")],
    start: Annotated[str, typer.Option(help="start, with its UTC offset: 2026-09-01T09:00:00+08:00")],
    end: Annotated[str, typer.Option(help="end, with its UTC offset")],
    kafka: Annotated[str, typer.Option(help="bootstrap servers of the operations topic")],
    reason: Annotated[str, typer.Option(help="maintenance, fire_drill or other (other needs --rules)")] = "maintenance",
    rules: Annotated[list[str] | None, typer.Option(help="rules covered, e.g. security.fence")] = None,
    note: Annotated[str, typer.Option(help="what is going on")] = "",
    topic_prefix: PrefixOption = "",
) -> None:
    """Announce a maintenance or drill window: alerts its reason implies, raised there then, show as suppressed."""
    fields = {"school_id": school, "start": start, "end": end, "reason": reason, "note": note, "rules": rules or []}
    try:
        window = SuppressionWindow.model_validate(fields)
    except ValidationError as exc:
        _fail(f"not a suppression window: {describe_validation_error(exc)}")
        raise  # unreachable: _fail exits
    _to_operations(kafka, topic_prefix, window, school)
    covered = ", ".join(window.covered_rules) or "—"
    console.print(f"已抑制 window for {school} {local_text(window.start)} – {local_text(window.end)}: {covered}")


def _to_operations(bootstrap: str, prefix: str, action: BaseModel, key: str) -> None:
    from safecampus.connectors.kafka import KafkaUnavailableError, Topics, check_kafka, produce_batch

    try:
        check_kafka(bootstrap)
    except KafkaUnavailableError as exc:
        _fail(str(exc))
    topic = Topics(prefix).operations
    produce_batch(bootstrap, topic, [(key.encode(), action.model_dump_json().encode(), ())])
    console.print(f"→ {topic} @ {bootstrap}")
