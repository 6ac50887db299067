"""Childcare fire safety in the pipelines: forms against the checklist, per-institution detection, KPIs.

pipeline.py     `FirePipeline`: JSON forms and CSV/XLSX export rows → `FireInspection`
detector.py     `FireDetector`: one institution's book of inspections, the rules, the event-time clock
book.py         the inspections by item, and each finding's life cycle (found → rectified → confirmed)
board.py        what was shown, and the updates that bring it up to date (order-independent)
findings.py, remediation.py, patrols.py, intervals.py, structural.py   the rules
ledger.py       the remediation ledger (整改台账) and checklist compliance of an institution
kpis.py         compliance rates, open and overdue findings, days to rectify and confirm
"""

from safecampus.pipelines.fire.ledger import institution_ledger
from safecampus.pipelines.fire.pipeline import FirePipeline, inspection_event_id

__all__ = ["FirePipeline", "inspection_event_id", "institution_ledger"]
