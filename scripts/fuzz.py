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
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from fuzzing.config_cases import gen_config, gen_env  # noqa: E402
from fuzzing.core import Case, Tally, run_case, run_subprocess  # noqa: E402
from fuzzing.file_cases import gen_bundle, gen_calendar, gen_chain, gen_ics  # noqa: E402
from fuzzing.journal_cases import gen_journal, gen_paths  # noqa: E402

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
