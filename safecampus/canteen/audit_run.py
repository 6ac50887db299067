"""The canteen audit after a replay (or on demand): statements and ledger-wide alerts into the store and files.

`replay canteen` runs it over the whole store once the pipeline has upserted the file's records, so
the checks that need every canteen and month (duplicates across canteens, city median prices,
event-time deadlines) see the same records as a stream that filled the store. Its alerts go through
the one store sink, its statements to `DIR/statements.jsonl`, its alerts also into `DIR/alerts.jsonl` and
its KPIs (`kpis.py`: surplus rate, ingredient share, disclosure status, red flags by rule and district)
into the store and `DIR/kpis.jsonl`.
"""

from __future__ import annotations

from pathlib import Path

from safecampus.canteen.data import CanteenData
from safecampus.canteen.kpis import audit_kpis
from safecampus.config import Settings
from safecampus.connectors.store import StoreSink
from safecampus.schemas.alert import Alert


def audit_after_replay(store_url: str, out_dir: Path, settings: Settings, source: Path | None = None) -> CanteenData:
    """The audit over the store; with `source` (the replayed file) its alerts name that file's lines
    behind their evidence in `source_offsets`, as the pipeline's own alerts do."""
    data = CanteenData.load(store_url, settings)
    if source is not None and data.audit.alerts:
        data.audit.alerts[:] = _with_lines(data.audit.alerts, source, store_url, settings)
    kpis = audit_kpis(data, settings.canteen)
    StoreSink(store_url).write(alerts=data.audit.alerts, kpis=kpis)
    with (out_dir / "kpis.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(k.model_dump_json() + "\n" for k in kpis)
    with (out_dir / "statements.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(s.model_dump_json() + "\n" for s in data.audit.statements)
    with (out_dir / "alerts.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(a.model_dump_json() + "\n" for a in data.audit.alerts)
    return data


def _with_lines(alerts: list[Alert], source: Path, store_url: str, settings: Settings) -> list[Alert]:
    """Alerts with the lines of `source` their evidence's ledger entries came from (decoded as replay
    decodes them, so the event ids and line numbers are the pipeline's own)."""
    from safecampus.connectors.registry import registry_at
    from safecampus.pipelines.catalog import pipeline_for
    from safecampus.pipelines.detection import attach_offsets
    from safecampus.pipelines.normalize import normalize_lines

    pipeline = pipeline_for("canteen", settings, registry_at(store_url))
    with source.open("rb") as handle:
        lines = [(number, line.rstrip(b"\n")) for number, line in enumerate(handle, start=1)]
    return attach_offsets(alerts, normalize_lines(pipeline, lines, source.name).origins, source.name, None)
