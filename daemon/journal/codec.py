"""Conversions between domain values and journal columns.

Legs are stored as a JSON array (``legs_json``), free-form inputs and
summaries as strict JSON, dates and times as ISO 8601 text (times with their
UTC offset, sessions as ``YYYY-MM-DD``), contracts as the columns of ``fills``
and ``settlements``. Strikes and prices are index points.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from daemon.journal.errors import JournalError
from strategies.domain import Leg, OptionContract, Right

__all__ = [
    "contract_from_row",
    "date_or_none",
    "iso",
    "legs_from_json",
    "legs_to_json",
    "strict_json",
    "utc_now",
]


def legs_to_json(legs: Iterable[Leg]) -> str:
    """Serialise legs as a compact JSON array (one object per leg, strike in index points)."""
    legs = tuple(legs)
    try:
        return _legs_json_cached(legs)
    except TypeError:  # an unhashable (mutable) contract: serialise without the cache
        return _legs_json(legs)


@functools.lru_cache(maxsize=4096)
def _legs_json_cached(legs: tuple[Leg, ...]) -> str:
    return _legs_json(legs)


def _legs_json(legs: tuple[Leg, ...]) -> str:
    return json.dumps(
        [
            {
                "symbol": leg.contract.symbol,
                "trading_class": leg.contract.trading_class,
                "expiry": leg.contract.expiry.isoformat(),
                "strike": leg.contract.strike,
                "right": leg.contract.right.value,
                "multiplier": leg.contract.multiplier,
                "ratio": leg.ratio,
            }
            for leg in legs
        ],
        separators=(",", ":"),
    )


def legs_from_json(text: str | None) -> tuple[Leg, ...]:
    """Inverse of :func:`legs_to_json`; ``None`` or ``""`` gives no legs.

    Raises:
        JournalError: the text is not a legs array.
    """
    if not text:
        return ()
    return _legs_from_json_cached(text)


@functools.lru_cache(maxsize=4096)
def _legs_from_json_cached(text: str) -> tuple[Leg, ...]:
    # legs are immutable, so equal texts may share one parsed tuple
    try:
        return tuple(
            Leg(
                OptionContract(
                    item["symbol"],
                    item["trading_class"],
                    date.fromisoformat(item["expiry"]),
                    float(item["strike"]),
                    Right(item["right"]),
                    int(item.get("multiplier", 100)),
                ),
                int(item["ratio"]),
            )
            for item in json.loads(text)
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise JournalError(f"malformed legs_json: {exc}") from exc


# compact, sorted keys; built once (json.dumps with options builds an encoder per call)
_STRICT = json.JSONEncoder(separators=(",", ":"), sort_keys=True, allow_nan=False)
_COMPACT = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def strict_json(value: Any) -> str:
    """Strict JSON (non-finite floats become null); plain mappings take a fast path."""
    if isinstance(value, Mapping):
        try:
            return _STRICT.encode(value)
        except (TypeError, ValueError):
            pass
    return _COMPACT.encode(_plain(value))


def _plain(value: Any) -> Any:
    """JSON-ready copy: dates as ISO strings, enums as values, dataclasses as dicts."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "value") and isinstance(getattr(value, "value", None), str | int):
        return value.value
    return value


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601 text of a date or time; ``None`` stays ``None``."""
    return None if value is None else value.isoformat()


def date_or_none(value: str | None) -> date | None:
    """The date of an ISO ``YYYY-MM-DD`` column; ``None`` (NULL) stays ``None``."""
    return None if value is None else date.fromisoformat(value)


def utc_now() -> datetime:
    """Wall-clock now in UTC, whole seconds (for ``started_at``, ``created_at`` ...)."""
    return datetime.now(UTC).replace(microsecond=0)


def contract_from_row(row: Mapping[str, Any]) -> OptionContract:
    """The option named by a ``fills`` or ``settlements`` row (strike in index points)."""
    return OptionContract(
        row["symbol"],
        row["trading_class"],
        date.fromisoformat(row["expiry"]),
        float(row["strike"]),
        Right(row["right"]),
        int(row["multiplier"] or 100),
    )
