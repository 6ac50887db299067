"""KPIs of pick-up centres from the security domain, labelled by centre (the registry's `PickupCentre`).

    pickup_vehicles_in_total{centre}, pickup_vehicles_out_total{centre}   barrier passages, counters' counts
    pickup_incidents_total{centre, month}    security incidents raised by the centre's devices, by local month
                                             (and without month: every month of the period)
    pickup_congestion_alerts_total{centre}   congestion alerts (security.pickup_congestion), once each
    pickup_peak_occupancy{centre}            the most vehicles inside at once over the period

Counts are additive partials. The peak is not a sum: each `PickupCentreDay` the detectors derive adds one to a
helper partial of its level (`_pickup_peak_seen{centre, level}`, a histogram, additive), and `finish` keeps the
highest level seen. Helper partials stay off the streaming `kpis` topic, like every name starting with `_`.
The bus side (arrivals and dwell at a centre) is `pipelines/bus/centres.py`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.domain import KpiPartials, add
from safecampus.pipelines.security.congestion import RULE as CONGESTION
from safecampus.schemas.alert import Alert
from safecampus.schemas.common import SHANGHAI, Record
from safecampus.schemas.security import PickupCentreDay, SecurityEvent

PEAK_SEEN = "_pickup_peak_seen"
# What a person counts as an incident at a centre: someone or something there, not a device's health.
INCIDENT_RULES: frozenset[str] = frozenset(
    f"security.{kind}" for kind in ("intrusion", "tripwire", "loitering", "one_key_alarm", "fence", "forced_door",
                                    "tamper")
)  # fmt: skip


def pickup_partials(
    events: Sequence[SecurityEvent], alerts: Sequence[Alert], derived: Sequence[Record], registry: RegistryView
) -> KpiPartials:
    """Additive counts of a chunk: vehicles in and out, incidents by month, congestion, peak levels seen."""
    partials: KpiPartials = {}
    for event in events:
        if event.site_id is None:
            continue
        if event.event_type == "vehicle_passage":
            add(partials, f"pickup_vehicles_{event.direction}_total", centre=event.site_id)
        elif event.event_type == "vehicle_count":
            add(partials, "pickup_vehicles_in_total", float(event.entered or 0), centre=event.site_id)
            add(partials, "pickup_vehicles_out_total", float(event.exited or 0), centre=event.site_id)
    for alert in alerts:
        device = registry.devices.get(alert.subject)
        summary = alert.evidence[0] if alert.evidence else {}
        if device is None or device.site_id is None or not summary.get("opened", True):
            continue  # alerts.jsonl is an update log: each alert counts once, when it opened
        if alert.rule == CONGESTION:
            add(partials, "pickup_congestion_alerts_total", centre=device.site_id)
        elif alert.rule in INCIDENT_RULES:
            month = alert.occurred_at.astimezone(SHANGHAI).strftime("%Y-%m")
            add(partials, "pickup_incidents_total", centre=device.site_id, month=month)
            add(partials, "pickup_incidents_total", centre=device.site_id)  # all months: the exporter's
    for record in derived:
        if isinstance(record, PickupCentreDay):
            add(partials, PEAK_SEEN, centre=record.centre_id, level=str(record.peak_occupancy))
    return partials


def finish_pickup(totals: KpiPartials) -> KpiPartials:
    """The summed partials with the peak of each centre in place of its helper histogram."""
    out = {key: value for key, value in totals.items() if key[0] != PEAK_SEEN}
    for (metric, labels), seen in totals.items():
        if metric == PEAK_SEEN and seen > 0:
            named = dict(labels)
            key = ("pickup_peak_occupancy", (("centre", named["centre"]),))
            out[key] = max(out.get(key, 0.0), float(named["level"]))
    return out
