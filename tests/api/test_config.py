"""Settings from the environment: defaults, and one clear line for a bad value."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from nerava.config import Settings, SettingsError
from nerava.domain.rewards import RewardPolicy


def test_the_defaults_are_the_embedded_service() -> None:
    settings = Settings.from_env({})

    assert settings.database_url == "sqlite:///./nerava.db"
    assert settings.rate_limit_per_minute == 120
    assert settings.cache_ttl_windows == 60
    assert settings.enable_sync_credit is False
    assert settings.allow_demo_at is False
    assert settings.reward_policy is RewardPolicy.WINDOW_AT_START
    assert settings.merchant_cofund_cents == 75
    assert settings.max_session_kwh == Decimal(1000)
    assert settings.max_charge_power_kw is None
    assert settings.auth_disabled is False
    assert settings.max_event_age_hours == 168
    assert settings.sqlite_synchronous == "NORMAL"
    assert settings.trusted_proxies == ()
    assert settings.cors_allow_origins == ()


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://nerava@db:5432/nerava",
            "LOG_LEVEL": "debug",
            "RATE_LIMIT_PER_MINUTE": "0",
            "CACHE_TTL_WINDOWS": "2.5",
            "ENABLE_SYNC_CREDIT": "true",
            "ENERGYHUB_ALLOW_DEMO_AT": "1",
            "REWARD_POLICY": "prorated",
            "MERCHANT_COFUND_CENTS": "0",
            "MAX_SESSION_KWH": "80.5",
            "MAX_CHARGE_POWER_KW": "11",
            "AUTH_DISABLED": "yes",
            "MAX_EVENT_AGE_HOURS": "24",
            "SQLITE_SYNCHRONOUS": "full",
            "TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1",
            "CORS_ALLOW_ORIGINS": "https://a.example, http://localhost:3000",
        }
    )

    rules = settings.rules()
    assert settings.log_level == "DEBUG"
    assert settings.cache_ttl_windows == 2.5
    assert settings.sqlite_synchronous == "FULL"
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.1/32")
    assert settings.cors_allow_origins == ("https://a.example", "http://localhost:3000")
    assert rules.policy is RewardPolicy.PRORATED
    assert rules.cofund_cents == 0
    assert rules.max_session_wh == 80_500
    assert rules.max_charge_power_w == 11_000
    assert rules.max_event_age == timedelta(hours=24)
    assert rules.sync_credit is True


def test_an_empty_variable_counts_as_unset() -> None:
    assert (
        Settings.from_env({"MAX_CHARGE_POWER_KW": "", "LOG_LEVEL": " "}) == Settings()
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://db/nerava"),
        ("DATABASE_URL", "sqlite:///"),
        ("REDIS_URL", "http://cache"),
        ("CACHE_DRIVER", "memcached"),
        ("EVENTS_DRIVER", "kafka"),
        ("RATE_LIMIT_STORE", "disk"),
        ("LOG_LEVEL", "LOUD"),
        ("RATE_LIMIT_PER_MINUTE", "-1"),
        ("RATE_LIMIT_PER_MINUTE", "ten"),
        ("CACHE_TTL_WINDOWS", "NaN"),
        ("ENABLE_SYNC_CREDIT", "maybe"),
        ("ENERGYHUB_ALLOW_DEMO_AT", "2"),
        ("REWARD_POLICY", "generous"),
        ("MERCHANT_COFUND_CENTS", "1.5"),
        ("MAX_SESSION_KWH", "0"),
        ("MAX_SESSION_KWH", "Infinity"),
        ("MAX_CHARGE_POWER_KW", "-3"),
        ("AUTH_DISABLED", "sure"),
        ("MAX_EVENT_AGE_HOURS", "0"),
        ("SQLITE_SYNCHRONOUS", "OFF"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("CORS_ALLOW_ORIGINS", "app.example.com"),
    ],
)
def test_a_bad_value_names_the_variable_in_one_line(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})

    message = str(raised.value)
    assert variable in message
    assert "expected" in message
    assert "\n" not in message
    assert raised.value.variable == variable


@pytest.mark.parametrize(
    "variable", ["CACHE_DRIVER", "EVENTS_DRIVER", "RATE_LIMIT_STORE"]
)
def test_redis_drivers_are_refused_for_now(variable: str) -> None:
    with pytest.raises(SettingsError, match="not supported yet"):
        Settings.from_env({variable: "redis"})
