"""The fake TWS as a standalone, long-lived gateway process (for chaos scripts).

Run from the repository root::

    python -m tests.fake_tws --port 4002 --state gw.json [--scenario marketable]
        [--control-port 0] [--ready-file ready.json] [--today 2026-11-20]
        [--now 2026-11-20T15:30:00-05:00] [--log-level INFO]

It listens on 127.0.0.1 only, loads the gateway state from ``--state`` if the
file exists (else seeds it from the scenario), saves it atomically after every
change (orders, fills, positions, expiries, id counters), and serves until
SIGTERM or SIGINT, then saves once more and exits 0. Killed with SIGKILL, the
file still holds the last change, so a restarted runner serves the same
positions, working orders and executions (and issues new ids after them).

When it listens it prints one JSON line on stdout and (with ``--ready-file``)
writes the same object atomically::

    {"event": "fake_tws_ready", "pid": 123, "port": 4002, "control_port": 40123,
     "state": "gw.json", "scenario": "marketable"}

``--control-port`` (0: a free one) serves the JSON control channel of
:mod:`.control`. ``--now`` starts the gateway clock there and lets it run (like
``alvh run --now``); ``--today`` (default: that date, else today) shapes the
option chains.

Scenarios (``--scenario``, see :data:`SCENARIOS`): ``default`` (every order
fills at once at its limit), ``marketable`` (an order fills once its limit
reaches the natural quote, so a price walk fills part-way), ``walk`` (fills
after its 2nd price modification), ``never`` (orders rest until the control
channel fills them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from .control import ControlServer
from .faults import FillPolicy
from .scenario import Scenario, offset_clock
from .server import FakeTWS

#: Named scenarios: name -> factory(today).
SCENARIOS: dict[str, Callable[[date], Scenario]] = {
    "default": lambda today: Scenario(today=today),
    "marketable": lambda today: Scenario(today=today, fill_policy=FillPolicy.marketable()),
    "walk": lambda today: Scenario(today=today, fill_policy=FillPolicy.after_modifications(2)),
    "never": lambda today: Scenario(today=today, fill_policy=FillPolicy.never()),
}


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m tests.fake_tws``."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_tws",
        description="Fake TWS / IB Gateway (TWS API v178) with persistent gateway state.",
    )
    parser.add_argument("--port", type=int, required=True, help="API port (0: a free one)")
    parser.add_argument("--state", type=Path, required=True, help="gateway state JSON file")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="default")
    parser.add_argument("--control-port", type=int, default=0, help="control port (0: free)")
    parser.add_argument("--ready-file", type=Path, help="write the ready JSON here")
    parser.add_argument("--today", type=date.fromisoformat, help="catalogue date")
    parser.add_argument("--now", type=datetime.fromisoformat, help="gateway clock start")
    parser.add_argument("--log-level", default="WARNING")
    return parser


def make_scenario(name: str, today: date | None, now: datetime | None) -> Scenario:
    """The named scenario for ``today`` with its clock starting at ``now``."""
    if now is not None and now.tzinfo is None:
        raise SystemExit("--now needs a UTC offset, e.g. 2026-11-20T15:30:00-05:00")
    day = today or (now.date() if now is not None else date.today())
    scenario = SCENARIOS[name](day)
    if now is not None:
        scenario.clock = offset_clock(now)
    return scenario


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


async def serve(args: argparse.Namespace) -> int:
    """Run the gateway until SIGTERM/SIGINT."""
    scenario = make_scenario(args.scenario, args.today, args.now)
    tws = FakeTWS(scenario, host="127.0.0.1", port=args.port, state_path=args.state)
    tws.save_state()  # a new state file exists from the start
    await tws.start()
    control = await ControlServer(tws, args.control_port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = {
        "event": "fake_tws_ready",
        "pid": os.getpid(),
        "port": tws.port,
        "control_port": control.port,
        "state": str(args.state),
        "scenario": args.scenario,
    }
    if args.ready_file is not None:
        _write_atomic(args.ready_file, json.dumps(ready))
    print(json.dumps(ready), flush=True)
    try:
        await stop.wait()
    finally:
        await control.stop()
        await tws.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m tests.fake_tws``."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    return asyncio.run(serve(args))
