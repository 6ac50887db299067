"""Canteen finance: the pipeline (decode, per-line rules) and the audit over a whole ledger (statements, checks)."""

from safecampus.pipelines.canteen.pipeline import CanteenPipeline

__all__ = ["CanteenPipeline"]
