"""Settings read once from the environment and validated before anything starts.

A bad value raises ``SettingsError``, whose text is one line naming the
variable and what it accepts; the command line prints it and exits with 2.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import msgspec

from nerava.domain.energy import wh_from_kwh
from nerava.domain.rewards import RewardPolicy
from nerava.domain.sessions import ChargingRules

__all__ = ["LOG_LEVELS", "Settings", "SettingsError"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_MAX_KWH = Decimal(1_000_000)


class SettingsError(ValueError):
    """A setting with a value Nerava cannot run with."""

    def __init__(self, variable: str, accepts: str) -> None:
        super().__init__(f"invalid {variable}: expected {accepts}")
        self.variable = variable
        self.accepts = accepts


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting of the service, one field per environment variable."""

    database_url: str = "sqlite:///./nerava.db"
    redis_url: str = "redis://localhost:6379/0"
    cache_driver: str = "memory"
    events_driver: str = "inproc"
    rate_limit_store: str = "memory"
    log_level: str = "INFO"
    rate_limit_per_minute: int = 120
    cache_ttl_windows: float = 60.0
    enable_sync_credit: bool = False
    allow_demo_at: bool = False
    reward_policy: RewardPolicy = RewardPolicy.WINDOW_AT_START
    merchant_cofund_cents: int = 75
    max_session_kwh: Decimal = Decimal(1000)
    max_charge_power_kw: Decimal | None = None
    auth_disabled: bool = False
    max_event_age_hours: int = 168
    sqlite_synchronous: str = "NORMAL"
    trusted_proxies: tuple[str, ...] = ()
    cors_allow_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read and validate every setting; an empty variable counts as unset.

        Raises:
            SettingsError: naming the first variable with a bad value.
        """
        changes: dict[str, Any] = {}
        for variable, field, parse in _VARIABLES:
            raw = env.get(variable, "").strip()
            if raw:
                changes[field] = parse(variable, raw)
        return msgspec.structs.replace(cls(), **changes)

    def rules(self) -> ChargingRules:
        """Return the charging rules these settings put in force."""
        power = self.max_charge_power_kw
        return ChargingRules(
            policy=self.reward_policy,
            cofund_cents=self.merchant_cofund_cents,
            max_session_wh=wh_from_kwh(self.max_session_kwh),
            max_charge_power_w=None if power is None else wh_from_kwh(power),
            max_event_age=timedelta(hours=self.max_event_age_hours),
            sync_credit=self.enable_sync_credit,
        )


def _database_url(name: str, raw: str) -> str:
    accepts = "sqlite:///PATH or postgresql://USER@HOST[:PORT]/DATABASE"
    if raw.startswith("sqlite:///") and len(raw) > len("sqlite:///"):
        return raw
    parts = urlsplit(raw)
    if parts.scheme in ("postgresql", "postgres") and parts.netloc:
        return raw
    raise SettingsError(name, accepts)


def _redis_url(name: str, raw: str) -> str:
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise SettingsError(name, "redis://HOST[:PORT]/DB, rediss://... or unix://")
    return raw


def _driver(builtin: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.lower()
        if value == builtin:
            return value
        if value == "redis":
            raise SettingsError(name, f"{builtin!r} ('redis' is not supported yet)")
        raise SettingsError(name, f"{builtin!r} or 'redis'")

    return parse


def _log_level(name: str, raw: str) -> str:
    value = raw.upper()
    if value not in LOG_LEVELS:
        raise SettingsError(name, "one of " + ", ".join(LOG_LEVELS))
    return value


def _integer(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw, 10)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise SettingsError(name, f"a whole number from {low} to {high}")
        return value

    return parse


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _seconds(name: str, raw: str) -> float:
    value = _decimal(raw)
    if value is None or not 0 <= value <= 86_400:
        raise SettingsError(name, "a number of seconds from 0 to 86400")
    return float(value)


def _boolean(name: str, raw: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(name, "true or false (also 1/0, yes/no, on/off)")


def _policy(name: str, raw: str) -> RewardPolicy:
    try:
        return RewardPolicy(raw.lower())
    except ValueError:
        raise SettingsError(name, "window_at_start or prorated") from None


def _kwh(name: str, raw: str) -> Decimal:
    value = _decimal(raw)
    if value is None or not Decimal("0.001") <= value <= _MAX_KWH:
        raise SettingsError(name, "a number of kWh from 0.001 to 1000000")
    return value


def _power(name: str, raw: str) -> Decimal:
    value = _decimal(raw)
    if value is None or not Decimal("0.001") <= value <= _MAX_KWH:
        raise SettingsError(name, "a power in kW from 0.001 to 1000000, or unset")
    return value


def _synchronous(name: str, raw: str) -> str:
    value = raw.upper()
    if value not in ("NORMAL", "FULL"):
        raise SettingsError(name, "NORMAL or FULL")
    return value


def _proxies(name: str, raw: str) -> tuple[str, ...]:
    networks = []
    for item in _items(raw):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(
                name, "comma-separated IP addresses or CIDR networks"
            ) from None
    return tuple(networks)


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = []
    for item in _items(raw):
        parts = urlsplit(item)
        exact = f"{parts.scheme}://{parts.netloc}"
        if item != "*" and (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or item.rstrip("/") != exact
        ):
            raise SettingsError(
                name, "comma-separated origins like https://app.example.com, or *"
            )
        origins.append(item.rstrip("/"))
    return tuple(origins)


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


_VARIABLES: tuple[tuple[str, str, Callable[[str, str], Any]], ...] = (
    ("DATABASE_URL", "database_url", _database_url),
    ("REDIS_URL", "redis_url", _redis_url),
    ("CACHE_DRIVER", "cache_driver", _driver("memory")),
    ("EVENTS_DRIVER", "events_driver", _driver("inproc")),
    ("RATE_LIMIT_STORE", "rate_limit_store", _driver("memory")),
    ("LOG_LEVEL", "log_level", _log_level),
    ("RATE_LIMIT_PER_MINUTE", "rate_limit_per_minute", _integer(0, 1_000_000_000)),
    ("CACHE_TTL_WINDOWS", "cache_ttl_windows", _seconds),
    ("ENABLE_SYNC_CREDIT", "enable_sync_credit", _boolean),
    ("ENERGYHUB_ALLOW_DEMO_AT", "allow_demo_at", _boolean),
    ("REWARD_POLICY", "reward_policy", _policy),
    ("MERCHANT_COFUND_CENTS", "merchant_cofund_cents", _integer(0, 100_000_000)),
    ("MAX_SESSION_KWH", "max_session_kwh", _kwh),
    ("MAX_CHARGE_POWER_KW", "max_charge_power_kw", _power),
    ("AUTH_DISABLED", "auth_disabled", _boolean),
    ("MAX_EVENT_AGE_HOURS", "max_event_age_hours", _integer(1, 87_600)),
    ("SQLITE_SYNCHRONOUS", "sqlite_synchronous", _synchronous),
    ("TRUSTED_PROXIES", "trusted_proxies", _proxies),
    ("CORS_ALLOW_ORIGINS", "cors_allow_origins", _origins),
)
