"""Canteen intake and statements: the importer against a plain read of the same file, and the audit's cost.

    python bench/bench_canteen.py              # a year (365 days) of every simulated canteen's ledger
    python bench/bench_canteen.py --days 30

Prints, for the ledger as CSV and as XLSX (Chinese headers, a title row above them in the XLSX):
rows per second of `import_file` (header detection, cell parsing to exact Decimal, validation, raw
envelopes) and of a plain `csv.reader` / openpyxl read-only pass over the same file, and their ratio;
then the time to build one month's statements for every canteen (central kitchens allocated) and the
whole audit over the period. Asserts nothing; best of `--repeat` runs each.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from safecampus.config import Settings
from safecampus.connectors.canteen.importer import import_file
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.canteen import CanteenPipeline
from safecampus.pipelines.canteen.audit import run_audit
from safecampus.pipelines.canteen.book import CanteenBook
from safecampus.pipelines.canteen.statements import build_statements
from safecampus.schemas.canteen import CanteenLedgerEntry
from safecampus.schemas.envelope import RawEnvelope
from safecampus.simulator.city import build_city
from safecampus.simulator.ledger_files import write_ledger_files
from safecampus.simulator.run import simulate


def best(repeat: int, work: Callable[[], int]) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        n = work()
        times.append(time.perf_counter() - started)
    return min(times), n


def plain_csv(path: Path) -> int:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def plain_xlsx(path: Path) -> int:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    n = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 2
    book.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        sim = simulate(root / "sim", days=args.days, start=date(2026, 9, 1), domains=("canteen",))
        csv_file, xlsx_file = write_ledger_files(sim.raw_file("canteen"), root / "files")
        sizes = f"CSV {csv_file.stat().st_size / 2**20:.1f} MiB, XLSX {xlsx_file.stat().st_size / 2**20:.1f} MiB"
        print(
            f"{sim.counts['canteen']:,} raw canteen records over {args.days} days, files written in "
            f"{time.perf_counter() - started:.0f} s; {sizes}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        )
        print(f"{'file':<6} {'rows':>10} {'plain rows/s':>14} {'import rows/s':>14} {'ratio':>7}")
        for name, path, plain in (("CSV", csv_file, plain_csv), ("XLSX", xlsx_file, plain_xlsx)):
            plain_s, rows = best(args.repeat, lambda p=path, f=plain: f(p))  # type: ignore[misc]
            import_s, imported = best(args.repeat, lambda p=path: len(import_file(p).envelopes))  # type: ignore[misc]
            assert imported == rows, (imported, rows)
            print(
                f"{name:<6} {rows:>10,} {rows / plain_s:>14,.0f} {rows / import_s:>14,.0f} {plain_s / import_s:>7.2f}"
            )
        city = build_city(2026, on=date(2026, 9, 1))
        registry = RegistryView.of_rows(city.rows())
        pipeline = CanteenPipeline(Settings(), registry)
        with sim.raw_file("canteen").open(encoding="utf-8") as handle:
            records = [r for line in handle for r in pipeline.decode(RawEnvelope.model_validate_json(line))]
        book = CanteenBook.of(records)
        month = book.months()[0]
        month_book = CanteenBook.of(
            r for r in records if isinstance(r, CanteenLedgerEntry) and f"{r.booked_on:%Y-%m}" == month
        )
        month_s, statements = best(args.repeat, lambda: len(build_statements(month_book, registry)))
        audit_s, alerts = best(1, lambda: len(run_audit(book, registry, Settings().canteen).alerts))
        print(f"statements of one month ({month}) for every canteen: {statements} in {month_s * 1000:.0f} ms")
        print(f"whole audit over {args.days} days ({len(book.entries):,} lines): {audit_s:.1f} s, {alerts:,} alerts")


if __name__ == "__main__":
    main()
