"""School-bus detection: the rules of DOMAIN_RULES.md "School buses", per terminal, in event time.

`BusDetector` is what `BusPipeline.new_detector` returns; the batch and streaming runners feed it
each terminal's events in event-time order (late and duplicate fixes are tolerated).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from safecampus.connectors.jt808 import (
    ALARM_EMERGENCY,
    ALARM_ILLEGAL_DOOR_OPENING,
    ALARM_OVERSPEED,
    ALARM_ROUTE_DEVIATION,
    STATUS_POSITIONED,
)
from safecampus.pipelines.bus_geometry import (
    TripPlan,
    closest_approach,
    service_day,
    service_time,
)
from safecampus.pipelines.domain import Detector
from safecampus.schemas.alert import Alert, AlertStatus, alert_fingerprint
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import Severity, local_text
from safecampus.schemas.registry import Driver

if TYPE_CHECKING:
    from safecampus.pipelines.bus import BusPipeline

# A missed stop geofence must not let the run jump to a far stop the route happens to pass near.
STOP_LOOKAHEAD = 2
MAX_EVIDENCE = 12  # evidence is for a person; the first fixes of an episode tell the story

TRIP_COMPLETED = "bus.trip_completed"  # info record per run: the stop visits behind the on-time KPI


@dataclass(frozen=True)
class AlarmRule:
    """A terminal alarm flag passed through as `bus.terminal_alarm.<name>`."""

    flag: int
    name: str
    severity: Severity
    title: str


ALARM_RULES: tuple[AlarmRule, ...] = (
    AlarmRule(ALARM_EMERGENCY, "emergency", "critical", "終端緊急報警"),
    AlarmRule(ALARM_OVERSPEED, "overspeed", "high", "終端超速報警"),
    AlarmRule(ALARM_ROUTE_DEVIATION, "route_deviation", "warning", "終端路線偏離報警"),
    AlarmRule(ALARM_ILLEGAL_DOOR_OPENING, "illegal_door_opening", "high", "終端非法開門報警"),
)


def latlon(event: BusEvent) -> tuple[float, float]:
    return event.lat_deg or 0.0, event.lon_deg or 0.0


def _evidence(item: BusEvent | dict[str, Any]) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_none=True) if isinstance(item, BusEvent) else item


@dataclass
class _Episode:
    """Consecutive fixes breaking one rule (speeding, off the route); `window` keys its alert."""

    started_at: datetime
    fixes: list[BusEvent] = field(default_factory=list)
    count: int = 0
    worst: float = 0.0
    alerted: bool = False

    def add(self, event: BusEvent, value: float) -> None:
        self.count += 1
        self.worst = max(self.worst, value)
        if len(self.fixes) < MAX_EVIDENCE:
            self.fixes.append(event)

    @property
    def window(self) -> str:
        return self.started_at.isoformat()


@dataclass
class _Run:
    """One trip of the timetable being driven on one service day."""

    plan: TripPlan
    day: date
    started_at: datetime
    last_fix_at: datetime
    next_stop: int = 0
    prev_xy: tuple[float, float] | None = None
    prev_at: datetime | None = None
    origin_inside_at: datetime | None = None
    visits: list[dict[str, Any]] = field(default_factory=list)
    late_open: bool = False
    ended_at: datetime | None = None
    all_off_at: datetime | None = None
    no_all_off_fired: bool = False

    @property
    def key(self) -> str:
        return f"{self.plan.trip_id}/{self.day.isoformat()}"

    margin_s: int = 1800  # set from BusRules.service_margin_s when the run starts

    def window_end(self) -> datetime:
        return service_time(self.day, self.plan.end_s + self.margin_s)


class BusDetector(Detector[BusEvent]):
    """The bus rules for one terminal, in event time.

    A fix not newer than the last one processed (late, or a duplicate) leaves the sequential
    rules alone: it would otherwise break consecutive counts and episodes. Each (fingerprint,
    status) is emitted once, so a replayed or duplicated fix never makes a second alert.
    """

    def __init__(self, pipeline: BusPipeline, terminal_id: str) -> None:
        self.terminal_id = terminal_id
        self.rules = pipeline.settings.bus
        self.registry = pipeline.registry
        self.bus = self.registry.buses_by_terminal.get(terminal_id)
        interval = self.bus.report_interval_s if self.bus else self.rules.default_report_interval_s
        self.stale = timedelta(seconds=self.rules.stale_interval_factor * interval)
        self.grace = timedelta(seconds=self.rules.all_off_grace_s)
        self.plans = pipeline.trip_plans(self.bus)
        self._sent: set[tuple[str, str]] = set()
        self._days: set[date] = set()
        self._context: BusEvent | None = None  # the latest event: school and district for timer alerts
        self._last: BusEvent | None = None  # the newest fix processed
        self._flags = 0
        self._flag_windows: dict[str, str] = {}
        self._speeding: _Episode | None = None
        self._off_route: _Episode | None = None
        self._silent_from: datetime | None = None
        self._run: _Run | None = None
        self._done: set[str] = set()
        self._waiting: list[_Run] = []  # ended runs without the escort's "all off" yet
        self._loose_all_off: list[datetime] = []  # confirmations that arrived before their run's fixes

    # --- the Detector interface -------------------------------------------------------------------

    def observe(self, event: BusEvent) -> list[Alert]:
        if self._context is None or event.occurred_at >= self._context.occurred_at:
            self._context = event
        alerts: list[Alert] = []
        if event.kind == "all_off":
            alerts += self._all_off(event)
        alerts += self._due(event.occurred_at)
        day = service_day(event.occurred_at)
        if day not in self._days:
            self._days.add(day)
            alerts += self._daily_checks(event, day)
        if event.kind == "fix" and (self._last is None or event.occurred_at > self._last.occurred_at):
            alerts += self._fix(event)
        return self._once(alerts)

    def expire(self, now: datetime) -> list[Alert]:
        return self._once(self._due(now))

    def next_deadline(self) -> datetime | None:
        deadlines = [
            run.ended_at + self.grace
            for run in self._waiting
            if run.ended_at and not run.no_all_off_fired and run.all_off_at is None
        ]
        run = self._run
        if run is not None and run.ended_at is None:
            deadlines.append(run.window_end())
            if self._last is not None and self._silent_from is None:
                deadlines.append(self._last.occurred_at + self.stale)
        return min(deadlines, default=None)

    # --- timers ---------------------------------------------------------------------------------

    def _due(self, now: datetime) -> list[Alert]:
        """Everything whose deadline has passed by event time `now`: silence, run end, all-off."""
        alerts: list[Alert] = []
        run, last = self._run, self._last
        if run is not None and run.ended_at is None and last is not None and self._silent_from is None:
            deadline = last.occurred_at + self.stale
            if last.occurred_at >= run.started_at and deadline <= now and deadline <= run.window_end():
                self._silent_from = last.occurred_at
                alerts.append(
                    self._alert(
                        "bus.terminal_silent",
                        last.occurred_at.isoformat(),
                        "warning",
                        deadline,
                        deadline,
                        "校車車載終端失聯",
                        f"運行中超過 {self.stale.total_seconds():.0f} 秒未上報定位,"
                        f"最後定位 {local_text(last.occurred_at)}。",
                        [last],
                    )
                )
        if run is not None and run.ended_at is None and now > run.window_end():
            alerts += self._end_run(run, run.last_fix_at, reached=False)
        for waiting in self._waiting:
            if (
                waiting.ended_at
                and waiting.all_off_at is None
                and not waiting.no_all_off_fired
                and now >= waiting.ended_at + self.grace
            ):
                waiting.no_all_off_fired = True
                alerts.append(self._no_all_off(waiting, "firing", waiting.ended_at + self.grace))
        # Forget runs that were confirmed, or whose alert is a day old (nothing left to resolve).
        self._waiting = [
            w
            for w in self._waiting
            if w.all_off_at is None and (w.ended_at is None or now - w.ended_at < timedelta(days=1))
        ]
        return alerts

    # --- per-event rules --------------------------------------------------------------------------

    def _daily_checks(self, event: BusEvent, day: date) -> list[Alert]:
        """Registry rules, once per terminal per service day, on its first event of the day."""
        window, at = day.isoformat(), event.occurred_at
        bus = self.bus
        if bus is None:
            return [
                self._alert(
                    "bus.unregistered",
                    window,
                    "high",
                    at,
                    at,
                    "未登記的校車車載終端",
                    f"終端 {self.terminal_id} 不在校車登記冊中(疑似掛靠或未備案車輛)。",
                    [event],
                )
            ]
        alerts: list[Alert] = []
        operator = self.registry.operators.get(bus.operator_id)
        if operator is None or operator.licence_expires_on < day:
            detail = (
                f"運營企業 {bus.operator_id} 不在登記冊中。"
                if operator is None
                else f"{operator.name} 的經營許可已於 {operator.licence_expires_on} 到期。"
            )
            alerts.append(
                self._alert(
                    "bus.operator_licence_expired",
                    window,
                    "high",
                    at,
                    at,
                    "校車運營企業許可過期",
                    f"車牌 {bus.plate}:{detail}",
                    [event],
                )
            )
        drivers = self.registry.drivers_by_bus.get(bus.bus_id, [])
        problems = [reason for driver in drivers for reason in self._driver_problems(driver)]
        if not drivers:
            problems.append("未登記駕駛員")
        if problems:
            alerts.append(
                self._alert(
                    "bus.driver_out_of_rules",
                    window,
                    "high",
                    at,
                    at,
                    "校車駕駛員不符合資格",
                    ";".join(problems) + "。",
                    [event],
                )
            )
        overdue = (day - bus.last_inspected_on).days
        if overdue > self.rules.inspection_interval_days:
            alerts.append(
                self._alert(
                    "bus.inspection_overdue",
                    window,
                    "warning",
                    at,
                    at,
                    "校車安全技術檢驗逾期",
                    f"車牌 {bus.plate} 上次檢驗 {bus.last_inspected_on},已 {overdue} 天"
                    f"(應每 {self.rules.inspection_interval_days} 天一次)。",
                    [event],
                )
            )
        return alerts

    def _driver_problems(self, driver: Driver) -> list[str]:
        """Order 617 Art. 23: age, years of driving, clean record."""
        rules, who, problems = self.rules, f"駕駛員 {driver.driver_id}", []
        if not rules.driver_min_age <= driver.age <= rules.driver_max_age:
            problems.append(f"{who} 年齡 {driver.age} 歲,不在 {rules.driver_min_age}–{rules.driver_max_age} 歲之間")
        if driver.years_licensed < rules.driver_min_years_licensed:
            problems.append(f"{who} 駕齡 {driver.years_licensed} 年,不足 {rules.driver_min_years_licensed} 年")
        if not driver.clean_record:
            problems.append(f"{who} 有違法或事故記錄")
        return problems

    def _all_off(self, event: BusEvent) -> list[Alert]:
        """The escort confirmed all students off: it belongs to the latest run started before it."""
        at = event.occurred_at
        runs = [r for r in [*self._waiting, self._run] if r is not None and r.all_off_at is None and r.started_at <= at]
        if not runs:
            self._loose_all_off.append(at)
            return []
        run = max(runs, key=lambda r: r.started_at)
        run.all_off_at = at
        return [self._no_all_off(run, "resolved", at)] if run.no_all_off_fired else []

    def _fix(self, event: BusEvent) -> list[Alert]:
        self._last = event
        alerts: list[Alert] = []
        if self._silent_from is not None:
            alerts.append(
                self._alert(
                    "bus.terminal_silent",
                    self._silent_from.isoformat(),
                    "warning",
                    self._silent_from + self.stale,
                    event.occurred_at,
                    "校車車載終端失聯",
                    f"{local_text(event.occurred_at)} 恢復上報定位。",
                    [event],
                    "resolved",
                )
            )
            self._silent_from = None
        alerts += self._alarm_edges(event)
        alerts += self._overspeed(event)
        if not event.status_flags & STATUS_POSITIONED or event.lat_deg is None or event.lon_deg is None:
            return alerts  # an unpositioned fix proves the terminal is alive, nothing about where it is
        alerts += self._roll_run(event)
        if self._run is not None:
            alerts += self._route_check(self._run, event)
            alerts += self._adherence(self._run, event)
        return alerts

    def _alarm_edges(self, event: BusEvent) -> list[Alert]:
        """Edge-triggered: one alert when a flag appears, resolved when it clears."""
        alerts: list[Alert] = []
        at = event.occurred_at
        for rule in ALARM_RULES:
            now_on, was_on = bool(event.alarm_flags & rule.flag), bool(self._flags & rule.flag)
            if now_on and not was_on:
                self._flag_windows[rule.name] = at.isoformat()
                detail = f"車載終端於 {local_text(at)} 上報{rule.title}。"
                alerts.append(
                    self._alert(
                        f"bus.terminal_alarm.{rule.name}",
                        at.isoformat(),
                        rule.severity,
                        at,
                        at,
                        rule.title,
                        detail,
                        [event],
                    )
                )
            elif was_on and not now_on:
                window = self._flag_windows.pop(rule.name, at.isoformat())
                alerts.append(
                    self._alert(
                        f"bus.terminal_alarm.{rule.name}",
                        window,
                        rule.severity,
                        datetime.fromisoformat(window),
                        at,
                        rule.title,
                        f"{local_text(at)} 報警標誌已清除。",
                        [event],
                        "resolved",
                    )
                )
        self._flags = event.alarm_flags
        return alerts

    def _overspeed(self, event: BusEvent) -> list[Alert]:
        limit, speed = self.rules.overspeed_other_kmh, event.speed_kmh or 0.0
        episode = self._speeding
        if speed <= limit:
            self._speeding = None
            if episode is not None and episode.alerted:
                return [
                    self._alert(
                        "bus.overspeed",
                        episode.window,
                        "high",
                        episode.started_at,
                        event.occurred_at,
                        "校車超速",
                        f"{local_text(event.occurred_at)} 車速降至 {speed:.0f} km/h。",
                        [event],
                        "resolved",
                    )
                ]
            return []
        if episode is None:
            episode = self._speeding = _Episode(event.occurred_at)
        episode.add(event, speed)
        lasted = (event.occurred_at - episode.started_at).total_seconds()
        if episode.alerted or lasted < self.rules.overspeed_sustained_s:
            return []
        episode.alerted = True
        return [
            self._alert(
                "bus.overspeed",
                episode.window,
                "high",
                episode.started_at,
                event.occurred_at,
                f"校車超速 {episode.worst:.0f} km/h(限速 {limit:.0f} km/h)",
                f"自 {local_text(episode.started_at)} 起持續超速 {lasted:.0f} 秒,最高 {episode.worst:.0f} km/h。",
                episode.fixes,
            )
        ]

    # --- runs: route, timetable, all-off ----------------------------------------------------------

    def _roll_run(self, event: BusEvent) -> list[Alert]:
        """Keep the current run while the fix is inside its window; else close it and pick the next."""
        at, run = event.occurred_at, self._run
        if run is not None and run.ended_at is None and at <= run.window_end():
            return []
        alerts = self._end_run(run, run.last_fix_at, reached=False) if run and run.ended_at is None else []
        self._run = None
        margin = timedelta(seconds=self.rules.service_margin_s)
        best: tuple[float, TripPlan, date] | None = None
        for plan in self.plans:
            for day in (service_day(at), service_day(at) - timedelta(days=1)):  # GTFS times may pass 24:00
                start, end = service_time(day, plan.start_s), service_time(day, plan.end_s)
                done = f"{plan.trip_id}/{day.isoformat()}" in self._done
                if done or not start - margin <= at <= end + margin:
                    continue
                # The trip whose timetable is nearest the fix: 0 inside it, else seconds to its start or end.
                gap = max((start - at).total_seconds(), (at - end).total_seconds(), 0.0)
                if best is None or gap < best[0]:
                    best = (gap, plan, day)
        if best is not None:
            self._run = _Run(
                plan=best[1], day=best[2], started_at=at, last_fix_at=at, margin_s=self.rules.service_margin_s
            )
        return alerts

    def _route_check(self, run: _Run, event: BusEvent) -> list[Alert]:
        distance = run.plan.distance_to_route_m(event.lat_deg or 0.0, event.lon_deg or 0.0)
        if distance is None:
            return []
        episode = self._off_route
        if distance <= self.rules.offroute_distance_m:
            self._off_route = None
            if episode is not None and episode.alerted:
                return [
                    self._alert(
                        "bus.off_route",
                        episode.window,
                        "warning",
                        episode.started_at,
                        event.occurred_at,
                        "校車偏離核定路線",
                        f"{local_text(event.occurred_at)} 回到路線上。",
                        [event],
                        "resolved",
                    )
                ]
            return []
        if episode is None:
            episode = self._off_route = _Episode(event.occurred_at)
        episode.add(event, distance)
        if episode.alerted or episode.count < self.rules.offroute_consecutive_fixes:
            return []
        episode.alerted = True
        return [
            self._alert(
                "bus.off_route",
                episode.window,
                "warning",
                episode.started_at,
                event.occurred_at,
                "校車偏離核定路線",
                f"線路 {run.plan.route_id}:連續 {episode.count} 個定位點距路線超過 "
                f"{self.rules.offroute_distance_m:.0f} 米(最遠 {episode.worst:.0f} 米)。",
                episode.fixes,
            )
        ]

    def _adherence(self, run: _Run, event: BusEvent) -> list[Alert]:
        """Stop visits by geofence on the segment from the previous fix, so a fast bus cannot skip one."""
        at, xy = event.occurred_at, run.plan.xy(event.lat_deg or 0.0, event.lon_deg or 0.0)
        prev_xy, prev_at = run.prev_xy or xy, run.prev_at or at
        run.prev_xy, run.prev_at, run.last_fix_at = xy, at, at
        stops, radius, alerts = run.plan.stops, self.rules.stop_geofence_m, []
        if run.next_stop == 0:
            # The origin is measured by departure: the last fix inside its geofence before leaving.
            distance, _ = closest_approach(stops[0].xy, xy, xy)
            if distance <= radius:
                run.origin_inside_at = at
                return []
            passed, f = closest_approach(stops[0].xy, prev_xy, xy)
            if run.origin_inside_at is not None or passed <= radius:
                alerts += self._visit(run, 0, run.origin_inside_at or prev_at + (at - prev_at) * f, event)
        first = max(run.next_stop, 1)
        for k in range(first, min(len(stops), first + 1 + STOP_LOOKAHEAD)):
            if k < run.next_stop:
                continue
            distance, f = closest_approach(stops[k].xy, prev_xy, xy)
            if distance <= radius:
                alerts += self._visit(run, k, prev_at + (at - prev_at) * f, event)
        if run.next_stop >= len(stops) and run.ended_at is None:
            alerts += self._end_run(run, at, reached=True)
        return alerts

    def _visit(self, run: _Run, k: int, at: datetime, event: BusEvent) -> list[Alert]:
        stop = run.plan.stops[k]
        run.next_stop = k + 1
        if not stop.timed:
            return []
        scheduled = service_time(run.day, stop.scheduled_s)
        delay = round((at - scheduled).total_seconds())
        status = (
            "late"
            if delay > self.rules.on_time_late_s
            else "early"
            if delay < -self.rules.on_time_early_s
            else "on_time"
        )
        run.visits.append(
            {
                "stop_id": stop.stop_id,
                "stop_sequence": stop.sequence,
                "trip_id": run.plan.trip_id,
                "kind": "departure" if k == 0 else "arrival",
                "scheduled": scheduled.isoformat(),
                "actual": at.isoformat(),
                "delay_s": delay,
                "status": status,
            }
        )
        if k == 0:
            return []  # a late departure shows in the KPIs; the alert is about arriving late
        if status == "late" and not run.late_open:
            run.late_open = True
            return [
                self._alert(
                    "bus.late_arrival",
                    run.key,
                    "warning",
                    at,
                    at,
                    f"校車到站晚點 {delay // 60} 分鐘",
                    f"線路 {run.plan.route_id} 班次 {run.plan.trip_id} 於 {local_text(at)} 到達 {stop.stop_id},"
                    f"計劃 {local_text(scheduled)}。",
                    [event, run.visits[-1]],
                )
            ]
        if status != "late" and run.late_open:
            run.late_open = False
            return [self._late_resolved(run, at, f"{local_text(at)} 到達 {stop.stop_id} 已恢復準點。", event)]
        return []

    def _late_resolved(self, run: _Run, at: datetime, detail: str, event: BusEvent | None) -> Alert:
        first_late = next((v for v in run.visits if v["status"] == "late" and v["kind"] == "arrival"), None)
        since = datetime.fromisoformat(first_late["actual"]) if first_late else at
        return self._alert(
            "bus.late_arrival",
            run.key,
            "warning",
            since,
            at,
            "校車到站晚點",
            detail,
            [event] if event else [],
            "resolved",
        )

    def _end_run(self, run: _Run, at: datetime, reached: bool) -> list[Alert]:
        """A run is over (final stop reached, or its window passed): summary, and wait for all-off."""
        run.ended_at = at
        self._done.add(run.key)
        if self._run is run:
            self._run = None
        alerts: list[Alert] = []
        if run.late_open:
            run.late_open = False
            alerts.append(self._late_resolved(run, at, f"班次已於 {local_text(at)} 結束。", None))
        visited = {v["stop_sequence"] for v in run.visits}
        missed = [
            {"stop_id": s.stop_id, "stop_sequence": s.sequence, "trip_id": run.plan.trip_id, "status": "missed"}
            for s in run.plan.stops
            if s.timed and s.sequence not in visited
        ]
        on_time = sum(1 for v in run.visits if v["status"] == "on_time")
        how = "到達終點站" if reached else "未到達終點站,計劃時間已過"
        alerts.append(
            self._alert(
                TRIP_COMPLETED,
                run.key,
                "info",
                run.started_at,
                at,
                f"班次結束:{on_time}/{len(run.visits)} 站準點",
                f"線路 {run.plan.route_id} 班次 {run.plan.trip_id} {how}({local_text(at)}),未經過 {len(missed)} 站。",
                [*run.visits, *missed],
                "resolved",
            )
        )
        loose = [t for t in self._loose_all_off if t >= run.started_at]
        if run.all_off_at is None and loose:
            run.all_off_at = loose[0]
            self._loose_all_off.remove(loose[0])
        if run.all_off_at is None:
            self._waiting.append(run)
        return alerts

    def _no_all_off(self, run: _Run, status: AlertStatus, at: datetime) -> Alert:
        ended = run.ended_at or at
        detail = (
            f"班次 {run.plan.trip_id} 於 {local_text(ended)} 結束,{self.rules.all_off_grace_s // 60} 分鐘內"
            "未收到照管員「學生已全部下車」確認,請立即聯繫司機和照管員檢查車廂。"
            if status == "firing"
            else f"照管員於 {local_text(at)} 補確認學生已全部下車。"
        )
        return self._alert(
            "bus.no_all_off",
            run.key,
            "critical",
            ended,
            at,
            "校車未確認學生全部下車",
            detail,
            [dict(v) for v in run.visits[-1:]],
            status,
        )

    # --- alert construction -----------------------------------------------------------------------

    def _alert(
        self,
        rule: str,
        window: str,
        severity: Severity,
        occurred_at: datetime,
        detected_at: datetime,
        title: str,
        detail: str,
        evidence: Iterable[BusEvent | dict[str, Any]],
        status: AlertStatus = "firing",
    ) -> Alert:
        context = self._context
        plate = self.bus.plate if self.bus else None
        return Alert(
            fingerprint=alert_fingerprint("bus", rule, self.terminal_id, window),
            domain="bus",
            rule=rule,
            severity=severity,
            status=status,
            subject=self.terminal_id,
            school_id=context.school_id if context else None,
            district=context.district if context else None,
            occurred_at=occurred_at,
            detected_at=detected_at,
            title=title,
            detail=f"[{plate or self.terminal_id}] {detail}",
            evidence=[_evidence(e) for e in evidence],
        )

    def _once(self, alerts: list[Alert]) -> list[Alert]:
        """Each (fingerprint, status) once: replays and duplicate fixes add nothing."""
        fresh: list[Alert] = []
        for alert in alerts:
            key = (alert.fingerprint, alert.status)
            if key not in self._sent:
                self._sent.add(key)
                fresh.append(alert)
        return fresh
