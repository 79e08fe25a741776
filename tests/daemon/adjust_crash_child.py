"""A daemon process for the wing-shift crash test (``tests/daemon/test_adjust_crash.py``).

Usage: ``python -m tests.daemon.adjust_crash_child JOURNAL GATEWAY STEP``

* ``open``: open a 6-lot condor and stop cleanly;
* ``shift``: threaten its short put and run the manage job, which shifts the
  put wing (an ADJUST). With ``ALVH_CRASH_AT`` set, the process SIGKILLs
  itself at that crash point (:mod:`daemon.crashpoints`).

The scripted gateway must outlive the process, as a real one does: it is
loaded from the JSON file ``GATEWAY`` and every execution is written back to
it (and fsynced) the moment it happens at the gateway, before any listener
or journal sees it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path

from daemon.scheduling.jobs import JobName
from strategies.domain import OptionContract, Right
from strategies.execution import Fill
from tests.daemon.rig import start
from tests.daemon.scripted_broker import Gateway, Outcome
from tests.daemon.test_engine_adjustments import SHIFT_PRICES, threatened_market


def load_gateway(path: Path) -> Gateway:
    """The gateway whose executions ``path`` holds (an empty one if it does not exist)."""
    gateway = Gateway()
    if path.exists():
        for raw in json.loads(path.read_text()):
            c = raw["contract"]
            contract = OptionContract(
                c["symbol"], c["trading_class"], date.fromisoformat(c["expiry"]),
                c["strike"], Right(c["right"]), c["multiplier"],
            )  # fmt: skip
            gateway.executions.append(
                Fill(
                    raw["exec_id"],
                    raw["order_ref"],
                    contract,
                    raw["quantity"],
                    raw["price"],
                    raw["commission"],
                    datetime.fromisoformat(raw["time"]),
                )
            )
    gateway.exec_ids = itertools.count(len(gateway.executions) + 1)
    return gateway


def _save(gateway: Gateway, path: Path) -> None:
    rows = []
    for fill in gateway.executions:
        row = asdict(fill)
        row["contract"] = {**row["contract"], "expiry": fill.contract.expiry.isoformat()}
        row["time"] = fill.time.isoformat()
        rows.append(row)
    with path.open("w") as out:
        json.dump(rows, out)
        out.flush()
        os.fsync(out.fileno())


def persistent(gateway: Gateway, path: Path) -> Gateway:
    """``gateway`` writing its executions to ``path`` as they happen."""
    execute = gateway.execute

    def execute_and_save(
        order_ref: str,
        contracts: Mapping[OptionContract, int],
        prices: Mapping[OptionContract, float] | None,
        when: datetime,
    ) -> list[Fill]:
        fills = execute(order_ref, contracts, prices, when)
        _save(gateway, path)
        return fills

    gateway.execute = execute_and_save  # type: ignore[method-assign]
    return gateway


async def main(journal: Path, gateway_path: Path, step: str) -> None:
    gateway = persistent(load_gateway(gateway_path), gateway_path)
    rig = await start(journal, gateway=gateway)
    if step == "open":
        await rig.open(6)
    elif step == "shift":
        threatened_market(rig)
        rig.broker.script(Outcome(prices=SHIFT_PRICES))
        await rig.engine.run_job(JobName.MANAGE)
    else:
        raise SystemExit(f"unknown step {step!r}")
    rig.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
