"""``alvh run --dry-run`` as a user runs it: two invocations on one journal, fake TWS.

The first runs the entry job, the second (a restart ten minutes later) the
hedge check. The dry run reads the gateway's market data, fills its own orders
through the replay's fill model and journals them under mode ``dry-run``; the
second invocation restores the condor from the first and hedges it. The
gateway never sees an order: no placeOrder and no cancelOrder message.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

from tests.fake_tws import FakeTWS, In, Scenario
from tests.ib.test_run_command import ALVH, TRADING_DAY, _env, _read_events, _until

ENTRY_NOW = "2026-11-20T15:30:00-05:00"
HEDGE_NOW = "2026-11-20T15:40:00-05:00"


async def _dry_run(tws: FakeTWS, env: dict[str, str], job: str, now: str, rule: str) -> list[Any]:
    """One ``alvh run --dry-run --run-job JOB``; SIGTERM once ``rule``'s order has ended."""
    proc = await asyncio.create_subprocess_exec(
        *ALVH, "run", "--dry-run", "--host", "127.0.0.1", "--port", str(tws.port),
        "--run-job", job, "--now", now,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    events: list[dict[str, Any]] = []
    reader = asyncio.create_task(_read_events(proc.stdout, events))
    try:
        await _until(
            events, lambda e: e.get("event") == "decision" and e.get("rule") == rule, timeout=60
        )
        await _until(events, lambda e: e.get("event") == "order_status", timeout=30)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
        await reader
    assert code == 0, [e for e in events if e.get("level") in ("error", "critical")]
    return events


async def test_dry_run_entry_then_hedge_check_fills_both_and_sends_no_order(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    async with FakeTWS(Scenario(today=TRADING_DAY)) as tws:
        entry = await _dry_run(tws, env, "entry", ENTRY_NOW, "condor_entry")
        hedge = await _dry_run(tws, env, "hedge_check", HEDGE_NOW, "hedge_ladder")
        assert not tws.messages(In.PLACE_ORDER)
        assert not tws.messages(In.CANCEL_ORDER)
    for events in (entry, hedge):
        [status] = [e for e in events if e.get("event") == "order_status"]
        assert status["status"] == "filled"
        assert any(e.get("event") == "order_simulated" for e in events)
    restored = next(e for e in hedge if e.get("event") == "restored")
    assert restored["open_structures"] == 1  # the first run's condor

    with sqlite3.connect(tmp_path / "alvh.sqlite") as db:
        db.row_factory = sqlite3.Row
        runs = db.execute("SELECT id, mode, account, finished_at FROM runs ORDER BY id").fetchall()
        opened = db.execute(
            "SELECT d.id, d.rule, d.quantity, o.status, o.filled_quantity FROM decisions d "
            "JOIN orders o ON o.order_ref = d.id WHERE d.action = 'open' ORDER BY d.rowid"
        ).fetchall()
        fills = db.execute("SELECT exec_id, order_ref, run_id, commission FROM fills").fetchall()
        positions = db.execute("SELECT id, structure, closed_session FROM positions").fetchall()
        halts = db.execute("SELECT COUNT(*) FROM decisions WHERE rule = 'reconcile'").fetchone()
    assert [(r["mode"], r["account"]) for r in runs] == [("dry-run", "DU1234567")] * 2
    assert all(r["finished_at"] for r in runs)
    assert [r["rule"] for r in opened] == ["condor_entry", "hedge_ladder"]
    for row in opened:
        assert row["status"] == "filled" and row["filled_quantity"] == row["quantity"] > 0
    condor, layer = (r["id"] for r in opened)
    by_order: dict[str, list[sqlite3.Row]] = {}
    for fill in fills:
        by_order.setdefault(fill["order_ref"], []).append(fill)
    assert len(by_order[condor]) == 4 and len(by_order[layer]) == 1
    first, second = (r["id"] for r in runs)
    assert all(f["exec_id"].startswith(f"dry-r{first}-") for f in by_order[condor])
    assert all(f["exec_id"].startswith(f"dry-r{second}-") for f in by_order[layer])
    assert all(f["commission"] > 0 for f in fills)  # the replay's cost model
    assert {(p["structure"], p["closed_session"]) for p in positions} == {
        ("condor", None),
        ("hedge_layer", None),
    }
    # reconciliation compared the book with its own journal: nothing differed
    assert halts[0] == 0
    decision = json.loads(
        sqlite3.connect(tmp_path / "alvh.sqlite")
        .execute("SELECT legs_json FROM decisions WHERE id = ?", (layer,))
        .fetchone()[0]
    )
    assert len(decision) == 1
    # the risk gates ran on both entries; the margin gate's what-if was decided by the
    # dry-run broker on its own book (the Reg-T model), never sent to the gateway
    with sqlite3.connect(tmp_path / "alvh.sqlite") as db:
        gated = [
            json.loads(row[0])
            for row in db.execute(
                "SELECT inputs_json FROM decisions WHERE id IN (?, ?)", (condor, layer)
            )
        ]
    assert [(g["gate_margin"], g["gate_margin_source"]) for g in gated] == [
        ("pass", "reg-t-model")
    ] * 2
