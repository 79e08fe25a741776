"""``python -m tests.fake_tws`` as a chaos script uses it: a separate gateway
process killed and restarted on its state file, driven through the control
channel, with the real ib_async client connecting to it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB, Contract, LimitOrder

from tests.fake_tws import FakeTWS, FillPolicy, Scenario
from tests.fake_tws.control import ControlClient, ControlServer
from tests.ib.fake_tws_support import (  # noqa: F401  (autouse fixture)
    HOST,
    TEST_TIMEOUT,
    no_decoding_errors,
    until,
)

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def gateway(
    tmp_path: Path, *extra: str, port: int = 0
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, Any]]]:
    """Start the runner on ``tmp_path/gw.json``; yield (process, ready info)."""
    ready = tmp_path / "ready.json"
    ready.unlink(missing_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fake_tws", "--port", str(port),
        "--state", str(tmp_path / "gw.json"), "--ready-file", str(ready), *extra,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        info = json.loads(line)
        assert json.loads(ready.read_text()) == info
        yield proc, info
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on TCP ``port`` (Linux /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


async def test_runner_state_survives_sigkill_and_sigterm_exits_zero(tmp_path: Path) -> None:
    async with asyncio.timeout(3 * TEST_TIMEOUT):
        async with gateway(tmp_path, "--scenario", "never") as (proc, info):
            port = info["port"]
            if os.path.exists("/proc/net/tcp"):
                assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only
            ctl = ControlClient(info["control_port"])
            ib = IB()
            await ib.connectAsync(HOST, port, clientId=17, timeout=5)
            option = Scenario().option("SPXW", Scenario().chain("SPXW").expirations[20], 5200, "C")
            [contract] = await ib.qualifyContractsAsync(Contract(conId=option.con_id))
            assert isinstance(contract, Contract)
            trade = ib.placeOrder(contract, LimitOrder("BUY", 3, 20.0, orderRef="alvh:1"))
            await until(lambda: trade.orderStatus.status == "Submitted")
            fill = await asyncio.to_thread(
                ctl.call, "fill_order", order_id=trade.order.orderId, quantity=1
            )
            await until(lambda: trade.orderStatus.filled == 1)
            ib.disconnect()
            proc.send_signal(signal.SIGKILL)  # the gateway dies too
            await proc.wait()

        async with gateway(tmp_path, port=port) as (proc, info):
            ctl = ControlClient(info["control_port"])
            state = await asyncio.to_thread(ctl.call, "state")
            assert [(p["con_id"], p["quantity"]) for p in state["positions"]] == [
                (option.con_id, 1.0)
            ]
            [working] = state["open_orders"]
            assert (working["order_ref"], working["filled"], working["remaining"]) == (
                "alvh:1",
                1.0,
                2.0,
            )
            ib = IB()
            await ib.connectAsync(HOST, port, clientId=17, timeout=5)
            [adopted] = ib.openTrades()
            assert adopted.order.orderRef == "alvh:1"
            assert [f.execution.execId for f in ib.fills()] == [fill[0]["exec_id"]]
            await asyncio.to_thread(
                ctl.call, "set_order_policy", order_id=adopted.order.orderId,
                policy=FillPolicy.immediate().to_dict(),
            )  # fmt: skip
            await until(lambda: adopted.orderStatus.status == "Filled")
            ib.disconnect()
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
        saved = json.loads((tmp_path / "gw.json").read_text())
        assert [o["status"] for o in saved["orders"]] == ["Filled"]
        assert saved["positions"][0]["quantity"] == 3.0
        assert len({e["exec_id"] for e in saved["executions"]}) == 2


async def test_control_channel_reads_state_and_scripts_faults() -> None:
    async with asyncio.timeout(TEST_TIMEOUT), FakeTWS(Scenario()) as tws:
        server = await ControlServer(tws).start()
        ctl = ControlClient(server.port)

        async def call(cmd: str, **args: Any) -> Any:
            return await asyncio.to_thread(ctl.call, cmd, **args)

        try:
            assert await call("ping") == "pong"
            await call("set_fill_policy", policy={"mode": "partial", "quantity": 1})
            await call("add_mute_rule", msg_id="REQ_ALL_OPEN_ORDERS", times=1)
            await call("set_faults", exec_details_copies=2, commission_delay=0.0)
            ib = IB()
            await ib.connectAsync(HOST, tws.port, clientId=5, timeout=5)
            option = tws.scenario.option("VIX", tws.scenario.chain("VIX").expirations[0], 20, "C")
            [contract] = await ib.qualifyContractsAsync(Contract(conId=option.con_id))
            assert isinstance(contract, Contract)
            trade = ib.placeOrder(contract, LimitOrder("BUY", 2, 1.0))
            await until(lambda: trade.orderStatus.filled == 1)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ib.reqAllOpenOrdersAsync(), 0.3)
            state = await call("state")
            assert state["clients"] == [5]
            assert state["open_orders"][0]["remaining"] == 1.0
            assert (await call("message_counts"))["REQ_ALL_OPEN_ORDERS"] == 1
            [execution] = await call("executions")
            corrected = await call("correct_execution", exec_id=execution["exec_id"], price=0.95)
            assert corrected["exec_id"].endswith(".02")
            await until(lambda: len(ib.fills()) == 2)
            await call("hold_client_id", client_id=6, times=1)
            with pytest.raises(RuntimeError, match="unknown command"):
                await call("no_such_command")
            await call("drop_connections", outage=0.2)
            await until(lambda: not ib.isConnected())
            assert (await call("state"))["clients"] == []
        finally:
            await server.stop()
