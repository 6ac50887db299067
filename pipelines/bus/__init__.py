"""The school-bus domain: decode and enrich (`pipeline`), the rules one terminal at a time
(`detector` and one module per rule), trips on the ground (`geometry`, `trips`), KPIs (`kpis`)."""

from safecampus.pipelines.bus.pipeline import BusPipeline

__all__ = ["BusPipeline"]
