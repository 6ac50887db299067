"""Settings: every threshold of DOMAIN_RULES.md, with its source named beside it.

One pydantic-settings class. Values come from (highest first) `SAFECAMPUS_*` environment
variables (nested with `__`, e.g. `SAFECAMPUS_BUS__OVERSPEED_OTHER_KMH=50`), a TOML file
(`SAFECAMPUS_CONFIG`, default `safecampus.toml` in the working directory), then these defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class BusRules(BaseModel):
    overspeed_expressway_kmh: float = Field(80, description="《校車安全管理條例》(Order 617) Art. 35")
    overspeed_other_kmh: float = Field(60, description="《校車安全管理條例》(Order 617) Art. 35")
    overspeed_hazard_kmh: float = Field(
        20, description="Order 617 Art. 35: bends, slopes, narrow roads, bridges, bad weather"
    )
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
    max_position_error_m: float = Field(15, description="JT/T 794-2019 amendment 1")
    all_off_grace_s: int = Field(
        600, description="configurable: no national number; the escort walks the aisle, the app uploads"
    )
    service_margin_s: int = Field(
        1800, description="configurable: fixes this near a trip's timetable belong to its run"
    )


class SecurityRules(BaseModel):
    dedup_window_s: int = Field(60, description="configurable: repeats within the window update one alert")
    offline_interval_factor: float = Field(3, description="configurable: silent past heartbeat × 3")
    fault_unfixed_h: float = Field(24, description="GB/T 29315: faults fixed within 24 h")
    flapping_changes: int = Field(6, description="configurable: state changes within the window")
    flapping_window_s: int = Field(600, description="configurable: Alertmanager-style flap detection")
    night_start_hour: int = Field(22, description="configurable: intrusion at night is critical")
    night_end_hour: int = Field(6, description="configurable")
    video_retention_days: int = Field(30, description="GB/T 29315: video kept ≥ 30 days")
    backup_power_h: float = Field(1, description="GB/T 29315: backup power ≥ 1 h")
    one_key_test_interval_days: int = Field(31, description="Jiangsu city practice: one-key alarms tested monthly")
    guards_small_school: int = Field(1, description="GB/T 29315-2022: < 100 non-boarding students")
    guards_medium_school: int = Field(2, description="GB/T 29315-2022: 100–999 students")
    guards_large_school: int = Field(3, description="GB/T 29315-2022: ≥ 1000 students, +1 per extra 500")


class CanteenRules(BaseModel):
    surplus_rate_warning: float = Field(0.05, description="configurable: non-profit check; no national number exists")
    disclosure_day_of_month: int = Field(15, description="disclosure practice: by the 15th of next month")
    min_delivery_checkers: int = Field(2, description="MOE 2024 guideline: deliveries checked by ≥ 2 people")
    price_deviation_ratio: float = Field(0.5, description="ours, to tune with auditors: far from city median")
    supplier_share_warning: float = Field(0.7, description="ours, to tune with auditors: one supplier dominates")


class FireRules(BaseModel):
    max_floor: int = Field(3, description="《托育機構消防安全指南(試行)》(2022): not on the 4th floor or higher")
    patrols_per_day: int = Field(2, description="childcare fire-safety standard ch. 6")
    full_inspection_days: int = Field(31, description="childcare fire-safety standard ch. 6: monthly")
    drill_interval_days_key_unit: int = Field(183, description="MPS Order 61: every 6 months")
    drill_interval_days_other: int = Field(365, description="MPS Order 61 (configurable): yearly")


class Settings(BaseSettings):
    """All settings of safecampus. `Settings()` reads the environment and the TOML file."""

    model_config = SettingsConfigDict(env_prefix="SAFECAMPUS_", env_nested_delimiter="__", extra="ignore")

    database_url: str = Field("sqlite:///out/safecampus.db", description="SQLite by default; postgresql+psycopg2://…")
    kafka: str = Field("127.0.0.1:9092", description="bootstrap servers")
    timezone: str = Field("Asia/Shanghai", description="what people see")
    detector_history_h: float = Field(
        26,
        description="streaming: hours of stored events replayed to rebuild a detector after a restart "
        "(longer than the longest rule window, the 24 h unfixed fault)",
    )
    bus: BusRules = BusRules()
    security: SecurityRules = SecurityRules()
    canteen: CanteenRules = CanteenRules()
    fire: FireRules = FireRules()

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
