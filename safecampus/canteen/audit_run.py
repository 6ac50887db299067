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


def audit_after_replay(store_url: str, out_dir: Path, settings: Settings) -> CanteenData:
    data = CanteenData.load(store_url, settings)
    kpis = audit_kpis(data)
    StoreSink(store_url).write(alerts=data.audit.alerts, kpis=kpis)
    with (out_dir / "kpis.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(k.model_dump_json() + "\n" for k in kpis)
    with (out_dir / "statements.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(s.model_dump_json() + "\n" for s in data.audit.statements)
    with (out_dir / "alerts.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(a.model_dump_json() + "\n" for a in data.audit.alerts)
    return data
