"""Read charging-session files into sessions to replay, counting rows skipped.

Two layouts are understood: the City of Palo Alto's ChargePoint export (local
wall-clock times, each with its own ``PDT``/``PST`` label) and Caltech's
ACN-Data sessions (RFC 1123 times in GMT). A row that cannot be replayed is
never an error: it is counted under one reason, so every row is accounted for.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Final

import msgspec

from nerava.domain.energy import round_kwh

__all__ = [
    "INVALID_ENERGY",
    "INVALID_TIMES",
    "MISSING_HUB",
    "MISSING_USER",
    "ChargeSession",
    "FileFormat",
    "ParsedFile",
    "UnknownFormat",
    "detect_format",
    "parse_rows",
    "read_sessions",
]

MISSING_USER: Final = "missing_user"
MISSING_HUB: Final = "missing_hub"
INVALID_TIMES: Final = "invalid_times"
INVALID_ENERGY: Final = "invalid_energy"


class FileFormat(StrEnum):
    """The layouts of session files the replay understands."""

    PALO_ALTO = "palo-alto"
    ACN = "acn"


class UnknownFormat(ValueError):
    """A file whose header matches no known layout, or lacks a needed column."""


class ChargeSession(msgspec.Struct, frozen=True, kw_only=True):
    """One row of a file, ready to be reported as a start and a stop."""

    row: int
    hub_id: str
    user_id: str
    started_at: datetime
    stopped_at: datetime
    kwh: Decimal
    # When energy stopped flowing, as far as the file tells (never after the
    # stop); it spreads the energy over the hours of the day for the plot.
    charged_until: datetime


class ParsedFile(msgspec.Struct, frozen=True, kw_only=True):
    """Every row of a file: the sessions to replay and the rest, by reason."""

    format: FileFormat
    rows: int
    sessions: tuple[ChargeSession, ...]
    skipped: dict[str, int]


_COLUMNS: Final[Mapping[FileFormat, tuple[str, ...]]] = {
    FileFormat.PALO_ALTO: (
        "Station Name",
        "Start Date",
        "Start Time Zone",
        "End Date",
        "End Time Zone",
        "Energy (kWh)",
        "User ID",
    ),
    FileFormat.ACN: (
        "stationID",
        "connectionTime",
        "disconnectTime",
        "kWhDelivered",
        "userID",
    ),
}

# The label decides the offset, not the calendar: one Palo Alto end time lies
# in the hour skipped at spring-forward and is only right read as UTC-7.
_PACIFIC_OFFSETS: Final = {
    "PDT": timezone(timedelta(hours=-7)),
    "PST": timezone(timedelta(hours=-8)),
}

_MONTHS: Final = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "May": 5,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}


def detect_format(header: Iterable[str]) -> FileFormat:
    """Tell a file's layout from its header.

    Raises:
        UnknownFormat: the header holds the columns of neither layout.
    """
    names = set(header)
    for file_format, needed in _COLUMNS.items():
        if names.issuperset(needed):
            return file_format
    raise UnknownFormat(
        "the header matches no known layout (palo-alto needs "
        f"{', '.join(_COLUMNS[FileFormat.PALO_ALTO])}; acn needs "
        f"{', '.join(_COLUMNS[FileFormat.ACN])})"
    )


def read_sessions(path: Path, file_format: FileFormat | None = None) -> ParsedFile:
    """Read a session file; ``None`` as the format means detect it.

    Raises:
        UnknownFormat: the header does not fit the format given or any format.
    """
    # utf-8-sig drops the byte-order mark the Palo Alto export starts with.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return parse_rows(reader, reader.fieldnames or (), file_format)


def parse_rows(
    rows: Iterable[Mapping[str, str | None]],
    header: Iterable[str],
    file_format: FileFormat | None = None,
) -> ParsedFile:
    """Turn the records of a file into sessions and counted skips.

    Raises:
        UnknownFormat: the header does not fit the format given or any format.
    """
    header = tuple(header)
    if file_format is None:
        file_format = detect_format(header)
    missing = [name for name in _COLUMNS[file_format] if name not in header]
    if missing:
        raise UnknownFormat(
            f"not a {file_format} file: missing column(s) {', '.join(missing)}"
        )

    reader = _palo_alto if file_format is FileFormat.PALO_ALTO else _acn
    sessions: list[ChargeSession] = []
    skipped: Counter[str] = Counter()
    for outcome in reader(rows):
        if isinstance(outcome, str):
            skipped[outcome] += 1
        else:
            sessions.append(outcome)
    return ParsedFile(
        format=file_format,
        rows=len(sessions) + sum(skipped.values()),
        sessions=tuple(sessions),
        skipped=dict(skipped),
    )


def _palo_alto(
    rows: Iterable[Mapping[str, str | None]],
) -> Iterator[ChargeSession | str]:
    for row, record in enumerate(rows, start=1):
        user = record.get("User ID") or ""
        if not user.strip() or user.strip() == "0":
            yield MISSING_USER
            continue
        started = _pacific(record.get("Start Date"), record.get("Start Time Zone"))
        stopped = _pacific(record.get("End Date"), record.get("End Time Zone"))
        charging = _duration(record.get("Charging Time (hh:mm:ss)"))
        charged_until = _after(started, charging)
        yield _session(
            row,
            hub=record.get("Station Name"),
            user=user,
            started=started,
            stopped=stopped,
            kwh=record.get("Energy (kWh)"),
            charged_until=charged_until,
        )


def _acn(rows: Iterable[Mapping[str, str | None]]) -> Iterator[ChargeSession | str]:
    for row, record in enumerate(rows, start=1):
        user = record.get("userID") or ""
        if not user.strip():
            yield MISSING_USER
            continue
        yield _session(
            row,
            hub=record.get("stationID"),
            user=user,
            started=_rfc1123(record.get("connectionTime")),
            stopped=_rfc1123(record.get("disconnectTime")),
            kwh=record.get("kWhDelivered"),
            charged_until=_rfc1123(record.get("doneChargingTime")),
        )


def _session(
    row: int,
    *,
    hub: str | None,
    user: str,
    started: datetime | None,
    stopped: datetime | None,
    kwh: str | None,
    charged_until: datetime | None,
) -> ChargeSession | str:
    if started is None or stopped is None or stopped < started:
        return INVALID_TIMES
    energy = _energy(kwh)
    if energy is None:
        return INVALID_ENERGY
    if not hub or not hub.strip():
        return MISSING_HUB
    if charged_until is None or not started <= charged_until <= stopped:
        charged_until = stopped
    return ChargeSession(
        row=row,
        hub_id=hub,
        user_id=user,
        started_at=started,
        stopped_at=stopped,
        kwh=energy,
        charged_until=charged_until,
    )


def _energy(text: str | None) -> Decimal | None:
    """Read kWh exactly; refuse what the service would store as nothing."""
    if not text or not text.strip():
        return None
    try:
        kwh = Decimal(text.strip())
        # The service keeps watt-hours: 0.0004 kWh would arrive as zero.
        if not kwh.is_finite() or round_kwh(kwh) <= 0:
            return None
    except InvalidOperation:
        return None
    return kwh


def _pacific(text: str | None, label: str | None) -> datetime | None:
    """Read ``M/D/YYYY H:MM[:SS]`` at the offset its PDT/PST label states."""
    offset = _PACIFIC_OFFSETS.get((label or "").strip().upper())
    if offset is None or not text:
        return None
    try:
        day, clock = text.split()
        month, dom, year = day.split("/")
        hour, minute, *seconds = clock.split(":")
        if len(year) != 4 or len(seconds) > 1:
            return None
        local = datetime(
            int(year),
            int(month),
            int(dom),
            int(hour),
            int(minute),
            int(seconds[0]) if seconds else 0,
            tzinfo=offset,
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _rfc1123(text: str | None) -> datetime | None:
    """Read ``Fri, 01 Jan 2021 01:31:52 GMT`` without the process's locale."""
    if not text:
        return None
    parts = text.split()
    if len(parts) != 6 or parts[5] not in ("GMT", "UTC", "+0000"):
        return None
    _, dom, month_name, year, clock, _ = parts
    month = _MONTHS.get(month_name.title())
    try:
        hour, minute, second = clock.split(":")
        if month is None or len(year) != 4:
            return None
        return datetime(
            int(year), month, int(dom), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError:
        return None


def _after(start: datetime | None, duration: timedelta | None) -> datetime | None:
    if start is None or duration is None:
        return None
    try:
        return start + duration
    except OverflowError:
        return None


def _duration(text: str | None) -> timedelta | None:
    """Read ``h:mm:ss``; the export's durations wrap at 24 h."""
    if not text:
        return None
    try:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
    except ValueError:
        return None
    if min(hours, minutes, seconds) < 0:
        return None
    try:
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        return None
