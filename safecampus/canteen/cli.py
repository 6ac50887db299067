"""Canteen commands: `import canteen`, `report canteen | canteen-page | open-data`, `api`, `api token create`.

    safecampus import canteen ledger.xlsx --canteen C0001 --out raw/canteen.jsonl
    safecampus report canteen --canteen C0001 --month 2026-10 --format html --out C0001-2026-10.html
    safecampus api --port 8090

Messages a person reads are Chinese with English beside them; a file that cannot be used is one
line and exit 2; rows that cannot be used go to the DLQ and the command still exits 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from safecampus.config import Settings

api_app = typer.Typer(help="The canteen auditors' and public API (FastAPI).", invoke_without_command=True)
token_app = typer.Typer(help="API bearer tokens (stored hashed).", no_args_is_help=True)
api_app.add_typer(token_app, name="token")
console = Console()
errors = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def import_canteen(
    files: Annotated[list[Path], typer.Argument(help="CSV, XLSX or JSON files: ledger, surveys, ratings, disclosures")],
    out: Annotated[Path | None, typer.Option(help="replay file of raw envelopes (JSONL), appended")] = None,
    kafka: Annotated[
        str | None, typer.Option(help="bootstrap servers: records to raw.canteen, bad rows to dlq")
    ] = None,
    canteen: Annotated[str | None, typer.Option(help="the canteen of every row (no 食堂 column)")] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet name (default: the first sheet)")] = None,
    dlq: Annotated[Path | None, typer.Option(help="bad rows with --out (default: OUT as .dlq.jsonl)")] = None,
    topic_prefix: Annotated[str, typer.Option(help="prefix of the topic names (tests isolate themselves)")] = "",
) -> None:
    """Turn canteen files into raw envelopes, so that the stream and replay see the same records."""
    from safecampus.connectors.canteen.importer import ImportRefused, describe, import_file

    if (out is None) == (kafka is None):
        fail("说明记录去向 say where records go: --out RAW.jsonl (a replay file) or --kafka HOST:PORT (raw.canteen)", 2)
    results = []
    for path in files:
        try:
            results.append(import_file(path, canteen=canteen, sheet=sheet))
        except ImportRefused as exc:
            fail(str(exc), 2)
    envelopes = [e for r in results for e in r.envelopes]
    bad = [d for r in results for d in r.dlq]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as handle:
            handle.writelines(e.model_dump_json() + "\n" for e in envelopes)
        target = dlq or out.with_name(out.name.removesuffix(".jsonl") + ".dlq.jsonl")
        if bad:
            with target.open("a", encoding="utf-8") as handle:
                handle.writelines(d.model_dump_json() + "\n" for d in bad)
        where = f"{out}" + (f"，不能用的行 bad rows → {target}" if bad else "")
    else:
        where = _to_kafka(kafka or "", envelopes, bad, topic_prefix)
    for r in results:
        s = describe(r)
        extra = f"，跳过标题行 {s['title_rows']} 行 title rows skipped" if s["title_rows"] else ""
        ignored = f"，未用的列 ignored columns: {'、'.join(s['ignored_columns'])}" if s["ignored_columns"] else ""
        counts = f"{s['records']:,} 条记录 records，{s['refused']:,} 行不能用 refused"
        console.print(f"{s['file']}（{r.form.title}）：{counts}{extra}{ignored}", highlight=False)
        for d in r.dlq[:3]:
            console.print(f"  · {d.reason}", highlight=False)
    console.print(f"→ {where}", highlight=False)


def _to_kafka(bootstrap: str, envelopes: list[Any], bad: list[Any], prefix: str) -> str:
    from safecampus.connectors.kafka import KafkaUnavailableError, Topics, check_kafka, produce_batch
    from safecampus.publisher import raw_record

    try:
        check_kafka(bootstrap)
    except KafkaUnavailableError as exc:
        fail(str(exc), 2)
    topics = Topics(prefix)
    records = [raw_record(e.model_dump_json().encode("utf-8")) for e in envelopes]
    produce_batch(bootstrap, topics.raw("canteen"), [(r.key, r.value, r.headers) for r in records])
    dead: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = [
        (d.source_topic.encode(), d.model_dump_json().encode(), []) for d in bad
    ]
    if dead:
        produce_batch(bootstrap, topics.dlq, dead)
    return f"{topics.raw('canteen')} @ {bootstrap}" + (f"，不能用的行 bad rows → {topics.dlq}" if bad else "")


def _data(store: str | None) -> Any:
    from safecampus.canteen.data import CanteenData
    from safecampus.connectors.registry import EmptyRegistryError
    from safecampus.connectors.store import StoreError

    settings = Settings()
    try:
        return CanteenData.load(store or settings.database_url, settings)
    except (StoreError, EmptyRegistryError) as exc:
        fail(str(exc), 2)


Store = Annotated[str | None, typer.Option(help="store URL (default: settings)")]


def report_canteen(
    canteen: Annotated[str, typer.Option(help="canteen id, e.g. C0001")],
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    out: Annotated[Path, typer.Option(help="file to write")],
    format: Annotated[str, typer.Option("--format", help="html, xlsx, csv or json")] = "json",
    audience: Annotated[str, typer.Option(help="auditor (red flags with evidence) or public (disclosure)")] = "auditor",
    store: Store = None,
) -> None:
    """A canteen's monthly statement: the public disclosure or the auditors' report."""
    from safecampus.canteen.data import NotFound
    from safecampus.canteen.files import FORMATS, report_bytes

    if format not in FORMATS:
        fail(f"不认识的格式 unknown format {format!r}; choose from {', '.join(FORMATS)}", 2)
    if audience not in ("auditor", "public"):
        fail("--audience 只能是 auditor 或 public (auditor or public)", 2)
    data = _data(store)
    try:
        body = report_bytes(data, canteen, month, format, audience)  # type: ignore[arg-type]
    except NotFound as exc:
        fail(str(exc), 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    title = "审计报告 auditors' report" if audience == "auditor" else "收支公示 public disclosure"
    console.print(f"{canteen} {month} {title} → {out}", highlight=False)


def report_canteen_page(
    canteen: Annotated[str, typer.Option(help="canteen id")],
    out: Annotated[Path, typer.Option(help="HTML file to write")],
    store: Store = None,
) -> None:
    """A canteen's public page: latest disclosures, charts, satisfaction scores."""
    from safecampus.canteen.data import NotFound
    from safecampus.canteen.html import public_page_html

    data = _data(store)
    try:
        page = public_page_html(data, canteen)
    except NotFound as exc:
        fail(str(exc), 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    console.print(f"{canteen} 公开页面 public page → {out}", highlight=False)


def report_open_data(out: Annotated[Path, typer.Option(help="directory")], store: Store = None) -> None:
    """The published statements as open data: CSV + frictionless Table Schema + data package."""
    from safecampus.canteen.files import open_data_rows, write_open_data

    data = _data(store)
    package = write_open_data(data, out)
    console.print(f"{len(open_data_rows(data)):,} 份已公示月报 published statements → {package}", highlight=False)


@api_app.callback()
def api(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="TCP port")] = 8090,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    store: Store = None,
) -> None:
    """Serve the canteen API (bearer tokens: `safecampus api token create --role auditor|public`)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from safecampus.canteen.api import create_app

    url = store or Settings().database_url
    _data(url)  # a missing store or registry is one line here, not a traceback per request
    console.print(f"食堂接口 canteen API on http://{host}:{port}/  (OpenAPI: /openapi.json)", highlight=False)
    uvicorn.run(create_app(url), host=host, port=port, log_level="warning")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="public (published disclosures only) or auditor (everything)")],
    note: Annotated[str, typer.Option(help="what the token is for (no names)")] = "",
    store: Store = None,
) -> None:
    """Create a bearer token; it is printed once and stored only as its hash."""
    from safecampus.canteen.tokens import create_token
    from safecampus.connectors.store import StoreError, open_store

    if role not in ("public", "auditor"):
        fail("--role 只能是 public 或 auditor (public or auditor)", 2)
    try:
        engine = open_store(store or Settings().database_url, create=True)
    except StoreError as exc:
        fail(str(exc), 2)
    token = create_token(engine, role, note)  # type: ignore[arg-type]
    console.print(f"{role} 令牌 token（只显示这一次 shown once）：", highlight=False)
    print(token)


def register(report_app: typer.Typer, import_app: typer.Typer) -> None:
    """Add the canteen commands to `safecampus import` and `safecampus report`."""
    import_app.command("canteen")(import_canteen)
    report_app.command("canteen")(report_canteen)
    report_app.command("canteen-page")(report_canteen_page)
    report_app.command("open-data")(report_open_data)
