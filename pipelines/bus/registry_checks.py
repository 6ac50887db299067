"""Registry rules, once per terminal per service day, on its first event of the day.

bus.unregistered (a terminal not in the register), bus.operator_licence_expired,
bus.driver_out_of_rules (Order 617 Art. 23: age, years of driving, clean record) and
bus.inspection_overdue (GB 24407-2012: every 6 months).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from safecampus.pipelines.bus.alerting import TerminalAlerts
from safecampus.pipelines.bus.geometry import service_day
from safecampus.schemas.alert import Alert
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.common import Severity
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
    ) -> None:
        self.bus = bus
        self.operators = operators
        self.drivers = drivers
        self.inspection_interval_days = inspection_interval_days
        self.driver_min_age = driver_min_age
        self.driver_max_age = driver_max_age
        self.driver_min_years_licensed = driver_min_years_licensed
        self.alerts = alerts
        self._days: set[date] = set()

    def observe(self, event: BusEvent) -> list[Alert]:
        """Any event of the terminal; the checks run on the first of its service day."""
        day = service_day(event.occurred_at)
        if day in self._days:
            return []
        self._days.add(day)
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
            detail = (
                f"运营企业 {bus.operator_id} 不在登记册中。"
                if operator is None
                else f"{operator.name} 的经营许可已于 {operator.licence_expires_on} 到期。"
            )
            alerts.append(
                alert("bus.operator_licence_expired", "high", "校车运营企业许可过期", f"车牌 {bus.plate}:{detail}")
            )
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
