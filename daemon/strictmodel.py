"""Strict scalar checks shared by every configuration section (:class:`StrictModel`).

Pydantic's default ("lax") mode coerces: ``true`` becomes the number 1, the
string ``"4001"`` a port, ``inf`` passes a ``gt=0`` bound. A configuration
must not silently mean something else than it says, so every section model
(:class:`daemon.config.base.Section`, ``[events]``, ``[service]``) derives
from :class:`StrictModel`, whose ``before`` validator runs on every field of
every subclass, including sections added later:

* a number field (``int`` or ``float``, optionally ``None``) takes a TOML
  number only: no ``true``/``false``, no string; a float field takes a TOML
  integer (``starting_cash = 100000``); an ``int`` field refuses a float;
  floats must be finite (no ``inf``/``nan``). Magnitudes are capped at
  :data:`MAX_MAGNITUDE` even where a section declares no upper bound.
* a ``bool`` field takes ``true``/``false`` only (not ``1``, not ``"yes"``).
* a text field (``str``, ``Path``, a literal choice, dictionary keys, the
  items of a list of text) refuses
  control characters (NUL, newline, ...) and Unicode bidirectional
  overrides, and is at most its declared ``max_length`` or
  :data:`MAX_TEXT_LENGTH` characters.

Environment overrides arrive as text; :func:`coerce_env_text` turns
``ALVH_BROKER__PORT=4001`` into the number the field expects before these
checks run (``daemon.config.load`` does that), so the environment keeps
working while a TOML string stays an error.

This module imports nothing from the daemon, so the calendar and service
modules can use it without an import cycle through :mod:`daemon.config`.
"""

from __future__ import annotations

import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Final, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

__all__ = [
    "MAX_MAGNITUDE",
    "MAX_TEXT_LENGTH",
    "StrictModel",
    "bad_text",
    "coerce_env_text",
    "scalar_kinds",
]

#: Longest text value (characters) of a field that declares no ``max_length``.
MAX_TEXT_LENGTH: Final = 4096
#: Largest absolute value of a number field that declares no bound on that side.
MAX_MAGNITUDE: Final = 1e12

#: C0/C1 control characters and DEL, and the Unicode bidirectional
#: embedding/override/isolate marks (they make text read differently than stored).
_BAD_TEXT: Final = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

_INT_TEXT: Final = re.compile(r"^[+-]?\d{1,30}$")
_TRUE_TEXT: Final = frozenset({"true", "1", "yes", "on"})
_FALSE_TEXT: Final = frozenset({"false", "0", "no", "off"})


def bad_text(value: str) -> str | None:
    """Why ``value`` is not acceptable text (a control or bidi character), or ``None``."""
    m = _BAD_TEXT.search(value)
    if m is None:
        return None
    return f"contains the control character U+{ord(m.group(0)):04X} at position {m.start()}"


def scalar_kinds(annotation: Any) -> frozenset[type]:
    """The scalar types a field annotation admits (``None`` and containers ignored).

    ``int | None`` -> ``{int}``; ``Literal["a", "b"]`` -> ``{str}``;
    ``float`` -> ``{float}``; a model or a ``dict`` -> ``{}``.
    """
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return scalar_kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: set[type] = set()
        for arg in typing.get_args(annotation):
            out |= scalar_kinds(arg)
        return frozenset(out)
    if origin is Literal:
        return frozenset(type(a) for a in typing.get_args(annotation))
    if annotation in (bool, int, float, str):
        return frozenset({annotation})
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return frozenset({Path})
    return frozenset()


def _max_length(metadata: list[Any]) -> int:
    for meta in metadata:
        limit = getattr(meta, "max_length", None)
        if isinstance(limit, int):
            return limit
    return MAX_TEXT_LENGTH


def _has_bound(metadata: list[Any], kinds: tuple[type, ...]) -> bool:
    return any(isinstance(meta, kinds) for meta in metadata)


def check_scalar(value: Any, annotation: Any, metadata: list[Any]) -> Any:
    """Refuse a coercion the field would otherwise accept; returns ``value`` unchanged.

    Raises:
        ValueError: one short reason (pydantic adds the key path).
    """
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset) and isinstance(value, list | tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if len(args) == 1 or origin is not tuple:  # list[str], tuple[str, ...]
            for item in value:
                check_scalar(item, args[0] if args else Any, [])
        return value
    kinds = scalar_kinds(annotation)
    if not kinds or value is None:
        if isinstance(value, dict):
            for key in value:
                if isinstance(key, str):
                    _check_text(key, MAX_TEXT_LENGTH, what="key")
        return value
    numeric = kinds & {int, float}
    if numeric and not kinds & {str, Path, bool}:
        if isinstance(value, bool):
            raise ValueError(f"must be a number, not {str(value).lower()}")
        if isinstance(value, str):
            raise ValueError(f"must be a number, not the text {value[:40]!r}")
        if float not in numeric and isinstance(value, float):
            raise ValueError(f"must be a whole number (got {value!r})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"must be a finite number (got {value!r})")
        if isinstance(value, int | float):
            if not _has_bound(metadata, (annotated_types.Le, annotated_types.Lt)) and (
                value > MAX_MAGNITUDE
            ):
                raise ValueError(f"must be at most {MAX_MAGNITUDE:g} (got {value!r})")
            if not _has_bound(metadata, (annotated_types.Ge, annotated_types.Gt)) and (
                value < -MAX_MAGNITUDE
            ):
                raise ValueError(f"must be at least {-MAX_MAGNITUDE:g} (got {value!r})")
        return value
    if kinds == {bool} and not isinstance(value, bool):
        raise ValueError(f"must be true or false (got {value!r:.40})")
    if kinds & {str, Path} and isinstance(value, str | Path):
        _check_text(str(value), _max_length(metadata))
    return value


def _check_text(text: str, limit: int, what: str = "text") -> None:
    if len(text) > limit:
        raise ValueError(f"{what} is too long ({len(text)} characters, at most {limit})")
    problem = bad_text(text)
    if problem is not None:
        raise ValueError(f"{what} {problem}")


class StrictModel(BaseModel):
    """A frozen model with unknown keys refused and the strict scalar checks above."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.field_name
        if name is None:  # pragma: no cover - field validators always have a name
            return value
        field = cls.model_fields[name]
        return check_scalar(value, field.annotation, list(field.metadata))


def coerce_env_text(text: str, annotation: Any) -> Any:
    """An environment variable's text as the scalar the field expects, when it reads as one.

    ``"4001"`` for an ``int`` field -> ``4001``; ``"0.5"`` for a ``float``
    field -> ``0.5``; ``"true"``/``"false"`` (also ``1/0``, ``yes/no``,
    ``on/off``) for a ``bool`` field. Text that does not read as the type is
    returned unchanged, so validation reports it with the variable's name.
    """
    kinds = scalar_kinds(annotation)
    stripped = text.strip()
    if kinds & {str, Path}:
        return text
    if kinds == {bool}:
        low = stripped.lower()
        if low in _TRUE_TEXT:
            return True
        if low in _FALSE_TEXT:
            return False
        return text
    if int in kinds and _INT_TEXT.match(stripped):
        return int(stripped)
    if float in kinds:
        try:
            return float(stripped)
        except ValueError:
            return text
    return text
