"""Tests for daemon.locking: one writer per journal (``<journal>.lock``, ``flock``).

The subprocess tests with a running ``alvh run`` are in ``test_daemon_process.py``.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.exits import ExitStatus
from daemon.locking import JournalLock, JournalLocked, JournalLockError, lock_path


def test_lock_path_is_a_sibling() -> None:
    assert lock_path("/var/lib/alvh/alvh.sqlite") == Path("/var/lib/alvh/alvh.sqlite.lock")
    assert lock_path(Path("j.sqlite")) == Path("j.sqlite.lock")


def test_acquire_records_the_holder_and_release_frees_it(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    lock = JournalLock.acquire(journal, command="alvh run")
    assert lock.held and lock.path == tmp_path / "alvh.sqlite.lock"
    record = json.loads(lock.path.read_text())
    assert record["pid"] == os.getpid() and record["command"] == "alvh run"
    assert record["started_at"].endswith("+00:00")
    assert not journal.exists()  # the lock never touches the journal
    lock.release()
    lock.release()  # idempotent
    assert not lock.held
    with JournalLock.acquire(journal, command="alvh replay") as again:
        assert json.loads(again.path.read_text())["command"] == "alvh replay"
    assert lock.path.exists()  # the file stays; only the flock matters


def test_second_acquire_fails_with_one_line_naming_lock_and_pid(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    with JournalLock.acquire(journal, command="alvh run"):
        with pytest.raises(JournalLocked) as info:
            JournalLock.acquire(journal, command="alvh replay")
        # the refused side must not have clobbered the holder's record
        assert json.loads(lock_path(journal).read_text())["command"] == "alvh run"
    message = str(info.value)
    assert "\n" not in message
    assert str(lock_path(journal)) in message and f"pid {os.getpid()}" in message
    assert "alvh run, since " in message and message.endswith(" UTC)")
    assert info.value.holder is not None and info.value.holder.pid == os.getpid()


def test_holder_not_yet_written(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    fd = os.open(lock_path(journal), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(JournalLocked, match="pid not yet written") as info:
            JournalLock.acquire(journal, command="alvh run")
        assert info.value.holder is None
    finally:
        os.close(fd)


def test_stale_lock_file_of_a_killed_process_does_not_block(tmp_path: Path) -> None:
    journal = tmp_path / "alvh.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from daemon.locking import JournalLock\n"
            f"JournalLock.acquire({str(journal)!r}, command='alvh run')\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(JournalLocked, match=f"pid {holder.pid} "):
            JournalLock.acquire(journal, command="test")
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
        holder.wait()
    assert json.loads(lock_path(journal).read_text())["pid"] == holder.pid  # stale file
    with JournalLock.acquire(journal, command="test") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()


def test_unusable_lock_file_is_a_lock_error_not_locked(tmp_path: Path) -> None:
    with pytest.raises(JournalLockError, match="cannot open lock file") as info:
        JournalLock.acquire(tmp_path / "missing" / "alvh.sqlite", command="alvh run")
    assert not isinstance(info.value, JournalLocked)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--port", "9"],
        ["replay", "--start", "2019-03-01", "--end", "2019-03-08"],
    ],
)
def test_cli_exits_5_with_one_line_when_the_journal_is_locked(
    tmp_path: Path,
    args: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    journal = tmp_path / "alvh.sqlite"
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(journal))
    with JournalLock.acquire(journal, command="alvh run"):
        code = main(args)
    out, err = capsys.readouterr()
    assert code == ExitStatus.JOURNAL_LOCKED == 5
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"alvh {args[0]}: journal in use: lock {lock_path(journal)} ")
    assert f"held by pid {os.getpid()} (alvh run, since " in line
    assert not journal.exists()


def test_help_lists_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        assert "exit status:" in out
        for status in ExitStatus:
            assert f"\n  {int(status):<4} " in out, (argv, status)


@pytest.mark.parametrize("command", ["run", "replay"])
def test_lock_file_in_a_missing_directory_is_a_usage_error(
    tmp_path: Path,
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal = tmp_path / "missing" / "alvh.sqlite"
    args = {
        "run": ["run", "--port", "9"],
        "replay": ["replay", "--start", "2019-03-01", "--end", "2019-03-08"],
    }[command]
    monkeypatch.setenv("ALVH_JOURNAL__PATH", str(journal))
    code = main(args)
    err = capsys.readouterr().err.splitlines()
    assert code == ExitStatus.USAGE
    assert len(err) == 1 and "does not exist" in err[0] and str(journal) in err[0]
