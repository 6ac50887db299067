"""Registry rules, once per terminal per service day, on its first event of the day.

bus.unregistered (a terminal not in the register), bus.operator_licence_expired,
bus.driver_out_of_rules (Order 617 Art. 23: age, years of driving, clean record) and
bus.inspection_overdue (GB 24407-2012: every 6 months).

The day is the device's. Registration, authentication and heartbeat frames carry no device time
(the gateway's receive time stands in), so a heartbeat opens a day only for a terminal that has
sent no device-timed event (fix, escort confirmation) yet: one that only ever sends heartbeats
is still checked (and an unregistered one reported) once a day. The first device-timed event
after such heartbeat-opened checks belongs to the same session and is not checked again, whatever
day its clock says; nor is a day before one already checked (a late batch). So a capture whose
positions carry another day than the gateway's clock gives one set of checks in either order
(replay sorts by event time, streaming takes arrival order), as replaying the device's own file
does. The price: a terminal that sent only heartbeats for a while is not checked again on the
day of its first position.

An expired operator licence is one alert per operator and day, not one per bus: subject the
operator id, window the service day, the detail and evidence list every bus of the operator in
the register. It carries nothing of the terminal that found it, so each of the operator's
terminals (detected in different shards) makes the identical alert and the copies collapse into
one (same fingerprint: the detectors' shared `AlertOnce`, the store's upsert).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time

from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.geometry import service_day
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import SHANGHAI, Severity
from safecampus.schemas.registry import Bus, BusOperator, Driver


class RegistryChecks:
    """The registry's view of one terminal's bus, checked on the first event of each service day."""

    def __init__(
        self,
        bus: Bus | None,
        operators: Mapping[str, BusOperator],
        drivers: Sequence[Driver],
        *,
        inspection_interval_days: int,
        driver_min_age: int,
        driver_max_age: int,
        driver_min_years_licensed: int,
        alerts: TerminalAlerts,
        fleet: Mapping[str, Bus] | None = None,
        district_of: Callable[[str | None], str | None] | None = None,
    ) -> None:
        """`fleet`: every registered bus by terminal (to list an operator's buses), default only this one;
        `district_of`: a school's district id, for the operator alert's district."""
        self.bus = bus
        self.fleet = fleet if fleet is not None else ({bus.terminal_id: bus} if bus else {})
        self.district_of = district_of or (lambda school_id: None)
        self.operators = operators
        self.drivers = drivers
        self.inspection_interval_days = inspection_interval_days
        self.driver_min_age = driver_min_age
        self.driver_max_age = driver_max_age
        self.driver_min_years_licensed = driver_min_years_licensed
        self.alerts = alerts
        self._days: set[date] = set()
        self._newest: date | None = None
        self._device_timed = False  # has the terminal sent an event stamped by its own clock?

    def observe(self, event: BusEvent) -> list[Alert]:
        """Any event of the terminal; the checks run on the first of its service day (device time)."""
        day = service_day(event.occurred_at)
        if event.kind == "heartbeat":  # no device time: the gateway's clock
            if self._device_timed:
                return []
        elif not self._device_timed:
            self._device_timed = True
            if self._days:  # checked on the registration frames just before: the same session, one check
                self._days.add(day)
                self._newest = max(day, self._newest or day)
                return []
        if day in self._days or (self._newest is not None and day < self._newest):
            return []
        self._days.add(day)
        self._newest = day
        return self.checks(event, day)

    def checks(self, event: BusEvent, day: date) -> list[Alert]:
        window, at, bus = day.isoformat(), event.occurred_at, self.bus

        def alert(rule: str, severity: Severity, title: str, detail: str) -> Alert:
            return self.alerts(
                rule=rule,
                window=window,
                severity=severity,
                occurred_at=at,
                detected_at=at,
                title=title,
                detail=detail,
                evidence=[event],
            )

        if bus is None:
            terminal = self.alerts.terminal_id
            detail = f"终端 {terminal} 不在校车登记册中(疑似挂靠或未备案车辆)。"
            return [alert("bus.unregistered", "high", "未登记的校车车载终端", detail)]
        alerts: list[Alert] = []
        operator = self.operators.get(bus.operator_id)
        if operator is None or operator.licence_expires_on < day:
            alerts.append(self.operator_alert(bus.operator_id, operator, day))
        problems = [reason for driver in self.drivers for reason in self.driver_problems(driver)]
        if not self.drivers:
            problems.append("未登记驾驶员")
        if problems:
            alerts.append(alert("bus.driver_out_of_rules", "high", "校车驾驶员不符合资格", ";".join(problems) + "。"))
        overdue = (day - bus.last_inspected_on).days
        if overdue > self.inspection_interval_days:
            detail = (
                f"车牌 {bus.plate} 上次检验 {bus.last_inspected_on},已 {overdue} 天"
                f"(应每 {self.inspection_interval_days} 天一次)。"
            )
            alerts.append(alert("bus.inspection_overdue", "warning", "校车安全技术检验逾期", detail))
        return alerts

    def operator_alert(self, operator_id: str, operator: BusOperator | None, day: date) -> Alert:
        """bus.operator_licence_expired for the whole operator: the same alert from each of its terminals."""
        buses = sorted((b for b in self.fleet.values() if b.operator_id == operator_id), key=lambda b: b.plate)
        plates = "、".join(b.plate for b in buses)
        what = (
            f"运营企业 {operator_id} 不在登记册中"
            if operator is None
            else f"{operator.name}({operator_id})的经营许可已于 {operator.licence_expires_on} 到期"
        )
        schools = {b.school_id for b in buses}
        districts = {self.district_of(b.school_id) for b in buses}
        start = datetime.combine(day, time(), SHANGHAI).astimezone(UTC)  # the licence is out for the whole day
        facts: dict[str, object] = {"kind": "operator", "operator_id": operator_id}
        if operator is not None:
            facts |= {"name": operator.name, "licence_expires_on": operator.licence_expires_on.isoformat()}
        return self.alerts.about(
            operator_id,
            school_id=schools.pop() if len(schools) == 1 else None,
            district=districts.pop() if len(districts) == 1 else None,
            rule="bus.operator_licence_expired",
            window=day.isoformat(),
            severity="high",
            occurred_at=start,
            detected_at=start,
            title="校车运营企业许可过期",
            detail=f"{what},名下登记校车 {len(buses)} 辆:{plates}。",
            evidence=[
                facts,
                *({"kind": "bus", "bus_id": b.bus_id, "plate": b.plate, "terminal_id": b.terminal_id} for b in buses),
            ],
        )

    def driver_problems(self, driver: Driver) -> list[str]:
        """Order 617 Art. 23: age, years of driving, clean record."""
        who, problems = f"驾驶员 {driver.driver_id}", []
        low, high = self.driver_min_age, self.driver_max_age
        if not low <= driver.age <= high:
            problems.append(f"{who} 年龄 {driver.age} 岁,不在 {low}–{high} 岁之间")
        if driver.years_licensed < self.driver_min_years_licensed:
            problems.append(f"{who} 驾龄 {driver.years_licensed} 年,不足 {self.driver_min_years_licensed} 年")
        if not driver.clean_record:
            problems.append(f"{who} 有违法或事故记录")
        return problems
