from pathlib import Path

import pytest

from safecampus.config import Settings


def test_defaults_name_their_source() -> None:
    settings = Settings()
    assert settings.bus.overspeed_other_kmh == 60
    assert settings.bus.overspeed_expressway_kmh == 80
    assert settings.bus.overspeed_hazard_kmh == 20
    for group in (settings.bus, settings.security, settings.canteen, settings.fire):
        for name, field in type(group).model_fields.items():
            assert field.description, f"{type(group).__name__}.{name} has no source"


def test_environment_and_toml_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "county.toml"
    toml.write_text("[bus]\noverspeed_other_kmh = 50\n\n[security]\ndedup_window_s = 120\n", encoding="utf-8")
    monkeypatch.setenv("SAFECAMPUS_CONFIG", str(toml))
    assert Settings().bus.overspeed_other_kmh == 50
    assert Settings().security.dedup_window_s == 120
    monkeypatch.setenv("SAFECAMPUS_BUS__OVERSPEED_OTHER_KMH", "45")
    assert Settings().bus.overspeed_other_kmh == 45
