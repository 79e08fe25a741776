"""Tests for daemon.logs: JSON lines, console output, level filtering, virtual clock."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import structlog

from daemon.logs import bind_clock, configure_logging, get_logger, log_format_for


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    bind_clock(None)
    structlog.reset_defaults()
    for handler in list(logging.getLogger().handlers):
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter):
            logging.getLogger().removeHandler(handler)


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def test_json_lines_have_timestamp_level_event_and_fields() -> None:
    buf = io.StringIO()
    assert configure_logging("info", "json", buf) == "json"
    log = get_logger("alvh.test", run_id=7)
    before = datetime.now(UTC)
    log.info("decision", rule="condor_entry", limit_price=-2.35, session=date(2020, 3, 2))
    (line,) = _lines(buf)
    assert list(line)[:3] == ["timestamp", "level", "event"]
    assert line["level"] == "info"
    assert line["event"] == "decision"
    assert line["logger"] == "alvh.test"
    assert line["run_id"] == 7
    assert line["rule"] == "condor_entry"
    assert line["limit_price"] == -2.35
    assert line["session"] == "2020-03-02"
    stamp = datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00"))
    assert stamp.utcoffset() == timedelta(0)
    assert abs((stamp - before).total_seconds()) < 60
    assert "sim_time" not in line


def test_level_filtering() -> None:
    buf = io.StringIO()
    configure_logging("WARNING", "json", buf)
    log = get_logger("x")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [line["event"] for line in _lines(buf)] == ["w", "e"]
    assert [line["level"] for line in _lines(buf)] == ["warning", "error"]


def test_bound_fields_accumulate() -> None:
    buf = io.StringIO()
    configure_logging("debug", "json", buf)
    log = get_logger().bind(run_id=1).bind(order_ref="r1-3")
    log.debug("order", quantity=2)
    (line,) = _lines(buf)
    assert (line["run_id"], line["order_ref"], line["quantity"]) == (1, "r1-3", 2)
    assert "logger" not in line


def test_virtual_clock_sets_sim_time_and_keeps_wall_timestamp() -> None:
    buf = io.StringIO()
    configure_logging("info", "json", buf)
    log = get_logger("replay")
    sim = datetime(2008, 10, 10, 15, 30, tzinfo=timezone(timedelta(hours=-4)))
    log.info("before")
    bind_clock(lambda: sim)
    log.info("during")
    bind_clock(None)
    log.info("after")
    before, during, after = _lines(buf)
    assert "sim_time" not in before and "sim_time" not in after
    assert during["sim_time"] == "2008-10-10T15:30:00-04:00"
    assert str(during["timestamp"]).startswith(str(datetime.now(UTC).year))


def test_auto_is_json_off_a_tty_and_console_on_one() -> None:
    assert log_format_for("auto", io.StringIO()) == "json"
    assert log_format_for("auto", _Tty()) == "console"
    tty = _Tty()
    assert configure_logging("info", "auto", tty) == "console"
    get_logger("c").info("hello", y=2)
    raw = tty.getvalue()
    assert "\x1b[" in raw  # coloured on a terminal
    text = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    assert "hello" in text
    assert "y=2" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_console_format_explicit() -> None:
    buf = io.StringIO()
    assert configure_logging("info", "console", buf) == "console"
    bind_clock(lambda: datetime(2020, 1, 2, 20, 45, tzinfo=UTC))
    get_logger("c").warning("careful", n=1)
    text = buf.getvalue()
    assert "careful" in text and "n=1" in text and "sim_time=2020-01-02T20:45:00+00:00" in text


def test_exceptions_are_rendered_in_json() -> None:
    buf = io.StringIO()
    configure_logging("info", "json", buf)
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        get_logger("x").exception("failed")
    (line,) = _lines(buf)
    assert line["level"] == "error"
    assert "ZeroDivisionError: boom" in str(line["exception"])


def test_stdlib_logging_goes_to_the_same_stream() -> None:
    buf = io.StringIO()
    configure_logging("info", "json", buf)
    bind_clock(lambda: datetime(2015, 8, 24, 14, 0, tzinfo=UTC))
    logging.getLogger("ib_async.client").warning("socket %s", "closed")
    logging.getLogger("ib_async.client").debug("noise")
    (line,) = _lines(buf)
    assert line["event"] == "socket closed"
    assert line["logger"] == "ib_async.client"
    assert line["level"] == "warning"
    assert line["sim_time"] == "2015-08-24T14:00:00+00:00"


def test_reconfiguring_does_not_duplicate_stdlib_output() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", "json", first)
    configure_logging("info", "json", second)
    logging.getLogger("lib").error("once")
    assert first.getvalue() == ""
    assert len(_lines(second)) == 1


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("verbose", "json", io.StringIO())
    with pytest.raises(ValueError, match="log format"):
        configure_logging("info", "xml", io.StringIO())


def _chain_lines(one_call: bool) -> list[tuple[list[str], dict[str, object]]]:
    buf = io.StringIO()
    configure_logging("debug", "json", buf)
    if not one_call:  # the processors one by one, as structlog ran them before
        structlog.configure(processors=structlog.get_config()["processors"][0]._full)
    bind_clock(lambda: datetime(2020, 1, 2, 15, 30, tzinfo=UTC))
    log = get_logger("x", run_id=3)
    structlog.contextvars.bind_contextvars(request="r1")
    try:
        log.info("decision", price=1.1, legs=[1, 2], day=date(2020, 1, 1), level="ignored")
        log.warning("w", timestamp="overwritten")
        log.error("e", sim_time="kept")
        try:
            raise ZeroDivisionError("boom")
        except ZeroDivisionError:
            log.exception("failed")
        log.info("stack", stack_info=False)
    finally:
        structlog.contextvars.clear_contextvars()
    out = []
    for line in buf.getvalue().splitlines():
        event = json.loads(line)
        keys = list(event)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", str(event.pop("timestamp")))
        out.append((keys, event))
    return out


def test_the_one_call_json_chain_writes_what_the_processors_wrote() -> None:
    """The replay's fast JSON path: same keys, order and values (bar the wall clock)."""
    fast, full = _chain_lines(True), _chain_lines(False)
    assert len(fast) == 5
    assert fast == full
    assert fast[0][0][:5] == ["timestamp", "level", "event", "sim_time", "logger"]
    assert fast[3][1]["level"] == "error" and "ZeroDivisionError" in str(fast[3][1]["exception"])


class _CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def test_flush_each_event_is_the_default_and_can_be_left_to_the_stream() -> None:
    flushed, buffered = _CountingStream(), _CountingStream()
    configure_logging("info", "json", flushed)
    get_logger("a").info("one")
    get_logger("a").info("two")
    assert flushed.flushes == 2
    configure_logging("info", "json", buffered, flush_each_event=False)
    get_logger("a").info("one")
    get_logger("a").info("two")
    assert buffered.flushes == 0
    assert [line["event"] for line in _lines(buffered)] == ["one", "two"]
