"""Structured logging for the daemon (structlog).

:func:`configure_logging` sets up one output stream:

* ``fmt="json"`` (or ``"auto"`` when the stream is not a terminal): one JSON
  object per line with ``timestamp`` (ISO 8601, UTC, wall clock), ``level``,
  ``event``, ``logger`` (when set) and every bound or passed field;
* ``fmt="console"`` (or ``"auto"`` on a terminal): structlog's readable
  ``ConsoleRenderer``.

Replays run on a virtual clock: :func:`bind_clock` installs a callable whose
time is added to every event as ``sim_time`` (ISO 8601 with offset), while
``timestamp`` stays wall time. Records from the standard :mod:`logging`
module (e.g. ``ib_async``) go to the same stream in the same format.

Loggers are filtering bound loggers cached on first use, so a debug call below
the configured level costs almost nothing. Configure logging before taking
loggers with :func:`get_logger`; a logger used before a reconfiguration keeps
the old configuration.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO, cast

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "LEVELS",
    "bind_clock",
    "configure_logging",
    "get_logger",
    "log_format_for",
]

#: Accepted level names and their :mod:`logging` numbers.
LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

LogFormat = Literal["auto", "json", "console"]

_clock: Callable[[], datetime] | None = None
_handler: logging.Handler | None = None


def bind_clock(clock: Callable[[], datetime] | None) -> None:
    """Stamp every later event with ``sim_time = clock().isoformat()``; ``None`` stops it.

    ``clock`` should return a timezone-aware datetime (the replay's virtual
    time). It applies to all loggers, including ones already cached.
    """
    global _clock
    _clock = clock


#: The last virtual instant stamped and its ISO text: a replay logs many events
#: per job at one instant (the virtual clock hands out the same object until it moves).
_sim_stamp: tuple[datetime | None, str] = (None, "")


def _sim_text(now: datetime) -> str:
    """``now.isoformat()``, remembered for the instant last stamped."""
    global _sim_stamp
    last, text = _sim_stamp
    if now is not last:
        text = now.isoformat()
        _sim_stamp = (now, text)
    return text


def _add_sim_time(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    clock = _clock
    if clock is not None and "sim_time" not in event_dict:
        event_dict["sim_time"] = _sim_text(clock())
    return event_dict


_LEADING = ("timestamp", "level", "event", "sim_time", "logger")


def _leading_keys(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Put the fixed keys first so JSON lines read well; other keys keep their order."""
    ordered = {key: event_dict.pop(key) for key in _LEADING if key in event_dict}
    ordered.update(event_dict)
    return ordered


class _JsonLine:
    """The JSON chain of :func:`configure_logging` in one call, for the common event.

    A replay logs tens of thousands of events at ``info``; running the eight
    processors one by one cost a third of the logging. An event without
    ``exc_info``/``stack_info`` gets exactly what the chain would give it
    (context variables, level, UTC timestamp, ``sim_time``, leading keys, JSON);
    one with them goes through the chain itself (``full``).
    """

    def __init__(self, full: list[Processor], encode: Callable[[Any], str]) -> None:
        self._full = full
        # the renderer's json.dumps(event, default=...) builds an encoder per event:
        # one built once encodes the same text
        self._encode = encode

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> Any:
        if "exc_info" in event_dict or "stack_info" in event_dict:
            result: Any = event_dict
            for processor in self._full:
                result = processor(logger, method, result)
            return result
        event_dict = structlog.contextvars.merge_contextvars(logger, method, event_dict)
        # the chain's keys, built in _leading_keys' order at once (one dict, no pops)
        line: dict[str, Any] = {
            "timestamp": datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")
        }
        structlog.processors.add_log_level(logger, method, line)
        # the chain overwrites a caller's own timestamp or level
        event_dict.pop("timestamp", None)
        event_dict.pop("level", None)
        if "event" in event_dict:
            line["event"] = event_dict.pop("event")
        clock = _clock
        if "sim_time" in event_dict:
            line["sim_time"] = event_dict.pop("sim_time")
        elif clock is not None:
            line["sim_time"] = _sim_text(clock())
        if "logger" in event_dict:
            line["logger"] = event_dict.pop("logger")
        line.update(event_dict)
        return self._encode(line)


def log_format_for(fmt: str, stream: TextIO) -> Literal["json", "console"]:
    """The renderer ``fmt`` resolves to on ``stream`` (``"auto"``: console on a TTY).

    Raises:
        ValueError: ``fmt`` is not ``"auto"``, ``"json"`` or ``"console"``.
    """
    if fmt == "json":
        return "json"
    if fmt == "console":
        return "console"
    if fmt == "auto":
        try:
            tty = bool(stream.isatty())
        except (AttributeError, ValueError):  # closed or file-like without isatty
            tty = False
        return "console" if tty else "json"
    raise ValueError(f"log format must be 'auto', 'json' or 'console', got {fmt!r}")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    iso = getattr(value, "isoformat", None)
    if callable(iso):
        return iso()
    return str(value)


def configure_logging(
    level: str = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    *,
    flush_each_event: bool = True,
) -> Literal["json", "console"]:
    """Configure structlog (and the standard ``logging`` root) to write to ``stream``.

    Args:
        level: minimum level name, case-insensitive: ``debug``, ``info``,
            ``warning``, ``error`` or ``critical``.
        fmt: ``"json"``, ``"console"`` or ``"auto"`` (console on a TTY, JSON
            lines otherwise).
        stream: text stream to write to; default ``sys.stdout`` at call time.
        flush_each_event: flush ``stream`` after every structlog event (the
            default: a daemon's log is read while it runs). ``False`` leaves
            the flushing to the stream's buffer and to its closing: for a
            replay's event log file, read after the run, where a flush per
            event cost about 5 % of the replay (45,000 events over 2007-2024).

    Returns:
        The renderer chosen, ``"json"`` or ``"console"``.

    Raises:
        ValueError: unknown level or format.
    """
    global _handler
    out = sys.stdout if stream is None else stream
    try:
        level_no = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}") from None
    chosen = log_format_for(fmt, out)

    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _add_sim_time,
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor
    processors: list[Processor]
    if chosen == "json":
        shared.append(structlog.processors.format_exc_info)
        shared.append(_leading_keys)
        renderer = structlog.processors.JSONRenderer(default=_json_default)
        encoder = json.JSONEncoder(default=_json_default)
        processors = [_JsonLine([*shared, renderer], encoder.encode)]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_isatty(out))
        processors = [*shared, renderer]

    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        logger_factory=structlog.WriteLoggerFactory(
            file=out if flush_each_event else cast(TextIO, _Unflushed(out))
        ),
        context_class=dict,
        cache_logger_on_first_use=True,
    )

    # Standard-library loggers (ib_async, apscheduler) through the same renderer.
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root.addHandler(handler)
    root.setLevel(level_no)
    _handler = handler
    return chosen


class _Unflushed:
    """``stream`` with a ``flush`` left to its buffer and closing (``flush_each_event=False``)."""

    def __init__(self, stream: TextIO) -> None:
        self.write = stream.write

    def flush(self) -> None:
        """Nothing: the stream flushes when its buffer fills and when it is closed."""


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A bound structlog logger; ``name`` is bound as ``logger``, ``initial`` as fields.

    Use ``log.info("event", key=value)``; ``log.bind(...)`` adds fields to
    every later event of the returned logger.
    """
    context: MutableMapping[str, Any] = dict(initial)
    if name is not None:
        context["logger"] = name
    return structlog.get_logger().bind(**context)
