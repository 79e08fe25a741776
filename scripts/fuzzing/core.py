"""The campaign's machinery: a case, the tally, running a case in process or as a process."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemon.config.base import ENV_PREFIX

ROOT = Path(__file__).resolve().parents[2]
CHAIN_FIXTURE = ROOT / "tests" / "fixtures" / "chains" / "SPX_2023-02-03.csv"
BUNDLE = ROOT / "daemon" / "marketdata" / "bundle"


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


def cli_case(argv: list[str]) -> Callable[[], int]:
    """A case runner: ``alvh ARGV`` in this process."""
    return lambda: cli(argv)
