"""The fuzz campaign's CI sample: malformed input of every kind gives one line, never a traceback.

``scripts/fuzz.py --quick`` runs about 200 generated cases over configs,
environment overrides, calendar CSV and ``.ics``, chain CSV, journals, the
data bundle and command-line paths (the full run, ``make fuzz``, runs over
1,500). It runs as its own process so its signal-based time limits and
working directory stay out of the test session.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_fuzz_campaign_finds_no_traceback_hang_or_accepted_nonsense() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fuzz.py"), "--quick", "--timeout", "20"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    counts = re.search(
        r"cases: (\d+) \(subprocess (\d+)\), tracebacks: (\d+), hangs: (\d+), "
        r"accepted out-of-range: (\d+), refused with one line: (\d+)",
        proc.stdout,
    )
    assert counts is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    cases, subprocesses, tracebacks, hangs, accepted, refused = map(int, counts.groups())
    assert (tracebacks, hangs, accepted) == (0, 0, 0), proc.stdout[-3000:]
    assert cases >= 190 and subprocesses >= 1
    assert refused >= cases // 2  # most generated inputs are invalid and were refused
    assert proc.returncode == 0
