"""Damaged and foreign journals, and command-line paths and flags."""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from fuzzing.core import CHAIN_FIXTURE, Case, cli, cli_case

# --------------------------------------------------------------------------- journals


def _seed_journal(tmp: Path) -> Path:
    path = tmp / "seed.sqlite"
    status = cli(
        ["replay", "--start", "2020-02-03", "--end", "2020-03-13", "--journal", str(path),
         "--log-file", str(tmp / "seed.log"), "--no-progress"]
    )  # fmt: skip
    if status != 0:
        raise SystemExit(f"fuzz: cannot build the seed journal (status {status})")
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.close()
    return path


def _journal_mutations(rng: random.Random, seed: Path, path: Path) -> tuple[str, bool]:
    """Write a damaged copy of ``seed`` at ``path``; returns (label, must be refused)."""
    raw = bytearray(seed.read_bytes())
    pick = rng.random()
    if pick < 0.2:
        cut = rng.randrange(0, len(raw))
        path.write_bytes(bytes(raw[:cut]))
        return f"truncated at {cut}", False
    if pick < 0.4:
        page = 4096
        k = rng.randrange(1, max(2, len(raw) // page))
        raw[k * page : (k + 1) * page] = bytes(page)
        path.write_bytes(bytes(raw))
        return f"page {k} zeroed", False
    if pick < 0.5:
        for _ in range(rng.randrange(1, 50)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        path.write_bytes(bytes(raw))
        return "random byte flips", False
    if pick < 0.6:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 3000))))
        return "random bytes", True
    if pick < 0.7:
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE foreign_table (x)")
        con.execute("INSERT INTO foreign_table VALUES (1)")
        con.commit()
        con.close()
        return "a foreign SQLite database", True
    shutil.copy(seed, path)
    con = sqlite3.connect(path)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    table = rng.choice(tables)
    cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
    col = rng.choice(cols)
    value = rng.choice(["garbage", None, -1, 1e308, "{not json", "[]", "9999-99-99", b"\x00\xff"])
    sub = rng.random()
    try:
        if sub < 0.15:
            con.execute(f"DROP TABLE {table}")
            label = f"table {table} dropped"
        elif sub < 0.25:
            con.execute(f"PRAGMA user_version = {rng.choice([99, -1, 0])}")
            label = "user_version changed"
        else:
            con.execute(f"UPDATE {table} SET {col} = ?", (value,))
            label = f"{table}.{col} = {value!r:.20}"
        con.commit()
    except sqlite3.Error as exc:
        label = f"mutation refused by SQLite ({exc})"
    con.close()
    return label, False


def gen_journal(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    seed = _seed_journal(tmp)
    for i in range(n):
        path = tmp / f"j{i}.sqlite"
        label, invalid = _journal_mutations(rng, seed, path)
        cmd = rng.choice(
            ["journal", "journal-json", "status", "status-json", "replay", "run", "report"]
        )
        env: dict[str, str] = {}
        if cmd == "run":
            # the daemon on the damaged journal, with a gateway that refuses at once:
            # 2 (journal refused) or 4 (gateway unreachable), never 1
            argv = ["run", "--port", "1", "--dry-run"]
            env = {
                "ALVH_JOURNAL__PATH": str(path),
                "ALVH_BROKER__CONNECT_ATTEMPTS": "1",
                "ALVH_BROKER__CONNECT_TIMEOUT_S": "1",
                "ALVH_LOGGING__FORMAT": "json",
            }
            yield Case("journal", f"{label} ({cmd})", cli_case(argv), invalid, argv, env)
            continue
        if cmd.startswith("journal"):
            argv = ["journal", str(path)] + (["--json"] if cmd.endswith("json") else [])
        elif cmd == "report":
            argv = ["report", str(path), "--out", str(tmp / f"j{i}-report")]
        elif cmd.startswith("status"):
            argv = ["status", "--journal", str(path)] + (["--json"] if cmd.endswith("json") else [])
        else:
            argv = ["replay", "--start", "2020-03-16", "--end", "2020-03-17", "--journal",
                    str(path), "--log-file", str(tmp / f"j{i}.log"), "--no-progress"]  # fmt: skip
        yield Case("journal", f"{label} ({cmd})", cli_case(argv), invalid, argv)


# --------------------------------------------------------------------------- paths and flags


def gen_paths(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    missing = tmp / "no" / "such" / "dir"
    cfg_live = tmp / "live.toml"
    cfg_live.write_text(
        '[broker]\ntrading_mode = "live"\naccount = "U1234567"\nmarket_data_type = 1\n'
    )
    fixed: list[tuple[str, list[str], bool]] = [
        (
            "replay --journal in a missing directory",
            [
                "replay",
                "--start",
                "2020-03-02",
                "--end",
                "2020-03-03",
                "--journal",
                str(missing / "j.sqlite"),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay --log-file in a missing directory",
            [
                "replay",
                "--start",
                "2020-03-02",
                "--end",
                "2020-03-03",
                "--journal",
                str(tmp / "ok.sqlite"),
                "--log-file",
                str(missing / "x.log"),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay --journal is a directory",
            [
                "replay",
                "--start",
                "2020-03-02",
                "--end",
                "2020-03-03",
                "--journal",
                str(tmp),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay outside the data",
            [
                "replay",
                "--start",
                "1850-01-01",
                "--end",
                "1850-02-01",
                "--journal",
                str(tmp / "old.sqlite"),
                "--no-progress",
            ],
            True,
        ),
        (
            "replay end before start",
            [
                "replay",
                "--start",
                "2020-03-05",
                "--end",
                "2020-03-02",
                "--journal",
                str(tmp / "rev.sqlite"),
                "--no-progress",
            ],
            True,
        ),
        (
            "model-check --plot into a missing directory",
            ["model-check", str(CHAIN_FIXTURE), "--plot", str(missing / "p.png")],
            True,
        ),
        (
            "model-check --bundle missing",
            ["model-check", str(CHAIN_FIXTURE), "--bundle", str(missing)],
            True,
        ),
        (
            "run --now in live mode",
            ["run", "--config", str(cfg_live), "--now", "2024-05-01T15:30:00-04:00"],
            True,
        ),
        (
            "run --journal config in a missing directory (env)",
            ["run", "--port", "1", "--dry-run"],
            True,
        ),
        ("status on a missing journal", ["status", "--journal", str(missing / "j")], True),
        ("journal on a directory", ["journal", str(tmp)], True),
        (
            "calendar import into a missing directory",
            ["calendar", "import", str(tmp / "none.ics"), "--into", str(missing / "c.csv")],
            True,
        ),
        (
            "run --client-id -5 (an override below its range)",
            ["run", "--client-id", "-5", "--dry-run"],
            True,
        ),
        ("run --port 0", ["run", "--port", "0", "--dry-run"], True),
        ("--version", ["--version"], False),
    ]
    env_for = {
        "run --journal config in a missing directory (env)": {
            "ALVH_JOURNAL__PATH": str(missing / "j.sqlite")
        }
    }
    for i in range(n):
        label, argv, invalid = fixed[i % len(fixed)]
        yield Case("paths", label, cli_case(argv), invalid, argv, env_for.get(label, {}))
