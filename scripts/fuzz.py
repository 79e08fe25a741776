"""Fuzz campaign over every input ``alvh`` reads: malformed input must give one line.

Areas (``--areas``): ``config`` (TOML files), ``env`` (``ALVH_*`` overrides),
``calendar`` (user calendar CSV), ``ics`` (iCalendar import), ``chain``
(Cboe chain CSV), ``journal`` (corrupt and foreign journal files),
``bundle`` (the daily data bundle) and ``paths`` (command-line paths and
flags). A seeded generator (``--seed``) builds each case; cases run the real
entry points: the ``alvh`` command line in this process
(:func:`daemon.cli.main`) or the loader it calls, and a sample
(``--subprocess N``) as a separate ``alvh`` process.

Every case has a time limit (``--timeout``, seconds). A case fails as

* **traceback**: an exception escapes the entry point, the command exits 1
  (internal error) or prints ``Traceback``;
* **hang**: it runs longer than the time limit;
* **accepted out-of-range**: the generator knows the input is invalid (a value
  outside its documented range, a wrong type, a forbidden character) and the
  command accepted it (exit 0 / no error).

It prints the counts and exits 1 if any is non-zero::

    .venv/bin/python scripts/fuzz.py               # full run (>= 1,500 cases)
    .venv/bin/python scripts/fuzz.py --quick       # the CI sample (tests/test_fuzz_quick.py)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon.config import AlvhConfig, ConfigError, load_config  # noqa: E402
from daemon.config.base import ENV_PREFIX  # noqa: E402
from daemon.strictmodel import scalar_kinds  # noqa: E402

CHAIN_FIXTURE = ROOT / "tests" / "fixtures" / "chains" / "SPX_2023-02-03.csv"
BUNDLE = ROOT / "daemon" / "marketdata" / "bundle"
AREAS = ("config", "env", "calendar", "ics", "chain", "journal", "bundle", "paths")
#: Cases per area in the full run (sum >= 1,500) and in the quick run.
FULL = {
    "config": 520,
    "env": 240,
    "calendar": 200,
    "ics": 200,
    "chain": 120,
    "journal": 150,
    "bundle": 120,
    "paths": 40,
}
QUICK = {
    "config": 60,
    "env": 30,
    "calendar": 25,
    "ics": 25,
    "chain": 10,
    "journal": 20,
    "bundle": 10,
    "paths": 12,
}


class Hang(Exception):
    """A case ran past its time limit."""


@dataclass
class Case:
    """One generated input: what to run and whether it must be refused."""

    area: str
    label: str
    run: Callable[[], int]  # the exit status (0 accepted, 2.. refused)
    invalid: bool  # the generator knows the input is invalid
    argv: list[str] | None = None  # for the subprocess sample
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    cases: int = 0
    tracebacks: int = 0
    hangs: int = 0
    accepted: int = 0
    refused: int = 0
    subprocess: int = 0
    by_area: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def _env(overrides: dict[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)}
    for k in saved:
        del os.environ[k]
    os.environ.update(overrides)
    try:
        yield
    finally:
        for k in [k for k in os.environ if k.upper().startswith(ENV_PREFIX)]:
            del os.environ[k]
        os.environ.update(saved)


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang


def cli(argv: list[str]) -> int:
    """``alvh ARGV`` in this process; output captured; returns the exit status."""
    from daemon.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = int(main(argv))
        except SystemExit as exc:  # argparse
            status = exc.code if isinstance(exc.code, int) else 2
    text = err.getvalue()
    if "Traceback (most recent call last)" in text:
        raise RuntimeError(f"traceback printed: {text[-300:]}")
    lines = text.strip().splitlines()
    if lines and lines[0].startswith("usage:") and ": error: " in lines[-1]:
        lines = lines[-1:]  # argparse: the usage, then one line naming the argument
    if status not in (0, 130) and len(lines) > 1:
        raise RuntimeError(f"error is not one line: {text[:300]!r}")
    return status


def run_case(case: Case, timeout: float, tally: Tally) -> None:
    tally.cases += 1
    tally.by_area[case.area] += 1
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with _env(case.env):
            status = case.run()
    except Hang:
        tally.hangs += 1
        tally.failures.append(f"HANG {case.area}: {case.label}")
        return
    except BaseException as exc:
        tally.tracebacks += 1
        tally.failures.append(f"TRACEBACK {case.area}: {case.label}: {type(exc).__name__}: {exc}")
        return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    _judge(case, status, tally)


def _judge(case: Case, status: int, tally: Tally) -> None:
    if status == 1:
        tally.tracebacks += 1
        tally.failures.append(f"INTERNAL {case.area}: {case.label}")
    elif status == 0 and case.invalid:
        tally.accepted += 1
        tally.failures.append(f"ACCEPTED {case.area}: {case.label}")
    elif status != 0:
        tally.refused += 1


def run_subprocess(case: Case, timeout: float, tally: Tally) -> None:
    """Run ``case.argv`` as a separate ``alvh`` process (stderr must have no traceback)."""
    assert case.argv is not None
    tally.cases += 1
    tally.subprocess += 1
    tally.by_area[case.area] += 1
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(ENV_PREFIX)}
    env.update(case.env)
    code = "import sys; from daemon.cli import main; sys.exit(main(sys.argv[1:]))"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, *case.argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        tally.hangs += 1
        tally.failures.append(f"HANG (subprocess) {case.area}: {case.label}")
        return
    if "Traceback" in proc.stderr:
        tally.tracebacks += 1
        tally.failures.append(f"TRACEBACK (subprocess) {case.area}: {case.label}")
        return
    _judge(case, proc.returncode, tally)


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
    names = sorted(sections)
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


# --------------------------------------------------------------------------- calendar CSV

_CAL_HEADER = "date,time_et,event,scheduled,grade,source\n"
_BAD_NAMES = ["A\x00B", "\u202eCPI", "evil\u2066x", "x" * 300, "bell\x07here", "\x7f"]


def gen_calendar(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    for i in range(n):
        path = tmp / f"cal{i}.csv"
        pick = rng.random()
        invalid = True
        if pick < 0.25:
            name = rng.choice(_BAD_NAMES)
            body = _CAL_HEADER + f'2024-05-01,10:00,"{name}",true,user,x\n'
            label = f"event name {name[:10]!r}"
        elif pick < 0.45:
            cell = rng.choice(
                [
                    "2024-02-30",
                    "2024-13-01",
                    "20240101",
                    "9999-99-99",
                    "",
                    "2024-01-01T00:00",
                    "0000-01-01",
                ]
            )
            body = _CAL_HEADER + f"{cell},10:00,CPI,true,user,x\n"
            label = f"date {cell!r}"
        elif pick < 0.6:
            cell = rng.choice(["25:00", "10:60", "1000", "10:00:00", "-1:00", "ab:cd"])
            body = _CAL_HEADER + f"2024-05-01,{cell},CPI,true,user,x\n"
            label = f"time {cell!r}"
        elif pick < 0.7:
            body = (
                _CAL_HEADER + "2024-05-01,10:00,CPI," + "x" * rng.choice([200_000, 140_000]) + "\n"
            )
            label = "a huge field"
        elif pick < 0.8:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            path.write_bytes(raw)
            yield Case("calendar", "random bytes", _cal_show(path), True)
            continue
        elif pick < 0.85:
            body = _CAL_HEADER + "2024-05-01,10:00,CPI,maybe,Z,x\n"
            label = "bad scheduled/grade"
        elif pick < 0.9:
            body = _CAL_HEADER + '2024-05-01,10:00,"multi\nline",true,user,x\n'
            label = "field spanning lines"
        else:
            day = rng.randrange(1, 28)
            body = _CAL_HEADER + f"2024-05-{day:02d},10:00,My event {i},true,user,ok\n"
            label, invalid = "a valid user event", False
        path.write_text(body, encoding="utf-8")
        yield Case("calendar", label, _cal_show(path), invalid, _cal_argv(path))
    yield Case("calendar", "/dev/zero", _cal_show(Path("/dev/zero")), True)
    fifo = tmp / "cal.fifo"
    os.mkfifo(fifo)
    yield Case("calendar", "a FIFO without writer", _cal_show(fifo), True)


def _cal_argv(path: Path) -> list[str]:
    return ["calendar", "show", "--user-calendar", str(path), "--from", "2024-05-01",
            "--to", "2024-05-31", "--events-only"]  # fmt: skip


def _cal_show(path: Path) -> Callable[[], int]:
    return lambda: cli(_cal_argv(path))


# --------------------------------------------------------------------------- ics


def _ics(events: list[str]) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:fuzz\r\n" + "".join(events) + "END:VCALENDAR\r\n"
    )


def _vevent(uid: str, summary: str, dtstart: str, extra: str = "") -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\n{dtstart}\r\n{extra}END:VEVENT\r\n"


def gen_ics(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    for i in range(n):
        path = tmp / f"i{i}.ics"
        into = tmp / f"into{i}.csv"
        pick = rng.random()
        invalid = True
        if pick < 0.2:
            tz = rng.choice(
                ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "America/Nowhere", "x" * 300]
            )
            body = _ics([_vevent(f"u{i}", "CPI", f"DTSTART;TZID={tz}:20250110T083000")])
            label = f"TZID {tz[:20]!r}"
        elif pick < 0.35:
            name = rng.choice(_BAD_NAMES)
            body = _ics([_vevent(f"u{i}", name, "DTSTART:20250110T083000Z")])
            label = f"summary {name[:10]!r}"
        elif pick < 0.45:
            dt = rng.choice(["DTSTART:20250230T083000", "DTSTART:2025", "DTSTART:abc", "DTSTART:"])
            body = _ics([_vevent(f"u{i}", "CPI", dt)])
            label = f"{dt!r}"
        elif pick < 0.55:
            depth = rng.choice([100, 3000])
            body = _ics(["BEGIN:VEVENT\r\n" * depth + "END:VEVENT\r\n" * depth])
            label = f"components nested {depth}"
        elif pick < 0.62:
            body = _ics(
                [_vevent(f"u{i}", "CPI", "DTSTART:20250110T083000Z", "RRULE:FREQ=DAILY\r\n")]
            )
            label = "RRULE"
        elif pick < 0.7:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            path.write_bytes(raw)
            yield Case("ics", "random bytes", _ics_import(path, into), True)
            continue
        elif pick < 0.77:
            good = _ics([_vevent(f"u{i}", "CPI", "DTSTART:20250110T083000Z")])
            cut = rng.randrange(1, len(good) - 5)
            body = good[:cut]
            label = f"truncated at {cut}"
        elif pick < 0.85:
            body = _ics([_vevent(f"u{i}", "Event", "DTSTART;VALUE=DATE:20250110")])
            target = tmp / f"target{i}.csv"
            target.write_text(_CAL_HEADER, encoding="utf-8")
            link = tmp / f"link{i}.csv"
            link.symlink_to(target)
            path.write_text(body, encoding="utf-8")
            yield Case("ics", "--into a symlink", _ics_symlink(path, link, target), False)
            continue
        else:
            n_events = rng.choice([1, 10, 500])
            evs = [
                _vevent(f"v{i}-{k}", f"Release {k}", f"DTSTART:2025{(k % 12) + 1:02d}10T133000Z")
                for k in range(n_events)
            ]
            body = _ics(evs)
            label, invalid = f"{n_events} valid events", False
        path.write_text(body, encoding="utf-8")
        yield Case("ics", label, _ics_import(path, into), invalid, _ics_argv(path, into))


def _ics_argv(path: Path, into: Path) -> list[str]:
    return ["calendar", "import", str(path), "--into", str(into)]


def _ics_import(path: Path, into: Path) -> Callable[[], int]:
    return lambda: cli(_ics_argv(path, into))


def _ics_symlink(path: Path, link: Path, target: Path) -> Callable[[], int]:
    def run() -> int:
        status = cli(_ics_argv(path, link))
        if not link.is_symlink():
            raise RuntimeError("--into replaced the symbolic link")
        if status == 0 and "Event" not in target.read_text(encoding="utf-8"):
            raise RuntimeError("--into a symlink did not write through to its target")
        return status

    return run


# --------------------------------------------------------------------------- chains


def gen_chain(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    base = CHAIN_FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    header_at = next(i for i, line in enumerate(base) if line.startswith("Expiration Date"))
    for i in range(n):
        d = tmp / f"ch{i}"
        d.mkdir()
        lines = list(base)
        name = "SPX_2023-02-03.csv"
        pick = rng.random()
        invalid = True
        if pick < 0.15:
            name = rng.choice(["SPX_2023-02-30.csv", "SPX_2023-13-01.csv", "SPX_0000-00-00.csv"])
            label = f"file name {name}"
        elif pick < 0.3:
            k = rng.randrange(header_at + 1, len(lines))
            lines[k] = lines[k].rstrip("\n") + "," + "x" * rng.choice([131_073, 200_000]) + "\n"
            label = "a field over 128 KiB"
        elif pick < 0.45:
            body = []
            for line in lines[header_at + 1 :]:
                cells = line.rstrip("\n").split(",")
                if len(cells) >= 22:
                    cells[4] = cells[15] = rng.choice(["nan", "NaN", "inf", "-inf"])
                body.append(",".join(cells) + "\n")
            lines = lines[: header_at + 1] + body
            label = "every bid NaN/inf"
        elif pick < 0.55:
            lines[1] = rng.choice(
                ["X,Last: -1,Change: 0\n", "X,Last: 1e308,Change: 0\n", "X,Last: nan,Change: 0\n"]
            )
            label = f"underlying {lines[1].strip()!r}"
        elif pick < 0.65:
            lines = lines[: rng.randrange(0, header_at + 2)]
            label = "truncated before quotes"
        elif pick < 0.75:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 500)))
            (d / name).write_bytes(raw)
            yield Case(
                "chain", "random bytes", _chain(d / name), True, ["model-check", str(d / name)]
            )
            continue
        elif pick < 0.8:
            qpath = d / "quotes.csv"
            row = rng.choice(
                [
                    "2023-02-30,SPX,2023-03-17,4000,C,1,2",
                    "2023-02-03,SPX,2023-03-17,nan,C,1,2",
                    "2023-02-03,SPX,2023-03-17,4000,X,1,2",
                    "2023-02-03,ZZZ,2023-03-17,4000,C,1,2",
                    "2023-02-03,SPX,2023-03-17,4000,C,-1,inf",
                    "2023-02-03,SPX,2023-03-17,4000,C," + "9" * 140_000,
                ]
            )
            qpath.write_text(
                "quote_date,underlying,expiry,strike,right,bid,ask\n" + row + "\n",
                encoding="utf-8",
            )
            argv = ["model-check", str(qpath)]
            yield Case("chain", f"quotes file row {row[:40]!r}", _cli(argv), True, argv)
            continue
        elif pick < 0.87:
            k = rng.randrange(header_at + 1, len(lines))
            cells = lines[k].split(",")
            j = rng.randrange(len(cells))
            cells[j] = rng.choice(["\x00", "1e999", "-5", "", "abc", '"'])
            lines[k] = ",".join(cells)
            label, invalid = f"one mangled cell {cells[j]!r}", False
        else:
            label, invalid = "the fixture as is", False
        (d / name).write_text("".join(lines), encoding="utf-8")
        yield Case("chain", label, _chain(d / name), invalid, ["model-check", str(d / name)])


def _chain(path: Path) -> Callable[[], int]:
    return lambda: cli(["model-check", str(path)])


# --------------------------------------------------------------------------- journals


def _seed_journal(tmp: Path) -> Path:
    path = tmp / "seed.sqlite"
    status = cli(
        ["replay", "--start", "2020-02-03", "--end", "2020-03-13", "--journal", str(path),
         "--log-file", str(tmp / "seed.log"), "--no-progress"]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(f"fuzz: cannot build the seed journal (status {status})")
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    return path


def _journal_mutations(rng: random.Random, seed: Path, path: Path) -> tuple[str, bool]:
    """Write a damaged copy of ``seed`` at ``path``; returns (label, must be refused)."""
    raw = bytearray(seed.read_bytes())
    pick = rng.random()
    if pick < 0.2:
        cut = rng.randrange(0, len(raw))
        path.write_bytes(bytes(raw[:cut]))
        return f"truncated at {cut}", False
    if pick < 0.4:
        page = 4096
        k = rng.randrange(1, max(2, len(raw) // page))
        raw[k * page : (k + 1) * page] = bytes(page)
        path.write_bytes(bytes(raw))
        return f"page {k} zeroed", False
    if pick < 0.5:
        for _ in range(rng.randrange(1, 50)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw))
        return "random byte flips", False
    if pick < 0.6:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000))))
        return "random bytes", True
    if pick < 0.7:
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE foreign_table (x)")
        con.execute("INSERT INTO foreign_table VALUES (1)")
        con.commit()
        con.close()
        return "a foreign SQLite database", True
    shutil.copy(seed, path)
    con = sqlite3.connect(path)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    table = rng.choice(tables)
    cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    col = rng.choice(cols)
    value = rng.choice(["garbage", None, -1, 1e308, "{not json", "[]", "9999-99-99", b"\x00\xff"])
    sub = rng.random()
    try:
        if sub < 0.15:
            con.execute(f"DROP TABLE {table}")
            label = f"table {table} dropped"
        elif sub < 0.25:
            con.execute(f"PRAGMA user_version = {rng.choice([99, -1, 0])}")
            label = "user_version changed"
        else:
            con.execute(f"UPDATE {table} SET {col} = ?", (value,))
            label = f"{table}.{col} = {value!r:.20}"
        con.commit()
    except sqlite3.Error as exc:
        label = f"mutation refused by SQLite ({exc})"
    con.close()
    return label, False


def gen_journal(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    seed = _seed_journal(tmp)
    for i in range(n):
        path = tmp / f"j{i}.sqlite"
        label, invalid = _journal_mutations(rng, seed, path)
        cmd = rng.choice(["journal", "journal-json", "status", "status-json", "replay"])
        if cmd.startswith("journal"):
            argv = ["journal", str(path)] + (["--json"] if cmd.endswith("json") else [])
        elif cmd.startswith("status"):
            argv = ["status", "--journal", str(path)] + (["--json"] if cmd.endswith("json") else [])
        else:
            argv = ["replay", "--start", "2020-03-16", "--end", "2020-03-17", "--journal",
                    str(path), "--log-file", str(tmp / f"j{i}.log"), "--no-progress"]  # fmt: skip
        yield Case("journal", f"{label} ({cmd})", _cli(argv), invalid, argv)


def _cli(argv: list[str]) -> Callable[[], int]:
    return lambda: cli(argv)


# --------------------------------------------------------------------------- bundle


def gen_bundle(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    from daemon.marketdata.files import FILE_SPECS

    for i in range(n):
        d = tmp / f"b{i}"
        shutil.copytree(BUNDLE, d)
        series = rng.choice(sorted(FILE_SPECS))
        spec = FILE_SPECS[series]
        f = d / spec.filename
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
        k = rng.randrange(len(lines) - 300, len(lines))
        cells = lines[k].rstrip("\n").split(",")
        pick = rng.random()
        invalid = True
        if pick < 0.35:
            col = 1 + spec.columns.index(spec.key[0])
            if series in ("spx",):
                cells[col] = rng.choice(["-1", "0", "1", "1e308"])
            elif series == "nyse_breadth":
                cells[col] = rng.choice(["-1", "1e308"])
            else:
                cells[col] = rng.choice(["0", "-0.5", "-20", "1e308"])
            lines[k] = ",".join(cells) + "\n"
            label = f"{series} {spec.key[0]} = {cells[col]}"
        elif pick < 0.5:
            raw = f.read_bytes()
            cut = rng.randrange(len(raw) // 2, len(raw))
            f.write_bytes(raw[:cut] + b"\xff\xfe\xc3" + raw[cut:])
            yield Case("bundle", f"{series}: non-UTF-8 bytes", _bundle(d), True)
            continue
        elif pick < 0.6:
            cells[0] = rng.choice(["2020-02-30", "yesterday", "1900-01-01", ""])
            lines[k] = ",".join(cells) + "\n"
            label = f"{series} date {cells[0]!r}"
        elif pick < 0.7:
            cells.append("x" * 140_000)
            lines[k] = ",".join(cells) + "\n"
            label = f"{series}: a 140k field"
        elif pick < 0.8:
            lines[0] = "date,nonsense\n"
            label = f"{series}: wrong header"
        elif pick < 0.85:
            f.unlink()
            yield Case("bundle", f"{series}: missing file", _bundle(d), True)
            continue
        elif pick < 0.9:
            lines.insert(k, lines[k])
            label = f"{series}: duplicate row"
        else:
            label, invalid = f"{series}: untouched", False
        f.write_text("".join(lines), encoding="utf-8")
        yield Case(
            "bundle",
            label,
            _bundle(d),
            invalid,
            ["model-check", str(CHAIN_FIXTURE), "--bundle", str(d)],
        )


def _bundle(d: Path) -> Callable[[], int]:
    def run() -> int:
        from daemon.marketdata.loader import MarketDataError, load_history

        try:
            load_history(d)
        except MarketDataError as exc:
            if "\n" in str(exc):
                raise RuntimeError(f"multi-line error: {exc!s:.200}") from None
            return 2
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return 0

    return run


# --------------------------------------------------------------------------- paths and flags


def gen_paths(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    missing = tmp / "no" / "such" / "dir"
    cfg_live = tmp / "live.toml"
    cfg_live.write_text(
        '[broker]\ntrading_mode = "live"\naccount = "U1234567"\nmarket_data_type = 1\n'
    )
    fixed: list[tuple[str, list[str], bool]] = [
        (
            "replay --journal in a missing directory",
            [
                "replay",
                "--start",
                "2020-03-02",
                "--end",
                "2020-03-03",
                "--journal",
                str(missing / "j.sqlite"),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay --log-file in a missing directory",
            [
                "replay",
                "--start",
                "2020-03-02",
                "--end",
                "2020-03-03",
                "--journal",
                str(tmp / "ok.sqlite"),
                "--log-file",
                str(missing / "x.log"),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay --journal is a directory",
            [
                "replay",
                "--start",
                "2020-03-02",
                "--end",
                "2020-03-03",
                "--journal",
                str(tmp),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay outside the data",
            [
                "replay",
                "--start",
                "1850-01-01",
                "--end",
                "1850-02-01",
                "--journal",
                str(tmp / "old.sqlite"),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay end before start",
            [
                "replay",
                "--start",
                "2020-03-05",
                "--end",
                "2020-03-02",
                "--journal",
                str(tmp / "rev.sqlite"),
                "--no-progress",
            ],
            True,
        ),
        (
            "model-check --plot into a missing directory",
            ["model-check", str(CHAIN_FIXTURE), "--plot", str(missing / "p.png")],
            True,
        ),
        (
            "model-check --bundle missing",
            ["model-check", str(CHAIN_FIXTURE), "--bundle", str(missing)],
            True,
        ),
        (
            "run --now in live mode",
            ["run", "--config", str(cfg_live), "--now", "2024-05-01T15:30:00-04:00"],
            True,
        ),
        (
            "run --journal config in a missing directory (env)",
            ["run", "--port", "1", "--dry-run"],
            True,
        ),
        ("status on a missing journal", ["status", "--journal", str(missing / "j")], True),
        ("journal on a directory", ["journal", str(tmp)], True),
        (
            "calendar import into a missing directory",
            ["calendar", "import", str(tmp / "none.ics"), "--into", str(missing / "c.csv")],
            True,
        ),
        (
            "run --client-id -5 (an override below its range)",
            ["run", "--client-id", "-5", "--dry-run"],
            True,
        ),
        ("run --port 0", ["run", "--port", "0", "--dry-run"], True),
        ("--version", ["--version"], False),
    ]
    env_for = {
        "run --journal config in a missing directory (env)": {
            "ALVH_JOURNAL__PATH": str(missing / "j.sqlite")
        }
    }
    for i in range(n):
        label, argv, invalid = fixed[i % len(fixed)]
        yield Case("paths", label, _cli(argv), invalid, argv, env_for.get(label, {}))


GENERATORS: dict[str, Callable[[random.Random, int, Path], Iterator[Case]]] = {
    "config": gen_config,
    "env": gen_env,
    "calendar": gen_calendar,
    "ics": gen_ics,
    "chain": gen_chain,
    "journal": gen_journal,
    "bundle": gen_bundle,
    "paths": gen_paths,
}


# --------------------------------------------------------------------------- main


def campaign(
    counts: dict[str, int],
    *,
    seed: int = 12,
    timeout: float = 30.0,
    subprocess_every: int = 25,
    verbose: bool = False,
) -> Tally:
    """Run the campaign; every ``subprocess_every``-th case with an argv also runs as a process."""
    rng = random.Random(seed)
    tally = Tally()
    k = 0
    with tempfile.TemporaryDirectory(prefix="alvh-fuzz-") as tmp_dir:
        tmp = Path(tmp_dir)
        os.chdir(tmp)  # default journal paths and logs land here
        for area, n in counts.items():
            work = tmp / area
            work.mkdir()
            for case in GENERATORS[area](rng, n, work):
                run_case(case, timeout, tally)
                k += 1
                if case.argv is not None and subprocess_every and k % subprocess_every == 0:
                    run_subprocess(case, timeout * 2, tally)
                if verbose and tally.failures:
                    print(tally.failures[-1], file=sys.stderr)
        os.chdir(ROOT)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short CI sample")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per case")
    parser.add_argument("--areas", default=",".join(AREAS), help="comma-separated areas")
    parser.add_argument("--subprocess-every", type=int, default=25, metavar="N")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    table = QUICK if args.quick else FULL
    areas = [a for a in args.areas.split(",") if a]
    counts = {a: table[a] for a in areas}
    from daemon.logs import configure_logging

    configure_logging("critical", "json", io.StringIO())
    started = time.monotonic()
    tally = campaign(
        counts,
        seed=args.seed,
        timeout=args.timeout,
        subprocess_every=args.subprocess_every,
        verbose=args.verbose,
    )
    took = time.monotonic() - started
    for line in tally.failures[:50]:
        print(line)
    per_area = ", ".join(f"{a} {n}" for a, n in tally.by_area.items())
    print(f"areas: {per_area}")
    print(
        f"cases: {tally.cases} (subprocess {tally.subprocess}), tracebacks: {tally.tracebacks}, "
        f"hangs: {tally.hangs}, accepted out-of-range: {tally.accepted}, "
        f"refused with one line: {tally.refused}, seconds: {took:.1f}"
    )
    return 0 if not (tally.tracebacks or tally.hangs or tally.accepted) else 1


if __name__ == "__main__":
    sys.exit(main())
