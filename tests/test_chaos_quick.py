"""The short chaos campaign (12 SIGKILL points) that CI runs; ``make chaos`` runs all 52.

Each point kills ``alvh run`` against the fake TWS, restarts it on the same
journal and gateway, and checks positions, orders, executions and the file's
integrity (see ``scripts/chaos.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_chaos_campaign_is_clean(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chaos.py"), "--quick", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert summary == "crash points 12, reached 12, clean 12, with problems 0", summary
