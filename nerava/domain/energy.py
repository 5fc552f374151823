"""Energy at watt-hour resolution and money in integer cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

__all__ = [
    "KWH_QUANTUM",
    "cents_half_up",
    "kwh_from_wh",
    "round_kwh",
    "wh_from_kwh",
]

KWH_QUANTUM = Decimal("0.001")


def round_kwh(kwh: Decimal) -> Decimal:
    """Round kWh half-up to watt-hours, the resolution Nerava stores."""
    return kwh.quantize(KWH_QUANTUM, rounding=ROUND_HALF_UP)


def wh_from_kwh(kwh: Decimal) -> int:
    """Turn kWh into whole watt-hours, rounding half-up."""
    return int(round_kwh(kwh) * 1000)


def kwh_from_wh(wh: int) -> Decimal:
    """Turn whole watt-hours back into kWh with three decimals."""
    return (Decimal(wh) / 1000).quantize(KWH_QUANTUM)


def cents_half_up(amount: Fraction) -> int:
    """Round an exact non-negative amount of cents half-up to a whole cent."""
    whole, rest = divmod(amount.numerator, amount.denominator)
    return whole + (1 if 2 * rest >= amount.denominator else 0)
