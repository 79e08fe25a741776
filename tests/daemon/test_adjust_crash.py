"""A daemon SIGKILLed in the middle of a wing shift restarts with the right legs.

Each case runs a real process (``tests/daemon/adjust_crash_child.py``) that
opens a condor, then a second one whose manage job shifts the put wing and
kills itself at a crash point (``ALVH_CRASH_AT``, :mod:`daemon.crashpoints`).
The scripted gateway outlives it in a file. The restart (restore, then
reconciliation) must leave book, journal row and gateway agreeing on the
legs: the old ones when the adjustment never reached the gateway, the new
ones when it executed there, whatever the journal had recorded when the
process died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.journal import legs_from_json
from daemon.scheduling.jobs import JobName
from tests.daemon.adjust_crash_child import load_gateway
from tests.daemon.rig import CONDOR, decisions, events, fills, order, position_row, start
from tests.daemon.scripted_broker import Outcome
from tests.daemon.test_engine_adjustments import SHIFT_PRICES, SHIFTED, threatened_market

ROOT = Path(__file__).resolve().parents[2]


def _child(journal: Path, gateway: Path, step: str, crash: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALVH_")}
    env["PYTHONPATH"] = str(ROOT)
    if crash:
        env["ALVH_CRASH_AT"] = crash
    proc = subprocess.run(
        [sys.executable, "-m", "tests.daemon.adjust_crash_child", str(journal), str(gateway), step],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr[-3000:]
    return proc.returncode


@pytest.mark.parametrize(
    ("crash", "executed", "legs_after"),
    [
        # intent journaled, nothing sent: the order is cancelled, the legs stay
        ("after_intent:1", 0, CONDOR),
        # executed at the gateway, 3 of the 4 fills journaled: the restart's
        # resync journals the 4th, which completes the adjustment
        ("after_fill_journaled:3", 4, SHIFTED),
        # every fill journaled, the legs switched in memory, the row not yet
        # rewritten: the fold switches them and rewrites the row
        ("after_adjusted:1", 4, SHIFTED),
    ],
)
async def test_a_wing_shift_killed_mid_way_restarts_with_the_right_legs(
    tmp_path: Path, crash: str, executed: int, legs_after: tuple[object, ...]
) -> None:
    journal, gateway_file = tmp_path / "alvh.sqlite", tmp_path / "gateway.json"
    assert _child(journal, gateway_file, "open") == 0
    assert _child(journal, gateway_file, "shift", crash) == -signal.SIGKILL

    gateway = load_gateway(gateway_file)
    [sid] = {f.order_ref for f in gateway.executions[:4]}
    adjust_refs = [d["id"] for d in decisions(journal) if d["action"] == "adjust"]
    assert len(adjust_refs) == 1  # the intent is on disk in every case
    [ref] = adjust_refs
    assert len([f for f in gateway.executions if f.order_ref == ref]) == executed

    rig = await start(journal, gateway=gateway)
    position = rig.position(sid)
    assert position.legs == legs_after
    assert legs_from_json(position_row(journal, sid)["legs_json"]) == legs_after
    assert position.is_balanced and position.held_units == 6
    assert rig.portfolio.net_contracts() == rig.broker.gateway.net()
    assert rig.report is not None and rig.report.halt_reason is None
    # the adjustment's order is settled from what the gateway executed
    assert order(journal, ref)["status"] == ("filled" if executed else "cancelled")
    assert events(journal, ref)[-1] == order(journal, ref)["status"]
    assert len(fills(journal, ref)) == executed  # each execution journaled once

    if not executed:
        # The next manage job shifts the wing again, as a new order.
        threatened_market(rig)
        rig.broker.script(Outcome(prices=SHIFT_PRICES))
        await rig.engine.run_job(JobName.MANAGE)
        assert position.legs == SHIFTED
        assert legs_from_json(position_row(journal, sid)["legs_json"]) == SHIFTED
    rig.close()
