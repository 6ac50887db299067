"""Issue 9, bus parts: one alert per incident, and registry checks decided on the device's clock.

The terminal's own overspeed flag joins our overspeed alert; an expired operator licence is one alert
per operator (whichever of its terminals finds it); registration and heartbeat frames, stamped with
the gateway's clock, do not open a second day of registry checks.
"""

from __future__ import annotations

from datetime import date, timedelta

from bus_route import BAD_TERMINAL, DAY, STOP_SECONDS, at, detect, fix, route_registry, rules, trace

from safecampus.config import Settings
from safecampus.pipelines.bus import BusPipeline
from safecampus.schemas.bus import BusEvent
from safecampus.schemas.registry import Bus

T0 = STOP_SECONDS[0]
OTHER_BAD = "013800000003"  # a second bus of the expired operator OP9
STRANGER = "013899999999"  # not in the register


def pipeline() -> BusPipeline:
    """A fresh pipeline each time: its detectors share what alerts about a fleet they have sent."""
    registry = route_registry()
    registry.buses_by_terminal[OTHER_BAD] = Bus(
        bus_id="B003",
        plate="苏D00003",
        terminal_id=OTHER_BAD,
        operator_id="OP9",
        school_id="S0001",
        route_id="R1",
        seats=45,
        last_inspected_on=date(2026, 7, 1),
    )
    return BusPipeline(Settings(), registry)


def flagged(events: list[BusEvent], start: int, stop: int) -> list[BusEvent]:
    """The terminal's own overspeed flag on events[start:stop]."""
    return [e.model_copy(update={"alarm_overspeed": True}) if start <= i < stop else e for i, e in enumerate(events)]


def heartbeat(bus: BusPipeline, terminal: str, seconds: float, day: date = DAY) -> BusEvent:
    return bus.enrich(terminal_id=terminal, kind="heartbeat", occurred_at=at(seconds, day))


# --- overspeed: ours and the terminal's flag are one alert ---------------------------------------------


def test_the_terminals_overspeed_flag_joins_our_overspeed_alert() -> None:
    bus = pipeline()
    events = trace(bus, overspeed=True)
    speeding = [i for i, e in enumerate(events) if (e.speed_kmh or 0) > 60]
    alerts = detect(bus, flagged(events, speeding[0], speeding[-1] + 1))
    assert [(a.rule, a.status) for a in alerts] == [("bus.overspeed", "firing"), ("bus.overspeed", "resolved")]
    for alert in alerts:
        (flag,) = [e for e in alert.evidence if e.get("kind") == "terminal_alarm"]
        assert flag == {
            "kind": "terminal_alarm",
            "rule": "bus.terminal_alarm.overspeed",
            "title": "终端超速报警",
            "since": events[speeding[0]].occurred_at.isoformat(),
        }
        assert "车载终端自" in alert.detail and "同时上报超速报警" in alert.detail
    # The flag staying on after the speed dropped is still the same incident.
    assert rules(detect(pipeline(), flagged(events, speeding[0], speeding[-1] + 3))) == [
        "bus.overspeed",
        "bus.overspeed",
    ]


def test_a_terminal_flag_with_no_episode_of_ours_alerts_on_its_own() -> None:
    bus = pipeline()
    events = trace(bus)  # never above 60 km/h: the terminal applies a limit we do not know
    alerts = detect(bus, flagged(events, 20, 24))
    assert [(a.rule, a.status) for a in alerts] == [
        ("bus.terminal_alarm.overspeed", "firing"),
        ("bus.terminal_alarm.overspeed", "resolved"),
    ]
    assert alerts[0].occurred_at == events[20].occurred_at


def test_a_spike_to_us_that_the_terminal_flagged_is_the_terminals_alert() -> None:
    bus = pipeline()
    events = trace(bus)
    events[20] = events[20].model_copy(update={"speed_kmh": 75.0, "alarm_overspeed": True})  # one fix: no episode
    alerts = detect(bus, events)
    assert [(a.rule, a.status) for a in alerts] == [
        ("bus.terminal_alarm.overspeed", "firing"),
        ("bus.terminal_alarm.overspeed", "resolved"),
    ]
    assert alerts[0].occurred_at == events[20].occurred_at and alerts[0].detected_at == events[21].occurred_at


# --- an expired operator licence: one alert per operator and day ---------------------------------------


def test_an_expired_licence_is_one_alert_per_operator_listing_its_buses() -> None:
    bus = pipeline()
    events = [fix(bus, 6 * 3600, 0, speed=0, terminal=t) for t in (BAD_TERMINAL, OTHER_BAD)]
    events += [fix(bus, 6 * 3600, 0, speed=0, terminal=BAD_TERMINAL, day=DAY + timedelta(days=1))]
    licence = [a for a in detect(bus, events) if a.rule == "bus.operator_licence_expired"]
    assert [(a.subject, a.status) for a in licence] == [("OP9", "firing"), ("OP9", "firing")]  # one a day
    first = licence[0]
    assert first.detail == "过期公司(OP9)的经营许可已于 2026-08-01 到期,名下登记校车 2 辆:苏D00002、苏D00003。"
    assert [e.get("plate") for e in first.evidence if e["kind"] == "bus"] == ["苏D00002", "苏D00003"]
    assert (first.school_id, first.district) == ("S0001", "tianning")
    # Each terminal alone (another shard, another worker) makes the very same alert.
    alone = [detect(pipeline(), [e]) for e in events[:2]]
    assert [a for a in alone[0] if a.rule == first.rule] == [a for a in alone[1] if a.rule == first.rule] == [first]
    # The bus's own checks stay per bus.
    assert {a.subject for a in detect(pipeline(), events) if a.rule == "bus.driver_out_of_rules"} == {
        BAD_TERMINAL,
        OTHER_BAD,  # no driver registered
    }


# --- registry checks on the device's clock ------------------------------------------------------------


def test_frames_stamped_by_the_gateways_clock_open_no_second_day_of_checks() -> None:
    today = DAY + timedelta(days=92)  # the day the gateway ran, while the positions carry DAY
    bus = pipeline()
    positions = [fix(bus, 6 * 3600 + 15 * i, 0, speed=0, terminal=BAD_TERMINAL) for i in range(3)]
    beats = [heartbeat(bus, BAD_TERMINAL, 8 * 3600 + i, today) for i in range(2)]  # registration, authentication
    per_day = ["bus.operator_licence_expired", "bus.driver_out_of_rules", "bus.inspection_overdue"]
    assert rules(detect(bus, beats + positions)) == per_day  # replay: event-time order
    detector = pipeline().new_detector(BAD_TERMINAL)
    arrival = [a for e in beats + positions for a in detector.observe(e)]  # streaming: as they arrived
    assert rules(arrival) == per_day
    earlier = [heartbeat(bus, BAD_TERMINAL, 5 * 3600 + i, DAY - timedelta(days=3)) for i in range(2)]
    assert rules(detect(pipeline(), earlier + positions)) == per_day


def test_a_terminal_that_only_sends_heartbeats_is_still_checked_once_a_day() -> None:
    bus = pipeline()
    beats = [heartbeat(bus, STRANGER, 7 * 3600 + 30 * i) for i in range(4)]
    beats += [heartbeat(bus, STRANGER, 7 * 3600, DAY + timedelta(days=1))]
    alerts = detect(bus, beats)
    assert [(a.rule, a.subject) for a in alerts] == [("bus.unregistered", STRANGER)] * 2
    assert len({a.fingerprint for a in alerts}) == 2
