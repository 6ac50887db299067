"""GTFS checked on the way in: the canonical GTFS Schedule rules (MobilityData's rule set), before loading.

A feed without `stops.txt` would otherwise load "cleanly" and silently switch off the rules that
need stops (off-route, lateness, silent terminal, students left on the bus). `check_feed` runs the
`gtfs-validator` package (a pure-Python reimplementation of MobilityData's canonical validator,
tested against its jar) over a feed folder and sorts its notices: errors refuse the feed, warnings
are told.

    >>> check = check_feed(Path("out/sim/registry/gtfs"))
    >>> check.errors                        # ["missing_required_file: agency.txt", …]
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Latin capitalisation advice: a false alarm on Chinese route and stop names.
IGNORED: frozenset[str] = frozenset({"mixed_case_recommended_field"})
SAMPLE_KEYS = ("filename", "fieldName", "csvRowNumber", "childFieldName", "parentFilename", "fieldValue")


@dataclass
class FeedCheck:
    """What the validator said of a feed: errors (the feed is refused) and warnings, in plain lines."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_feed(feed_dir: Path) -> FeedCheck:
    """Validate the GTFS feed in `feed_dir` against the canonical rules."""
    from gtfs_validator.cli import main as validate

    check = FeedCheck()
    with tempfile.TemporaryDirectory(prefix="gtfs-check-") as out:
        quiet = io.StringIO()
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            code = validate(["-i", str(feed_dir), "-o", out])
        report = Path(out) / "report.json"
        if code != 0 or not report.is_file():
            check.errors.append(f"the GTFS feed in {feed_dir} could not be read ({quiet.getvalue().strip()[:200]})")
            return check
        notices: list[dict[str, Any]] = json.loads(report.read_text(encoding="utf-8")).get("notices", [])
    for notice in notices:
        if notice.get("code") not in IGNORED:
            (check.errors if notice.get("severity") == "ERROR" else check.warnings).append(_describe(notice))
    return check


def _describe(notice: dict[str, Any]) -> str:
    """`code: where` of the first sample, and how many more there are."""
    samples = notice.get("sampleNotices") or [{}]
    where = ", ".join(f"{k} {samples[0][k]}" for k in SAMPLE_KEYS if k in samples[0])
    more = int(notice.get("totalNotices", 1)) - 1
    return f"{notice.get('code')}: {where}" + (f" (and {more} more)" if more > 0 else "")
