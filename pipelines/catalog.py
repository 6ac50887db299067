"""Which pipeline serves which domain, and the registry each one reads."""

from __future__ import annotations

from functools import lru_cache

from safecampus.config import Settings
from safecampus.pipelines.domain import DomainPipeline
from safecampus.registry import RegistryView, load_view
from safecampus.schemas.common import Domain, Record
from safecampus.store import engine_for


@lru_cache(maxsize=4)
def registry_for(url: str | None) -> RegistryView:
    """The registry in the store at `url`; the seeded synthetic city when there is none."""
    if url:
        view = load_view(engine_for(url))
        if not view.is_empty():
            return view
    from safecampus.simulator.city import build_city

    return RegistryView.of_rows(build_city().rows())


def pipeline_for(domain: Domain, settings: Settings, registry: RegistryView) -> DomainPipeline[Record]:
    """The domain's pipeline object (imports are local so a domain loads only what it uses)."""
    if domain == "security":
        from safecampus.pipelines.security import SecurityPipeline

        return SecurityPipeline(settings, registry)  # type: ignore[return-value]
    if domain == "bus":
        from safecampus.pipelines.bus import BusPipeline

        return BusPipeline(settings, registry)  # type: ignore[return-value]
    if domain == "canteen":
        from safecampus.pipelines.canteen import CanteenPipeline

        return CanteenPipeline(settings, registry)  # type: ignore[return-value]
    from safecampus.pipelines.fire import FirePipeline

    return FirePipeline(settings, registry)  # type: ignore[return-value]
