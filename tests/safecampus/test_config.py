import re
from pathlib import Path

import pytest

from safecampus.config import BusRules, CanteenRules, SecurityRules, Settings, rules_reference

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for d in ("pipelines", "connectors", "schemas", "safecampus") for p in (ROOT / d).rglob("*.py")]


def test_every_rule_setting_names_its_source_and_is_read_by_code() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in CODE if p.name != "config.py")
    unread = []
    for model in (BusRules, SecurityRules, CanteenRules):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no source"
            if not re.search(rf"\.{name}\b", code):
                unread.append(f"{model.__name__}.{name}")
    assert unread == [], f"settings no rule reads (use them or remove them): {unread}"


def test_the_domain_rules_document_carries_the_current_settings() -> None:
    doc = (ROOT / "docs" / "domain-rules.md").read_text(encoding="utf-8")
    assert rules_reference() in doc, "docs/domain-rules.md is stale: python -m safecampus.config docs/domain-rules.md"
    assert "| `overspeed_other_kmh` | 60 |" in doc


def test_environment_and_toml_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "county.toml"
    toml.write_text("[bus]\noverspeed_other_kmh = 50\n\n[security]\ndedup_window_s = 120\n", encoding="utf-8")
    monkeypatch.setenv("SAFECAMPUS_CONFIG", str(toml))
    assert Settings().bus.overspeed_other_kmh == 50
    assert Settings().security.dedup_window_s == 120
    monkeypatch.setenv("SAFECAMPUS_BUS__OVERSPEED_OTHER_KMH", "45")
    assert Settings().bus.overspeed_other_kmh == 45
    monkeypatch.setenv("SAFECAMPUS_KAFKA", "10.0.0.5:9092")
    assert Settings().kafka == "10.0.0.5:9092"
