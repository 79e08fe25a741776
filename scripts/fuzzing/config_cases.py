"""Generated configuration files and ``ALVH_*`` environment overrides."""

from __future__ import annotations

import json
import math
import os
import random
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from daemon.config import AlvhConfig, ConfigError, load_config
from daemon.config.base import ENV_PREFIX
from daemon.strictmodel import scalar_kinds
from fuzzing.core import Case

# --------------------------------------------------------------------------- config


def _sections() -> dict[str, dict[str, Any]]:
    """section -> key -> FieldInfo, for scalar keys of every section."""
    out: dict[str, dict[str, Any]] = {}
    for name, info in AlvhConfig.model_fields.items():
        model = info.annotation
        if not isinstance(model, type):
            continue
        out[name] = {
            k: f
            for k, f in model.model_fields.items()
            if scalar_kinds(f.annotation) and typing.get_origin(f.annotation) is not dict
        }
    return out


def _bounds(info: Any) -> tuple[float | None, bool, float | None, bool]:
    lo = hi = None
    lo_ex = hi_ex = False
    for meta in info.metadata:
        for attr, ex in (("ge", False), ("gt", True)):
            if getattr(meta, attr, None) is not None:
                lo, lo_ex = float(getattr(meta, attr)), ex
        for attr, ex in (("le", False), ("lt", True)):
            if getattr(meta, attr, None) is not None:
                hi, hi_ex = float(getattr(meta, attr)), ex
    return lo, lo_ex, hi, hi_ex


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str | Path):
        return json.dumps(str(v))  # a TOML basic string is JSON-compatible for these
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v))


def _bad_value(rng: random.Random, info: Any) -> tuple[Any, str]:
    """A value the key must refuse, and what is wrong with it."""
    kinds = scalar_kinds(info.annotation)
    lo, lo_ex, hi, hi_ex = _bounds(info)
    choices: list[tuple[Any, str]] = [([1, 2], "an array")]
    if kinds & {int, float} and not kinds & {str}:
        choices += [
            (True, "true for a number"),
            (False, "false for a number"),
            ("12", "a string for a number"),
            (math.inf, "inf"),
            (-math.inf, "-inf"),
            (math.nan, "nan"),
        ]
        if int in kinds and float not in kinds:
            choices.append((1.5, "a fraction for a whole number"))
        if hi is not None:
            choices.append((hi + (1 if hi_ex else max(1.0, abs(hi) * 0.5)), "above the maximum"))
            choices.append((hi if hi_ex else hi * 10 + 1, "at or above the maximum"))
        if lo is not None:
            choices.append((lo - (0 if lo_ex else max(1.0, abs(lo))), "below the minimum"))
        if int in kinds and float not in kinds:
            choices = [
                (int(v) if isinstance(v, float) and math.isfinite(v) and v == int(v) else v, w)
                for v, w in choices
            ]
        choices.append((10**30, "a huge number"))
    elif kinds == {bool}:
        choices += [(1, "1 for a boolean"), ("yes", "a string for a boolean")]
    if kinds & {str, Path}:
        choices += [
            ("a\x00b", "a NUL"),
            ("x" * 100_000, "100k characters"),
            ("\u202eevil", "a bidi override"),
            ("line\nbreak", "a newline"),
            (7, "a number for a string"),
        ]
    return rng.choice(choices)


def _good_value(rng: random.Random, info: Any) -> Any:
    return info.get_default(call_default_factory=True)


#: Cross-field violations: (section, {key: value}) that must be refused.
CROSS = [
    ("broker", {"reconnect_initial_s": 30.0, "reconnect_max_s": 5.0}),
    ("broker", {"market_data_lines": 50, "market_data_lines_budget": 60}),
    ("broker", {"walk_interval_s": 100.0, "walk_timeout_s": 10.0}),
    ("condor", {"min_dte": 20, "max_dte": 10}),
    ("condor", {"short_delta": 0.1, "wing_delta": 0.2}),
    ("hedge", {"otm_min": 0.5, "otm_max": 0.2}),
    ("schedule", {"manage_time": "15:45", "mark_time": "15:00"}),
    ("signals", {"macd_fast": 30, "macd_slow": 20}),
]


def gen_config(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    sections = _sections()
    names = sorted(name for name, keys in sections.items() if keys)
    for i in range(n):
        path = tmp / f"c{i}.toml"
        pick = rng.random()
        invalid = True
        if pick < 0.55:
            sec = rng.choice(names)
            key = rng.choice(sorted(sections[sec]))
            value, why = _bad_value(rng, sections[sec][key])
            body = f"[{sec}]\n{key} = {_toml_value(value)}\n"
            label = f"[{sec}] {key} = {why}"
        elif pick < 0.65:
            sec, pairs = rng.choice(CROSS)
            body = f"[{sec}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in pairs.items())
            label = f"cross-field {sec} {pairs}"
        elif pick < 0.72:
            depth = rng.choice([50, 500, 5000, 50_000])
            body = "x = " + "[" * depth + "]" * depth + "\n"
            label = f"array nested {depth} deep"
        elif pick < 0.77:
            depth = rng.choice([100, 2000])
            body = "x = " + "{a = " * depth + "1" + "}" * depth + "\n"
            label = f"inline tables nested {depth} deep"
        elif pick < 0.84:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
            path.write_bytes(raw)
            yield Case("config", "random bytes", _load(path), True, _cfg_argv(path))
            continue
        elif pick < 0.90:
            sec = rng.choice(names)
            body = f"[{sec}]\nno_such_key_{i} = 1\n"
            label = "unknown key"
        else:
            sec = rng.choice(names)
            keys = sorted(sections[sec])
            key = rng.choice(keys) if keys else None
            if key is None:
                continue
            info = sections[sec][key]
            value = _good_value(rng, info)
            body = f"[{sec}]\n{key} = {_toml_value(value)}\n" if value is not None else ""
            label = f"[{sec}] {key} = default"
            invalid = False
        path.write_text(body, encoding="utf-8")
        yield Case("config", label, _load(path), invalid, _cfg_argv(path))
    yield Case("config", "/dev/zero as config", _load(Path("/dev/zero")), True)


def _cfg_argv(path: Path) -> list[str]:
    return ["calendar", "show", "--config", str(path), "--from", "2024-01-02", "--to", "2024-01-03"]


def _load(path: Path) -> Callable[[], int]:
    def run() -> int:
        try:
            load_config(path)
        except ConfigError as exc:
            if "\n" in str(exc):
                raise RuntimeError(f"multi-line error: {exc!s:.200}") from None
            return 2
        return 0

    return run


# --------------------------------------------------------------------------- env


def gen_env(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    sections = _sections()
    names = sorted(sections)
    for _ in range(n):
        sec = rng.choice(names)
        pick = rng.random()
        if pick < 0.5 and sections[sec]:
            key = rng.choice(sorted(sections[sec]))
            info = sections[sec][key]
            value, why = _bad_value(rng, info)
            text = _env_text(value)
            if "\x00" in text:
                text = text.replace("\x00", "\x01")  # the OS cannot carry a NUL
            env = {f"{ENV_PREFIX}{sec.upper()}__{key.upper()}": text}
            label, invalid = f"{sec}.{key} = {why}", True
            if (
                isinstance(value, str)
                and value == "12"
                and scalar_kinds(info.annotation)
                & {
                    int,
                    float,
                }
            ):
                invalid = not _in_bounds(12.0, info)  # "12" from the environment is a number
                label = f"{sec}.{key} = '12' (a number in the environment)"
            kinds = scalar_kinds(info.annotation)
            if kinds & {str, Path} and isinstance(value, int | list):
                # the environment carries text: "7" or "[1, 2]" is a valid path or name
                invalid = False
                label += " (valid text in the environment)"
            if kinds == {bool} and text.strip().lower() in ENV_BOOL_TEXT:
                invalid = False  # documented: true/false, 1/0, yes/no, on/off
                label += " (a documented boolean spelling)"
        elif pick < 0.6 and sections[sec]:
            key = rng.choice(sorted(sections[sec]))
            info = sections[sec][key]
            default = info.get_default(call_default_factory=True)
            if default is None:
                continue
            env = {f"{ENV_PREFIX}{sec.upper()}__{key.upper()}": _env_text(default)}
            label, invalid = f"{sec}.{key} = its default as text", False
        elif pick < 0.8:
            text = rng.choice(
                ["{bad", "[1,2", '{"port": }', "null", "[]", "42", '"x"', "{" * 5000, "\ufeff{}"]
            )
            env = {f"{ENV_PREFIX}{sec.upper()}": text}
            label, invalid = f"ALVH_{sec.upper()} = malformed JSON {text[:12]!r}", True
        elif pick < 0.9:
            depth = rng.choice([10, 1000, 100_000])
            text = '{"a":' * depth + "1" + "}" * depth
            env = {f"{ENV_PREFIX}{sec.upper()}": text}
            label, invalid = f"ALVH_{sec.upper()} JSON nested {depth}", True
        else:
            env = {f"{ENV_PREFIX}{sec.upper()}__NO_SUCH_KEY": "1"}
            label, invalid = "unknown key", True
        yield Case("env", label, _load_env(), invalid, _cfg_argv_env(), env)


#: Boolean spellings the environment accepts (``daemon.strictmodel.coerce_env_text``).
ENV_BOOL_TEXT = frozenset({"true", "false", "1", "0", "yes", "no", "on", "off"})


def _in_bounds(v: float, info: Any) -> bool:
    lo, lo_ex, hi, hi_ex = _bounds(info)
    if lo is not None and (v < lo or (lo_ex and v == lo)):
        return False
    return not (hi is not None and (v > hi or (hi_ex and v == hi)))


def _env_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return json.dumps(v)
    return str(v)


def _load_env() -> Callable[[], int]:
    def run() -> int:
        try:
            load_config(None)
        except ConfigError as exc:
            if "\n" in str(exc):
                raise RuntimeError(f"multi-line error: {exc!s:.200}") from None
            return 2
        return 0

    return run


def _cfg_argv_env() -> list[str]:
    return ["status", "--journal", "/nonexistent/j.sqlite", "--config", os.devnull]
