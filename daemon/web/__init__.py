"""``alvh web``: a read-only local dashboard of a journal, served by uvicorn.

Command line::

    alvh web [--journal FILE] [--host 127.0.0.1] [--port 8765] [--config FILE]

Serves :func:`daemon.web.app.create_app` (Starlette, server-rendered HTML,
charts as inline SVG, no JavaScript) for one journal: health, open
structures with legs, greeks and P&L, the equity curve and drawdown,
decisions filterable by rule and action, orders and fills, next jobs and
macro events; ``/api/status`` returns what ``alvh status --json`` prints.
It works on a replay journal (the replay's own context) and on a paper/live
one while the daemon writes to it: the journal is read with SQLite's
``mode=ro``, a short busy timeout and no lock (see :mod:`daemon.web.app`).

``--journal`` defaults to the config's ``journal.path``; the config (file or
built-in defaults, ``ALVH_*`` overrides) also gives ``[web] token``, and
``--config`` gives the job times as ``alvh status --config`` takes them.
It binds loopback by default. Binding any other host needs a token; without
one it prints one line and exits with status 2, as it does for a bad config,
a missing or foreign journal, a journal without runs, or a port it cannot
bind. Ctrl-C (SIGINT) or SIGTERM stops it with status 0.

Modules: :mod:`~daemon.web.app` (routes, token gate, read-only access),
:mod:`~daemon.web.views` (what each page shows), :mod:`~daemon.web.charts`
(SVG), ``templates/`` (Jinja2).
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from daemon.exits import ExitStatus

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "add_parser", "is_loopback", "run"]

#: Where ``alvh web`` listens unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``web`` to the ``alvh`` sub-command parsers; returns the new parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "web",
        help="serve a read-only dashboard of a journal on 127.0.0.1",
        description="Serve a read-only dashboard of a journal (health, open structures, "
        "equity and drawdown, decisions, orders and fills, next jobs) over HTTP. Binds "
        "127.0.0.1 unless --host says otherwise; any other host needs [web] token.",
    )
    parser.add_argument(
        "--journal", type=Path, help="journal SQLite file (default: config journal.path)"
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML config: journal path, [web] token, job times (default: built-in)",
    )
    parser.set_defaults(func=run)
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only loopback addresses (127.0.0.0/8, ``::1``, ``localhost``).

    A name is resolved; it is loopback only when every address it has is.
    """
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


def run(args: argparse.Namespace) -> int:
    """Run ``alvh web`` until interrupted; returns the exit status (2 with one line on errors)."""
    try:
        return _serve(args)
    except _WebError as exc:
        print(f"alvh web: {exc}", file=sys.stderr)
        return ExitStatus.USAGE


class _WebError(Exception):
    """A user-fixable problem; one line, exit status 2."""


def _serve(args: argparse.Namespace) -> int:
    from daemon.config import ConfigError, load_config
    from daemon.status import StatusError, load_status

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise _WebError(f"bad config: {exc}") from None
    token = config.web.token.get_secret_value() if config.web.token is not None else None
    if token is None and not is_loopback(args.host):
        raise _WebError(
            f"binding {args.host} (not loopback) needs a token: set [web] token in the "
            "config (or ALVH_WEB__TOKEN), or bind 127.0.0.1"
        )
    journal: Path = args.journal or config.journal.path
    schedule = config.schedule if args.config is not None else None
    from daemon.web.app import BUSY_TIMEOUT_MS, WebSettings, create_app

    try:  # the journal is there, an alvh journal, with a run: else one line now
        load_status(journal, decisions=0, schedule=schedule, busy_timeout_ms=BUSY_TIMEOUT_MS)
    except StatusError as exc:
        raise _WebError(str(exc)) from None
    sock = _bind(args.host, args.port)
    app = create_app(WebSettings(journal=journal, token=token, schedule=schedule))
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"alvh web: serving {journal} read-only on http://{shown}:{port}/ (Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    )
    # uvicorn stops on SIGINT/SIGTERM, then re-raises the signal to the handler
    # that was there before it: make SIGTERM's a no-op so a stop exits 0.
    previous = signal.signal(signal.SIGTERM, lambda *_: None) if _main_thread() else None
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return ExitStatus.OK


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; one line (``_WebError``) when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise _WebError(f"cannot resolve host {host!r}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise _WebError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock
