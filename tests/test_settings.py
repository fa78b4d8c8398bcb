"""Settings: validated at start, every one documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from sovereel.settings import Settings, load_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"SOVEREEL_{name.upper()}" not in text]
    assert missing == [], f"document these settings in README.md: {missing}"
    undescribed = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undescribed == []


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOVEREEL_SECRET_KEY", raising=False)
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        load_settings(environment="production")
    assert load_settings(environment="production", secret_key="s" * 32).environment == "production"


def test_region_names_and_derived_locations(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(region="../eu")
    s = load_settings(data_dir=tmp_path, region="eu")
    assert s.effective_database_url == f"sqlite:///{tmp_path.resolve()}/eu/sovereel.db"
    assert s.effective_media_url == f"file://{tmp_path.resolve()}/eu/media"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOVEREEL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SOVEREEL_MAX_UPLOAD_MB", "5")
    s = load_settings()
    assert s.data_dir == tmp_path
    assert s.max_upload_bytes == 5 * 1024 * 1024
