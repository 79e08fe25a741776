"""The dashboard's Starlette application: pages, ``/api/status`` and the token gate.

:func:`create_app` builds the app for one journal file. Every request opens
the journal **read-only** (SQLite URI ``mode=ro``, see
:func:`daemon.journal.schema.connect`) with a short busy timeout
(:data:`BUSY_TIMEOUT_MS`), reads, and closes it: no lock is taken, no
transaction outlives the request, and in WAL mode a reader never blocks the
daemon's writes. A journal that is missing, damaged or busy gives a page (or
JSON) with one line and status 503, never a traceback.

Routes (``?run=N`` picks a run, default the latest):

* ``/``: health, open structures with legs, greeks and P&L, the equity and
  drawdown charts, the last decisions, next jobs and macro events;
* ``/decisions?rule=R&action=A``: decisions with their reasons and inputs;
* ``/orders``: orders with their states, and fills;
* ``/daily``: the equity curve, drawdown and the daily table;
* ``/api/status?run=N&decisions=N``: exactly ``alvh status --json``;
* ``/healthz``: ``ok`` (the server is up; says nothing of the journal).

With a token (``[web] token``) every request must carry it: ``Authorization:
Bearer TOKEN``, or ``?token=TOKEN``, which also sets an HttpOnly cookie so
the page's own links work.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daemon.clock import NEW_YORK
from daemon.config import ScheduleConfig
from daemon.journal import Journal, JournalError, RunInfo
from daemon.logs import get_logger
from daemon.status import DEFAULT_DECISIONS, StatusError, collect_status, load_status, report_json
from daemon.web import charts, views

__all__ = ["BUSY_TIMEOUT_MS", "TOKEN_COOKIE", "WebSettings", "create_app"]

#: How long a read waits for a lock the daemon holds, milliseconds. WAL readers
#: normally never wait; this bounds the rare case (a checkpoint, WAL recovery).
BUSY_TIMEOUT_MS = 200
#: Cookie that carries the token after a ``?token=`` request.
TOKEN_COOKIE = "alvh_token"

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class WebSettings:
    """What one dashboard serves.

    Attributes:
        journal: the journal file (read-only).
        token: the shared secret every request must carry, or ``None``.
        schedule: job times for next jobs (``None`` = the run's stored ones),
            as ``alvh status --config`` takes them.
        busy_timeout_ms: see :data:`BUSY_TIMEOUT_MS`.
    """

    journal: Path
    token: str | None = None
    schedule: ScheduleConfig | None = None
    busy_timeout_ms: int = BUSY_TIMEOUT_MS


class _Unavailable(Exception):
    """The journal cannot be read now (one line; HTTP status in ``status``)."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


def create_app(settings: WebSettings) -> Starlette:
    """The dashboard of ``settings.journal`` as an ASGI app (serve it with uvicorn)."""
    templates = Jinja2Templates(directory=str(_TEMPLATES))
    env = templates.env
    env.filters["money"] = _money
    env.filters["num"] = _num
    env.filters["et"] = _et
    log = get_logger("alvh.web")

    @contextmanager
    def journal() -> Iterator[Journal]:
        path = settings.journal
        if not path.is_file():
            raise _Unavailable(f"{path}: no such journal file")
        try:
            opened = Journal.open(path, read_only=True, busy_timeout_ms=settings.busy_timeout_ms)
        except JournalError as exc:
            raise _Unavailable(str(exc)) from None
        try:
            yield opened
        except JournalError as exc:
            raise _Unavailable(str(exc), 404 if "no run" in str(exc) else 503) from None
        except sqlite3.Error as exc:  # busy past the timeout, or a damaged page
            raise _Unavailable(f"{path}: cannot read journal now: {exc}") from None
        except ValueError as exc:  # a row that no longer decodes: damaged pages read as zeros
            raise _Unavailable(f"{path}: journal row cannot be decoded (damaged?): {exc}") from None
        finally:
            opened.close()

    def page(name: str, build: Callable[[Request, Journal, RunInfo], dict[str, Any]]) -> Any:
        def endpoint(request: Request) -> Response:
            try:
                run_id = _int_param(request, "run")
                with journal() as j:
                    info = j.run(run_id)
                    context = {
                        "runs": views.run_choices(j),
                        "info": info,
                        "page": name,
                        "journal_path": str(settings.journal),
                        **build(request, j, info),
                    }
                return templates.TemplateResponse(request, f"{name}.html", context)
            except _Unavailable as exc:
                return templates.TemplateResponse(
                    request, "error.html", {"message": str(exc)}, status_code=exc.status
                )
            except Exception as exc:  # a bug: one line to the browser and the log
                log.error("web_page_failed", page=name, error=f"{type(exc).__name__}: {exc}")
                return PlainTextResponse(
                    f"alvh web: internal error: {type(exc).__name__}: {exc}\n", 500
                )

        return endpoint

    def dashboard(request: Request, j: Journal, info: RunInfo) -> dict[str, Any]:
        report = collect_status(j, info.id, schedule=settings.schedule)
        daily = views.daily_rows(j, info)
        return {
            "report": report,
            "health": views.health(j, info),
            "summary": views.summary(j, info),
            "equity_svg": _equity(daily),
            "drawdown_svg": _drawdown(daily),
        }

    def decisions(request: Request, j: Journal, info: RunInfo) -> dict[str, Any]:
        rule = request.query_params.get("rule") or None
        action = request.query_params.get("action") or None
        rows, matched, choices = views.decision_rows(j, info, rule=rule, action=action)
        return {
            "rows": rows,
            "matched": matched,
            "choices": choices,
            "rule": rule or "",
            "action": action or "",
            "limit": views.DECISION_LIMIT,
        }

    def orders(request: Request, j: Journal, info: RunInfo) -> dict[str, Any]:
        order_rows, fills = views.orders_and_fills(j, info)
        return {"orders": order_rows, "fills": fills}

    def daily(request: Request, j: Journal, info: RunInfo) -> dict[str, Any]:
        rows = views.daily_rows(j, info)
        return {
            "rows": list(reversed(rows)),
            "summary": views.summary(j, info),
            "equity_svg": _equity(rows),
            "drawdown_svg": _drawdown(rows),
        }

    def api_status(request: Request) -> Response:
        try:
            run_id = _int_param(request, "run")
            count = _int_param(request, "decisions")
            report = load_status(
                settings.journal,
                run_id,
                decisions=DEFAULT_DECISIONS if count is None else count,
                schedule=settings.schedule,
                busy_timeout_ms=settings.busy_timeout_ms,
            )
        except _Unavailable as exc:
            return _json_error(str(exc), exc.status)
        except StatusError as exc:
            return _json_error(str(exc), 404 if "no run" in str(exc) else 503)
        except Exception as exc:  # a bug: one line to the client and the log
            log.error("web_api_failed", error=f"{type(exc).__name__}: {exc}")
            return _json_error(f"internal error: {type(exc).__name__}: {exc}", 500)
        return Response(report_json(report) + "\n", media_type="application/json")

    def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    def favicon(request: Request) -> Response:
        return Response(status_code=204)

    app = Starlette(
        routes=[
            Route("/", page("index", dashboard)),
            Route("/decisions", page("decisions", decisions)),
            Route("/orders", page("orders", orders)),
            Route("/daily", page("daily", daily)),
            Route("/api/status", api_status),
            Route("/healthz", healthz),
            Route("/favicon.ico", favicon),
        ]
    )
    if settings.token is not None:
        app.add_middleware(TokenGate, token=settings.token)
    return app


class TokenGate:
    """ASGI middleware: refuse (401) every HTTP request without the token.

    Accepted: ``Authorization: Bearer TOKEN``, ``?token=TOKEN`` (answered
    with an HttpOnly, SameSite=Strict cookie holding an HMAC of the token,
    so the page's links need not repeat it), or that cookie. Compared in
    constant time.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()
        # the cookie carries a value derived from the token, never the token itself
        self._cookie = hmac.new(self._token, b"alvh web cookie", hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        query = request.query_params.get("token")
        cookie = request.cookies.get(TOKEN_COOKIE)
        cookie_ok = cookie is not None and hmac.compare_digest(cookie, self._cookie)
        if not (self._matches(bearer) or self._matches(query) or cookie_ok):
            response = PlainTextResponse(
                "alvh web: a token is required (Authorization: Bearer TOKEN or ?token=TOKEN)\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        if not self._matches(query) or cookie_ok:
            await self.app(scope, receive, send)
            return
        set_cookie = f"{TOKEN_COOKIE}={self._cookie}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"set-cookie", set_cookie)]}
            await send(message)

        await self.app(scope, receive, with_cookie)

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token)


# --------------------------------------------------------------------------- helpers


def _int_param(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise _Unavailable(f"?{name}= must be a whole number, got {text!r}", 400) from None
    if value < 0:
        raise _Unavailable(f"?{name}= must be >= 0, got {value}", 400)
    return value


def _json_error(message: str, status: int) -> Response:
    return Response(
        json.dumps({"error": message}) + "\n", status_code=status, media_type="application/json"
    )


def _equity(daily: list[dict[str, Any]]) -> Markup:
    return Markup(
        charts.line_chart(
            "equity-chart",
            "Equity curve: net liquidation by session (USD)",
            [r["session"] for r in daily],
            [r["net_liquidation"] for r in daily],
        )
    )


def _drawdown(daily: list[dict[str, Any]]) -> Markup:
    return Markup(
        charts.line_chart(
            "drawdown-chart",
            "Drawdown below the running peak of net liquidation (USD)",
            [r["session"] for r in daily],
            [-abs(r["drawdown"]) for r in daily],
            area=True,
            color="#cf222e",
        )
    )


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+,.2f}"


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _et(iso: str | None) -> str:
    """An ISO time as ``2019-03-29 15:30 EDT`` (America/New_York); dates pass through."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        return iso
    local = moment.astimezone(NEW_YORK)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
