"""GRID.toml: a ``[grid]`` of dotted config keys to lists of values over an ordinary config.

Example::

    [grid]
    "condor.short_delta" = [0.12, 0.16, 0.20]
    "condor.target_dte" = [30, 45]

    [replay]                 # the rest is an ordinary alvh config (docs/config-reference.md)
    starting_cash = 500000

The grid is the Cartesian product of the lists (here 3 x 2 = 6 points), in
the order the keys are written, the last key varying fastest. A key names a
config value as ``section.key`` (deeper for nested tables); a value may be
anything the key accepts, e.g. a list for a list-valued key (then the grid's
entry is a list of lists). Every point's config is validated by the normal
loader (:func:`daemon.config.config_from_data`, environment overrides
included), so a bad key or value stops the sweep before any replay with one
line naming the key.

``--sample K --seed S`` takes K points of the product at random (without
replacement, reproducible for a seed) without building the whole product, so
a grid of millions of points can be sampled.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.config import AlvhConfig, ConfigError, config_from_data
from daemon.config.load import read_toml

__all__ = ["Grid", "GridError", "Point", "load_grid"]


class GridError(ValueError):
    """GRID.toml cannot be swept: one line naming the file and the key."""


@dataclass(frozen=True, slots=True)
class Point:
    """One point of the grid: its index in the product, its values, its validated config."""

    index: int
    params: dict[str, Any]
    config: AlvhConfig

    def label(self) -> str:
        """``key=value`` pairs, for messages and tables."""
        return ", ".join(f"{k}={_show(v)}" for k, v in self.params.items())


@dataclass(frozen=True, slots=True)
class Grid:
    """A parsed GRID.toml: the varied keys with their values, and the base config data."""

    source: str
    axes: dict[str, list[Any]]
    base: dict[str, Any]

    @property
    def size(self) -> int:
        """Points in the full product."""
        return math.prod(len(v) for v in self.axes.values())

    def params(self, index: int) -> dict[str, Any]:
        """The values of point ``index`` of the product (last key fastest).

        Raises:
            IndexError: ``index`` outside ``0 .. size - 1``.
        """
        if not 0 <= index < self.size:
            raise IndexError(index)
        out: dict[str, Any] = {}
        for key, values in reversed(self.axes.items()):
            index, pick = divmod(index, len(values))
            out[key] = values[pick]
        return {key: out[key] for key in self.axes}

    def indices(self, sample: int | None = None, seed: int = 0) -> list[int]:
        """Every index, or ``sample`` of them drawn with ``seed`` (sorted)."""
        if sample is None or sample >= self.size:
            return list(range(self.size))
        return sorted(random.Random(seed).sample(range(self.size), sample))

    def point(self, index: int) -> Point:
        """Point ``index`` with its config validated.

        Raises:
            GridError: the point's config is invalid (one line naming the key).
        """
        params = self.params(index)
        data = _deep_copy(self.base)
        for key, value in params.items():
            _set(data, key.split("."), value)
        shown = ", ".join(f"{k}={_show(v)}" for k, v in params.items())
        where = f"{self.source} [grid] point {index} ({shown})"
        try:
            config = config_from_data(data, where)
        except ConfigError as exc:
            raise GridError(str(exc)) from None
        return Point(index, params, config)

    def points(self, sample: int | None = None, seed: int = 0) -> list[Point]:
        """The points to sweep (all, or a sample), every config validated first.

        Raises:
            GridError: a point's config is invalid.
        """
        return [self.point(i) for i in self.indices(sample, seed)]


def load_grid(path: Path) -> Grid:
    """Read and check GRID.toml (keys and lists; the configs are checked per point).

    Raises:
        GridError: the file is unreadable or not TOML, has no ``[grid]`` table,
            a key is not a dotted config key, or a value is not a non-empty
            list without repeats. One line naming the file and the key.
    """
    source = str(path)
    data = read_toml(path, GridError)
    grid = data.pop("grid", None)
    if not isinstance(grid, Mapping) or not grid:
        raise GridError(
            f"{source}: no [grid] table: list the keys to vary, e.g. "
            '"condor.short_delta" = [0.12, 0.16]'
        )
    axes: dict[str, list[Any]] = {}
    for key, values in _flatten(grid):
        where = f"{source}: [grid] {key}"
        parts = key.split(".")
        if len(parts) < 2 or not all(parts):
            raise GridError(f'{where}: not a dotted config key such as "condor.short_delta"')
        if not isinstance(values, list) or not values:
            raise GridError(f"{where}: must be a non-empty list of values")
        seen: list[Any] = []
        for value in values:
            if value in seen:
                raise GridError(f"{where}: lists {_show(value)} twice")
            seen.append(value)
        section = data.get(parts[0])
        if section is not None and not isinstance(section, Mapping):
            raise GridError(f"{where}: {parts[0]} is not a table in the config")
        axes[key] = values
    return Grid(source, axes, data)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``[grid]`` entries as ``(dotted key, values)``.

    Quoted keys (``"condor.short_delta" = [...]``) are the documented form; a
    TOML dotted key (``condor.short_delta = [...]``) or a ``[grid.condor]``
    sub-table parses as nested tables and is flattened to the same key.
    """
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value


def _set(data: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    """Set ``data[parts[0]][parts[1]]... = value``, creating tables on the way."""
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}  # a scalar here is replaced; validation judges the result
        node = child
    node[parts[-1]] = value


def _deep_copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _show(value: Any) -> str:
    """A value as written in TOML-ish form (strings quoted), short."""
    text = repr(value) if isinstance(value, str) else str(value).replace("True", "true")
    text = text.replace("False", "false")
    return text if len(text) <= 40 else text[:37] + "..."
