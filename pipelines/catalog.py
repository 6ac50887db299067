"""Which pipeline serves which domain (imports are local so a domain loads only what it uses)."""

from __future__ import annotations

from safecampus.config import Settings
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.domain import DomainPipeline
from safecampus.schemas.common import Domain, Record


def pipeline_class(domain: Domain) -> type[DomainPipeline[Record]]:
    """The domain's pipeline class."""
    if domain == "security":
        from safecampus.pipelines.security import SecurityPipeline

        return SecurityPipeline  # type: ignore[return-value]
    if domain == "bus":
        from safecampus.pipelines.bus import BusPipeline

        return BusPipeline  # type: ignore[return-value]
    if domain == "canteen":
        from safecampus.pipelines.canteen import CanteenPipeline

        return CanteenPipeline  # type: ignore[return-value]
    from safecampus.pipelines.fire import FirePipeline

    return FirePipeline  # type: ignore[return-value]


def pipeline_for(domain: Domain, settings: Settings, registry: RegistryView) -> DomainPipeline[Record]:
    """The domain's pipeline object over a registry (see `connectors.registry.registry_at`)."""
    return pipeline_class(domain)(settings, registry)
