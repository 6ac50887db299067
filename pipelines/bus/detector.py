"""`BusDetector`: the bus rules for one terminal, in event time — a thin coordinator of rule objects.

Each rule object has one job and its own slice of the settings (see the rule modules);
this class only feeds them in order and keeps what they share: the newest fix and the run.
The batch and streaming runners feed it each terminal's events in event-time order (late and
duplicate fixes are tolerated).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from safecampus.config import BusRules
from safecampus.connectors.registry import RegistryView
from safecampus.pipelines.alerts import AlertOnce
from safecampus.pipelines.bus.adherence import StopAdherence
from safecampus.pipelines.bus.alarms import TerminalAlarms
from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.all_off import AllOffConfirmation
from safecampus.pipelines.bus.centres import CentreVisits
from safecampus.pipelines.bus.geometry import TripPlan
from safecampus.pipelines.bus.off_route import OffRoute
from safecampus.pipelines.bus.overspeed import TERMINAL_FLAG, Overspeed
from safecampus.pipelines.bus.registry_checks import RegistryChecks
from safecampus.pipelines.bus.run import Run
from safecampus.pipelines.bus.runs import RunTracker
from safecampus.pipelines.bus.silence import TerminalSilence
from safecampus.pipelines.domain import Detector
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent, BusRun
from safecampus.schemas.common import Record


class BusDetector(Detector[BusEvent]):
    """The bus rules for one terminal, in event time.

    A fix not newer than the last one processed (late, or a duplicate) leaves the sequential
    rules alone: it would otherwise break consecutive counts and episodes. Each (fingerprint,
    status) is emitted once, so a replayed or duplicated fix never makes a second alert. A run
    that ends becomes a `BusRun` record (`take_records`), not an alert; so does each visit to a pick-up
    centre (`CentreVisit`, centres.py).
    """

    def __init__(
        self,
        terminal_id: str,
        rules: BusRules,
        registry: RegistryView,
        plans: Sequence[TripPlan],
        fleet_once: AlertOnce | None = None,
    ) -> None:
        """`fleet_once`: shared by the detectors of one pipeline, so an alert about more than this
        terminal (an operator's expired licence), made alike by each of its terminals, goes out once."""
        self.terminal_id = terminal_id
        bus = registry.buses_by_terminal.get(terminal_id)
        interval = bus.report_interval_s if bus else rules.default_report_interval_s
        alerts = self.alerts = TerminalAlerts(terminal_id, bus.plate if bus else None)
        self.registry_checks = RegistryChecks(
            bus,
            registry.operators,
            registry.drivers_by_bus.get(bus.bus_id, []) if bus else [],
            inspection_interval_days=rules.inspection_interval_days,
            driver_min_age=rules.driver_min_age,
            driver_max_age=rules.driver_max_age,
            driver_min_years_licensed=rules.driver_min_years_licensed,
            alerts=alerts,
            fleet=registry.buses_by_terminal,
            district_of=registry.district_of_school,
        )
        self.alarms = TerminalAlarms(alerts)
        self.overspeed = Overspeed(rules.overspeed_other_kmh, rules.overspeed_sustained_s, alerts)
        self.off_route = OffRoute(rules.offroute_distance_m, rules.offroute_consecutive_fixes, alerts)
        self.silence = TerminalSilence(timedelta(seconds=rules.stale_interval_factor * interval), alerts)
        self.all_off = AllOffConfirmation(rules.all_off_grace_s, alerts)
        adherence = StopAdherence(rules.stop_geofence_m, rules.on_time_early_s, rules.on_time_late_s, alerts)
        self.runs = RunTracker(
            plans, adherence, service_margin_s=rules.service_margin_s, alerts=alerts, on_end=self._run_ended
        )
        self.centres = CentreVisits(list(registry.centres.values()))
        self.once = AlertOnce()
        self.fleet_once = fleet_once
        self._last: BusEvent | None = None  # the newest fix processed
        self._records: list[Record] = []

    # --- the Detector interface -------------------------------------------------------------------

    def observe(self, event: BusEvent) -> list[Alert]:
        self.alerts.see(event)
        alerts: list[Alert] = []
        if event.kind == "all_off":
            alerts += self.all_off.confirm(event.occurred_at, self.runs.current)
        alerts += self._due(event.occurred_at)
        alerts += self.registry_checks.observe(event)
        if event.kind == "fix" and (self._last is None or event.occurred_at > self._last.occurred_at):
            alerts += self._fix(event)
        fresh = self.once(alerts)
        if self.fleet_once is None or all(a.subject == self.terminal_id for a in fresh):
            return fresh
        fleet = set(map(id, self.fleet_once([a for a in fresh if a.subject != self.terminal_id])))
        return [a for a in fresh if a.subject == self.terminal_id or id(a) in fleet]

    def expire(self, now: datetime) -> list[Alert]:
        return self.once(self._due(now))

    def next_deadline(self) -> datetime | None:
        deadlines = (
            self.all_off.deadline(),
            self.runs.deadline(),
            self.silence.deadline(self._last, self.runs.current),
        )
        return min((d for d in deadlines if d is not None), default=None)

    def take_records(self) -> list[Record]:
        records, self._records = self._records, []
        return records

    # --- in order ---------------------------------------------------------------------------------

    def _due(self, now: datetime) -> list[Alert]:
        """Everything whose deadline has passed by event time `now`: silence, run end, all-off."""
        alerts = self.silence.due(now, self._last, self.runs.current)
        alerts += self.runs.due(now)
        alerts += self.all_off.due(now)
        return alerts

    def _fix(self, event: BusEvent) -> list[Alert]:
        self._last = event
        alerts = self.silence.resumed(event)
        alerts += self.overspeed.observe(event)  # first: it may hold the terminal's own overspeed flag
        speeding = self.overspeed
        released = {TERMINAL_FLAG: speeding.released} if speeding.released else None
        alerts += self.alarms.observe(event, (TERMINAL_FLAG,) if speeding.holds_terminal_flag else (), released)
        if not event.positioned or event.lat_deg is None or event.lon_deg is None:
            return alerts  # an unpositioned fix proves the terminal is alive, nothing about where it is
        self._records.extend(self.centres.observe(event))
        alerts += self.runs.roll(event)
        run = self.runs.current
        if run is not None:
            alerts += self.off_route.observe(event, run.plan)
            alerts += self.runs.advance(run, event)
        return alerts

    def _run_ended(self, run: Run, record: BusRun) -> None:
        self._records.append(record)
        self.all_off.run_ended(run)
