"""``alvh web`` reads without touching the journal or its writer, and guards itself with a token.

* read-only: every page leaves the journal's bytes (and its WAL and lock
  files) as they were; a writer holding a write transaction does not slow a
  page, and a writer with no busy timeout at all never meets a lock the
  dashboard holds, nor does ``alvh run``'s journal lock;
* token: with ``[web] token`` every request needs it (Bearer header,
  ``?token=``, or the cookie ``?token=`` sets);
* the command line: loopback by default, a non-loopback host without a token
  is refused in one line (exit 2), and so are a missing or corrupt journal, a
  bad config and a port in use; a real server answers on 127.0.0.1 and stops
  with status 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.testclient import TestClient

from daemon import web
from daemon.locking import JournalLock, lock_path
from daemon.web.app import TOKEN_COOKIE, WebSettings, create_app
from tests.web.server import start_server, stop_server

TOKEN = "s3cret-token-0123456789"
PAGES = ("/", "/decisions", "/decisions?rule=condor_entry", "/orders", "/daily", "/api/status")


def _digest(path: Path) -> dict[str, str | None]:
    """sha256 of the journal and of its .lock sibling (``None``: absent).

    SQLite's ``-shm`` index (and an empty ``-wal``) may appear beside a WAL
    journal when a reader opens it; they hold no data.
    """
    out: dict[str, str | None] = {}
    for p in (path, lock_path(path)):
        out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
    return out


def _copy(src: Path, dst: Path) -> Path:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()
    return dst


# --------------------------------------------------------------------------- read-only


@pytest.mark.parametrize("journal", ["replay_journal", "paper_journal"])
def test_pages_leave_the_journal_unchanged(journal: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(journal)
    before = _digest(path)
    client = TestClient(create_app(WebSettings(path)))
    for page in PAGES:
        assert client.get(page).status_code == 200, page
    assert _digest(path) == before
    wal = Path(f"{path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # nothing was written


def test_a_writer_in_a_write_transaction_does_not_block_pages(
    replay_journal: Path, tmp_path: Path
) -> None:
    path = _copy(replay_journal, tmp_path / "live.sqlite")
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA busy_timeout = 0")  # any lock the dashboard held would fail it
    client = TestClient(create_app(WebSettings(path)))
    insert = (
        "INSERT INTO decisions (id, run_id, session, time, rule, action, structure, reason,"
        " inputs_json, legs_json, quantity) VALUES (?, 1, '2019-03-29',"
        " '2019-03-29T16:00:00-04:00', 'manual_note', 'hold', 'condor', ?, '{}', '[]', 0)"
    )
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(insert, ["w-1", "uncommitted row"])
        started = time.monotonic()
        for page in PAGES:
            response = client.get(page)
            assert response.status_code == 200, (page, response.text[:200])
        assert time.monotonic() - started < 5.0  # no page waited on the writer's lock
        assert "uncommitted row" not in client.get("/decisions").text  # readers see commits only
        writer.execute("COMMIT")
        assert "uncommitted row" in client.get("/decisions?rule=manual_note").text

        # pages read in a loop while the writer commits 40 transactions with no busy timeout
        errors: list[BaseException] = []
        stop = threading.Event()

        def read_pages() -> None:
            try:
                while not stop.is_set():
                    for page in PAGES:
                        assert client.get(page).status_code == 200
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        reader = threading.Thread(target=read_pages)
        reader.start()
        try:
            for i in range(40):
                writer.execute("BEGIN IMMEDIATE")
                writer.execute(insert, [f"w-loop-{i}", f"loop row {i}"])
                writer.execute("COMMIT")
                time.sleep(0.01)
        finally:
            stop.set()
            reader.join(30)
        assert not errors, errors
        # alvh run's journal lock is free: the dashboard never takes it
        with JournalLock.acquire(path, command="alvh run") as lock:
            assert lock.held
            assert client.get("/").status_code == 200
        text = client.get("/decisions?rule=manual_note").text
        assert "41 matching" in re.sub(r"\s+", " ", text)
    finally:
        writer.close()


# --------------------------------------------------------------------------- token


def test_token_required_on_every_request(replay_journal: Path) -> None:
    client = TestClient(create_app(WebSettings(replay_journal, token=TOKEN)))
    for page in (*PAGES, "/healthz"):
        refused = client.get(page)
        assert refused.status_code == 401, page
        assert refused.text.count("\n") == 1 and "token is required" in refused.text
        assert refused.headers["www-authenticate"] == "Bearer"
    wrong = client.get("/", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    assert client.get("/?token=not-the-token-at-all").status_code == 401

    bearer = client.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200 and bearer.json()["run"]["id"] == 1
    assert "set-cookie" not in bearer.headers

    fresh = TestClient(create_app(WebSettings(replay_journal, token=TOKEN)))
    first = fresh.get(f"/?token={TOKEN}")
    assert first.status_code == 200
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{TOKEN_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie and TOKEN not in cookie  # the cookie is not the token
    # the page's own links carry no token: the cookie authorizes them
    assert fresh.get("/decisions").status_code == 200
    forged = TestClient(create_app(WebSettings(replay_journal, token=TOKEN)))
    forged.cookies.set(TOKEN_COOKIE, "forged")
    assert forged.get("/decisions").status_code == 401


def test_no_token_no_gate(replay_journal: Path) -> None:
    assert TestClient(create_app(WebSettings(replay_journal))).get("/").status_code == 200


# --------------------------------------------------------------------------- command line


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alvh")
    web.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["web", *argv])


def _run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = _args(*argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.7", False),
        ("no-such-host.invalid", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert web.is_loopback(host) is loopback


def test_defaults_bind_loopback() -> None:
    args = _args()
    assert (args.host, args.port) == ("127.0.0.1", web.DEFAULT_PORT)


def test_non_loopback_without_token_is_refused(
    replay_journal: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run_cli(capsys, "--journal", str(replay_journal), "--host", "0.0.0.0")
    assert code == 2 and out == ""
    assert err == (
        "alvh web: binding 0.0.0.0 (not loopback) needs a token: set [web] token in the "
        "config (or ALVH_WEB__TOKEN), or bind 127.0.0.1\n"
    )


def test_non_loopback_with_token_serves_with_the_gate(
    replay_journal: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``[web] token`` a non-loopback host is accepted; the app it serves has the gate.

    The socket is bound on 127.0.0.1 instead (tests talk only to loopback);
    the uvicorn server is replaced by a TestClient over the app it was given.
    """
    config = tmp_path / "alvh.toml"
    config.write_text(f'[web]\ntoken = "{TOKEN}"\n')
    asked: list[tuple[str, int]] = []
    served: dict[str, Any] = {}

    def fake_bind(host: str, port: int) -> socket.socket:
        asked.append((host, port))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        return sock

    def fake_run(self: Any, sockets: Any = None) -> None:
        client = TestClient(self.config.app)
        served["anonymous"] = client.get("/").status_code
        served["bearer"] = client.get("/", headers={"Authorization": f"Bearer {TOKEN}"})

    monkeypatch.setattr(web, "_bind", fake_bind)
    monkeypatch.setattr("uvicorn.Server.run", fake_run)
    code, _, err = _run_cli(
        capsys, "--journal", str(replay_journal), "--host", "0.0.0.0", "--config", str(config)
    )
    assert code == 0 and asked == [("0.0.0.0", web.DEFAULT_PORT)]
    assert err.startswith(f"alvh web: serving {replay_journal} read-only on http://127.0.0.1:")
    assert served["anonymous"] == 401 and served["bearer"].status_code == 200


def test_bad_token_in_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "alvh.toml"
    config.write_text('[web]\ntoken = "short"\n')
    code, _, err = _run_cli(capsys, "--config", str(config))
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("alvh web: bad config:") and "web.token" in err


@pytest.mark.parametrize("kind", ["missing", "not sqlite", "foreign sqlite", "no runs"])
def test_unusable_journal_is_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.sqlite"
    if kind == "not sqlite":
        path.write_bytes(os.urandom(4096))
    elif kind == "foreign sqlite":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
    elif kind == "no runs":
        from daemon.journal import Journal

        Journal.open(path).close()
    code, out, err = _run_cli(capsys, "--journal", str(path), "--port", "0")
    assert code == 2 and out == ""
    assert err.startswith("alvh web: ") and err.count("\n") == 1 and "Traceback" not in err


def test_port_in_use_is_one_line(replay_journal: Path, capsys: pytest.CaptureFixture[str]) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        code, _, err = _run_cli(capsys, "--journal", str(replay_journal), "--port", str(port))
    finally:
        taken.close()
    assert (
        code == 2 and err == f"alvh web: cannot listen on 127.0.0.1:{port}: Address in use\n"
    ) or (code == 2 and err.startswith(f"alvh web: cannot listen on 127.0.0.1:{port}:"))


def test_real_server_on_loopback_stops_cleanly(replay_journal: Path) -> None:
    proc, url = start_server(replay_journal, env={"ALVH_WEB__TOKEN": TOKEN})
    try:
        assert httpx2.get(url + "healthz", timeout=10).status_code == 401
        page = httpx2.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert page.status_code == 200 and 'id="equity-chart"' in page.text
    finally:
        code, err = stop_server(proc)
    assert code == 0 and "Traceback" not in err
