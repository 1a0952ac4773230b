from __future__ import annotations

import pytest

from addon.config import ConfigError, load_config


def test_production_refuses_to_start_without_secrets(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY, TOKEN_ENCRYPTION_KEY"):
        load_config({"CASHLINE_ENV": "production"}, tmp_path)


def test_development_generates_secrets_once_and_keeps_them(tmp_path) -> None:
    first = load_config({}, tmp_path)
    second = load_config({}, tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["TOKEN_ENCRYPTION_KEY"] == second["TOKEN_ENCRYPTION_KEY"]
    assert (tmp_path / "secret_key.txt").stat().st_mode & 0o777 == 0o600


def test_defaults_and_environment(tmp_path) -> None:
    cfg = load_config({"REDIS_URL": "redis://example:6379/2", "SMTP_PORT": "2525", "SMTP_STARTTLS": "yes",
                       "SECRET_KEY": "s", "TOKEN_ENCRYPTION_KEY": "k"}, tmp_path)
    assert cfg["DATABASE_URL"] == f"sqlite:///{tmp_path / 'cashline.sqlite3'}"
    assert cfg["REDIS_URL"] == "redis://example:6379/2"
    assert cfg["SMTP_PORT"] == 2525
    assert cfg["SMTP_STARTTLS"] is True
    assert cfg["XERO_API_URL"] == "https://api.xero.com"


def test_overrides_win_over_environment(tmp_path) -> None:
    cfg = load_config({"DATABASE_URL": "sqlite:///env.db"}, tmp_path, {"DATABASE_URL": "sqlite:///x.db"})
    assert cfg["DATABASE_URL"] == "sqlite:///x.db"


def test_gate_tolerances_default_and_come_from_the_environment(tmp_path) -> None:
    cfg = load_config({}, tmp_path)
    assert (cfg["SCORING_GATE_BRIER_TOLERANCE"], cfg["SCORING_GATE_AUC_TOLERANCE"]) == (0.005, 0.01)
    cfg = load_config({"SCORING_GATE_BRIER_TOLERANCE": "0.02", "SCORING_GATE_AUC_TOLERANCE": "0"}, tmp_path)
    assert (cfg["SCORING_GATE_BRIER_TOLERANCE"], cfg["SCORING_GATE_AUC_TOLERANCE"]) == (0.02, 0.0)


@pytest.mark.parametrize("value", ["-0.01", "abc", "0,01", "nan", "inf"])
@pytest.mark.parametrize("name", ["SCORING_GATE_BRIER_TOLERANCE", "SCORING_GATE_AUC_TOLERANCE"])
def test_a_bad_gate_tolerance_is_a_startup_error(tmp_path, name, value) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be a number >= 0, got {value!r}"):
        load_config({name: value}, tmp_path)
