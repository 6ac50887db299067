"""Settings: every threshold the rules read, with its source named beside it (docs/domain-rules.md).

One pydantic-settings class. Values come from (highest first) `SAFECAMPUS_*` environment
variables (nested with `__`, e.g. `SAFECAMPUS_BUS__OVERSPEED_OTHER_KMH=50`), a TOML file
(`SAFECAMPUS_CONFIG`, default `safecampus.toml` in the working directory), then these defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class BusRules(BaseModel):
    overspeed_other_kmh: float = Field(60, description="《校车安全管理条例》(Order 617) Art. 35")
    overspeed_sustained_s: float = Field(10, description="configurable: ignore single-fix GPS spikes")
    offroute_distance_m: float = Field(60, description="TheTransitClock maxDistanceFromSegment default")
    offroute_consecutive_fixes: int = Field(
        3, description="TheTransitClock allowableNumberOfBadMatches=2: the third bad fix alerts"
    )
    on_time_early_s: int = Field(60, description="GTFS-realtime reliability practice: 1 min early")
    on_time_late_s: int = Field(300, description="GTFS-realtime reliability practice: 5 min late")
    stop_geofence_m: float = Field(40, description="configurable: stop arrival radius")
    stale_interval_factor: float = Field(3, description="configurable: silent for 3 × reporting interval")
    default_report_interval_s: int = Field(15, description="JT/T 808 parameter 0x0029; 10–30 s common")
    inspection_interval_days: int = Field(183, description="Order 617; GB 24407-2012: every 6 months")
    driver_min_age: int = Field(25, description="Order 617 Art. 23")
    driver_max_age: int = Field(60, description="Order 617 Art. 23")
    driver_min_years_licensed: int = Field(3, description="Order 617 Art. 23")
    all_off_grace_s: int = Field(
        600, description="configurable: no national number; the escort walks the aisle, the app uploads"
    )
    service_margin_s: int = Field(
        1800, description="configurable: fixes this near a trip's timetable belong to its run"
    )
    prediction_min_runs: int = Field(
        3, description="TheTransitClock-style history: a segment's average is used once this many runs were seen"
    )
    prediction_dwell_s: float = Field(
        30, description="configurable: a segment's share spent standing at its first stop (pupils board)"
    )
    prediction_schedule_sd_s: float = Field(
        60, description="configurable: uncertainty per segment when only the timetable is known"
    )
    jt808_piece_timeout_s: float = Field(
        60,
        description="configurable (JT/T 808 sets none): a split message's pieces all arrive within this of the "
        "first, or it goes to the DLQ; the missing ones are asked for again (0x8003) halfway",
    )
    jt808_open_bytes_max: int = Field(
        256 * 1024, description="configurable: what one terminal's unfinished split messages may hold in the gateway"
    )
    jt808_pieces_max: int = Field(
        256, description="configurable: the most pieces a split message may announce (256 × 1023 bytes of body)"
    )


class SecurityRules(BaseModel):
    dedup_window_s: int = Field(60, description="configurable: repeats within the window update one alert")
    offline_interval_factor: float = Field(3, description="configurable: silent past heartbeat × 3")
    fault_unfixed_h: float = Field(24, description="GB/T 29315: faults fixed within 24 h")
    flapping_changes: int = Field(6, description="configurable: state changes within the window")
    flapping_window_s: int = Field(600, description="configurable: Alertmanager-style flap detection")
    night_start_hour: int = Field(22, description="configurable: intrusion at night is critical")
    night_end_hour: int = Field(6, description="configurable")
    guards_small_school: int = Field(1, description="GB/T 29315-2022: < 100 non-boarding students")
    guards_medium_school: int = Field(2, description="GB/T 29315-2022: 100–999 students")
    guards_large_school: int = Field(3, description="GB/T 29315-2022: ≥ 1000 students, +1 per extra 500")
    video_retention_days: int = Field(
        30, description="GB/T 29315: video kept ≥ 30 days; a channel's own (registry) may be shorter"
    )
    playback_before_s: int = Field(30, description="configurable: an alert's playback starts this long before it")
    playback_after_s: int = Field(60, description="configurable: … and ends this long after it")
    gb28181_playback_url: str = Field(
        "http://127.0.0.1:18080/api/playback/start/{device_id}/{channel_id}?startTime={start}&endTime={end}",
        description="wvp-GB28181-pro PlaybackController, GET /api/playback/start/{deviceId}/{channelId} "
        "(times yyyy-MM-dd HH:mm:ss, Beijing time); your video platform's address",
    )
    isapi_search_url: str = Field(
        "http://{address}/ISAPI/ContentMgmt/search",
        description="Hikvision ISAPI (RaCM): POST a CMSearchDescription for track {track} and the time span",
    )
    isapi_playback_url: str = Field(
        "rtsp://{address}/Streaming/tracks/{track}?starttime={start}&endtime={end}",
        description="Hikvision ISAPI playbackURI: track {channel}01, times yyyyMMddTHHmmssZ (UTC)",
    )

    @field_validator("gb28181_playback_url", "isapi_search_url", "isapi_playback_url")
    @classmethod
    def _known_placeholders(cls, pattern: str, info: ValidationInfo) -> str:
        names = ("device_id", "channel_id") if info.field_name == "gb28181_playback_url" else ("address", "track")
        try:
            pattern.format(**dict.fromkeys((*names, "start", "end"), "x"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"the pattern may use only {{{'}, {'.join((*names, 'start', 'end'))}}} ({exc})") from None
        return pattern


class PickupRules(BaseModel):
    """Pick-up centres (underground 接送中心 at schools, the city's 2023–2025 plan): when they are congested."""

    occupancy_ratio: float = Field(
        0.9, gt=0, description="configurable: no national number; occupancy at this share of the centre's bays"
    )
    queue_vehicles: int = Field(
        8, ge=1, description="configurable: vehicles queueing at the entrance back onto the street at about 8"
    )
    congested_min_s: int = Field(
        180, ge=0, description="configurable: above the level this long (a bus unloading for a minute is not)"
    )
    dropoff_window: str = Field(
        "07:00-08:30", description="configurable: the schools' morning drop-off, local time (HH:MM-HH:MM)"
    )
    pickup_window: str = Field(
        "16:00-17:45", description="configurable: the afternoon pick-up, local time (HH:MM-HH:MM)"
    )

    @field_validator("dropoff_window", "pickup_window")
    @classmethod
    def _a_window(cls, text: str) -> str:
        window_minutes(text)
        return text

    def windows(self) -> dict[str, tuple[int, int]]:
        """Window name → (first, last) minute after local midnight."""
        return {"dropoff": window_minutes(self.dropoff_window), "pickup": window_minutes(self.pickup_window)}


def window_minutes(text: str) -> tuple[int, int]:
    """`HH:MM-HH:MM` as (first, last) minute after local midnight; ValueError in plain words."""
    try:
        first, last = text.split("-")
        (h1, m1), (h2, m2) = first.split(":"), last.split(":")
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
    except ValueError:
        raise ValueError(f"a window is HH:MM-HH:MM local time, e.g. 07:00-08:30 (got {text!r})") from None
    if not 0 <= start < end <= 24 * 60:
        raise ValueError(f"a window starts before it ends, within one day (got {text!r})")
    return start, end


class CanteenRules(BaseModel):
    min_delivery_checkers: int = Field(2, description="MOE 2024 guideline: deliveries checked by ≥ 2 people")
    surplus_rate_warning: float = Field(
        0.05, description="configurable: non-profit check (five-ministry notice); no national number exists"
    )
    disclosure_day_of_month: int = Field(15, description="disclosure practice: by the 15th of the next month")
    price_deviation_ratio: float = Field(
        0.5, description="ours, to tune with auditors: unit price this far above the city median for the item"
    )
    price_median_min_canteens: int = Field(
        3, description="ours: a city median needs prices from at least this many canteens"
    )
    supplier_share_warning: float = Field(
        0.7, description="ours, to tune with auditors: one supplier's share of a month's ingredient spend"
    )


class FireRules(BaseModel):
    max_floor: int = Field(3, description="《托育机构消防安全指南(试行)》(2022): not on the 4th floor or higher")
    patrols_per_day: int = Field(2, description="childcare fire-safety standard ch. 6: patrols at least twice a day")
    patrol_grace_h: float = Field(
        2, description="configurable: an open day is judged this long after its midnight (forms sync late)"
    )
    full_inspection_days: int = Field(
        31, description="childcare fire-safety standard ch. 6: a full inspection at least monthly"
    )
    drill_interval_days_key_unit: int = Field(183, description="MPS Order 61: drills every 6 months in key units")
    drill_interval_days_other: int = Field(365, description="MPS Order 61 (configurable): yearly for others")
    unconfirmed_after_h: float = Field(
        72,
        description="configurable: no national number; a rectification the fire-safety manager has not "
        "confirmed after 3 days is flagged",
    )
    checklist: str = Field(
        "",
        description="configurable: a CSV checklist of your own (item code, category, severity); empty: the shipped one",
    )


class PagingRules(BaseModel):
    """What pages a duty officer; deploy/prometheus/rules/alerts.yml holds these numbers (a test compares)."""

    device_online_target: float = Field(0.95, description="configurable: the bureau's device online target")
    police_linkage_target: float = Field(1.0, description="4个100%: alarms linked to the police, 100 %")
    bus_on_time_target: float = Field(0.9, description="configurable: the transport bureau's on-time target")
    devices_offline_h: float = Field(2, description="configurable: devices offline this long page the school")
    critical_to_district_min: int = Field(10, description="configurable: an unacknowledged critical alert")
    critical_to_city_min: int = Field(30, description="configurable: still unacknowledged, to the city")
    high_to_district_min: int = Field(60, description="configurable: an unacknowledged high alert")


class PlanRules(BaseModel):
    """The plan's progress records and the files of its targets and of the certification scorecard."""

    first_aid_validity_years: int = Field(
        3, description="Red Cross first-aider (救护员) certificates are valid for 3 years"
    )
    teacher_salt: str = Field(
        "", description="configurable: the salt a teacher's staff number is hashed with on import (keep it secret)"
    )
    targets: str = Field("", description="configurable: a targets TOML of your own; empty: deploy/plan/targets.toml")
    indicators: str = Field(
        "", description="configurable: a scorecard TOML of your own; empty: deploy/certification/indicators.toml"
    )


class InputLimits(BaseModel):
    """The window a time from a device or a file must fall in, checked at the boundary (schemas/common.py),
    and what an XLSX file may hold before openpyxl reads it (connectors/workbook.py)."""

    earliest_year: int = Field(
        2000, description="JT/T 808 BCD times count years from 2000; no campus device or ledger record is older"
    )
    future_tolerance_days: int = Field(
        366,
        description="configurable: how far past now a time may be (a clock set a year ahead is broken); "
        "the simulated city runs months past today, so the default is a year; 1 suits live devices",
    )
    deadline_horizon_days: int = Field(
        731, description="configurable: remediation deadlines are days to weeks ahead; beyond two years is a typo"
    )
    xlsx_max_entries: int = Field(
        1000,
        description="configurable: a workbook saved by Excel or WPS is 10–50 zip entries (sheets, styles, "
        "pictures); thousands are a zip made to exhaust the reader",
    )
    xlsx_max_entry_bytes: int = Field(
        128 * 1024 * 1024,
        description="configurable: one part (a sheet's XML, the shared strings) inflated; 100,000 ledger rows "
        "are about 50 MiB of sheet XML",
    )
    xlsx_max_total_bytes: int = Field(
        256 * 1024 * 1024, description="configurable: all parts inflated together, twice the largest part"
    )
    xlsx_max_ratio: float = Field(
        100, description="Apache POI ZipSecureFile: a part inflating over 100× (min inflate ratio 0.01) is a zip bomb"
    )
    xlsx_ratio_grace_bytes: int = Field(
        100 * 1024, description="Apache POI ZipSecureFile: parts under 100 KiB inflated are not ratio-checked"
    )
    xlsx_max_rows: int = Field(
        100_000,
        description="configurable: a canteen's year of ledger rows or a district's month of inspection rows "
        "is tens of thousands; split a larger file (Excel's own limit is 1,048,576)",
    )
    xlsx_max_columns: int = Field(
        256, description="configurable: the forms have at most 30 columns (Excel's own limit is 16,384)"
    )
    xlsx_max_merged_cells: int = Field(
        1_000_000,
        description="configurable: cells a sheet's merged ranges cover (a date merged over each day's rows "
        "covers one per row); more is a sheet made to exhaust the reader",
    )


class Settings(BaseSettings):
    """All settings of safecampus. `Settings()` reads the environment and the TOML file."""

    model_config = SettingsConfigDict(env_prefix="SAFECAMPUS_", env_nested_delimiter="__", extra="ignore")

    database_url: str = Field("sqlite:///out/safecampus.db", description="SQLite by default; postgresql+psycopg2://…")
    kafka: str = Field("127.0.0.1:9092", description="bootstrap servers")
    detector_history_h: float = Field(
        26,
        description="streaming: hours of stored events replayed to rebuild a detector after a restart "
        "(longer than the longest rule window, the 24 h unfixed fault); fire reads every stored form of an "
        "institution (its rules reach back to a finding's day, a month and a year)",
    )
    gc_young_threshold: int = Field(
        50_000,
        description="pipelines: allocations between collections of CPython's young generation (default 700); "
        "a chunk of 1,000 parsed forms outlives hundreds of collections at 700, each tracing it again: fire "
        "normalized 4.0k forms/s at 700 and 7.9k at 50,000 with the registry frozen (README, streaming)",
    )
    bus: BusRules = BusRules()
    security: SecurityRules = SecurityRules()
    pickup: PickupRules = PickupRules()
    canteen: CanteenRules = CanteenRules()
    fire: FireRules = FireRules()
    limits: InputLimits = InputLimits()
    paging: PagingRules = PagingRules()
    plan: PlanRules = PlanRules()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("SAFECAMPUS_CONFIG", "safecampus.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_path))


RULES_BEGIN = "<!-- settings: generated by `python -m safecampus.config docs/domain-rules.md` -->"
RULES_END = "<!-- end of settings -->"


def rules_reference() -> str:
    """The settings as a Markdown table per group: name, default, source (the generated part of the doc)."""
    out = [RULES_BEGIN, ""]
    for group, model in (
        ("bus", BusRules),
        ("security", SecurityRules),
        ("pickup", PickupRules),
        ("canteen", CanteenRules),
        ("fire", FireRules),
        ("limits", InputLimits),
        ("paging", PagingRules),
        ("plan", PlanRules),
    ):
        out += [f"### `[{group}]`", "", "| setting | default | source |", "|---|---:|---|"]
        for name, field in model.model_fields.items():
            out.append(f"| `{name}` | {field.default} | {field.description} |")
        out.append("")
    out.append(RULES_END)
    return "\n".join(out)


def write_rules_reference(doc: Path) -> None:
    """Replace the generated block of `doc` with the current settings."""
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition(RULES_BEGIN)
    _, _, tail = rest.partition(RULES_END)
    doc.write_text(head + rules_reference() + tail, encoding="utf-8")


if __name__ == "__main__":
    import sys

    write_rules_reference(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/domain-rules.md"))
