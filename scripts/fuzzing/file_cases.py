"""Generated calendar CSV, iCalendar, option-chain and plain-quotes files, and data bundles."""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from fuzzing.core import BUNDLE, CHAIN_FIXTURE, Case, cli, cli_case

# --------------------------------------------------------------------------- calendar CSV

_CAL_HEADER = "date,time_et,event,scheduled,grade,source\n"
_BAD_NAMES = ["A\x00B", "\u202eCPI", "evil\u2066x", "x" * 300, "bell\x07here", "\x7f"]


def gen_calendar(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    for i in range(n):
        path = tmp / f"cal{i}.csv"
        pick = rng.random()
        invalid = True
        if pick < 0.25:
            name = rng.choice(_BAD_NAMES)
            body = _CAL_HEADER + f'2024-05-01,10:00,"{name}",true,user,x\n'
            label = f"event name {name[:10]!r}"
        elif pick < 0.45:
            cell = rng.choice(
                [
                    "2024-02-30",
                    "2024-13-01",
                    "20240101",
                    "9999-99-99",
                    "",
                    "2024-01-01T00:00",
                    "0000-01-01",
                ]
            )
            body = _CAL_HEADER + f"{cell},10:00,CPI,true,user,x\n"
            label = f"date {cell!r}"
        elif pick < 0.6:
            cell = rng.choice(["25:00", "10:60", "1000", "10:00:00", "-1:00", "ab:cd"])
            body = _CAL_HEADER + f"2024-05-01,{cell},CPI,true,user,x\n"
            label = f"time {cell!r}"
        elif pick < 0.7:
            body = (
                _CAL_HEADER + "2024-05-01,10:00,CPI," + "x" * rng.choice([200_000, 140_000]) + "\n"
            )
            label = "a huge field"
        elif pick < 0.8:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            path.write_bytes(raw)
            yield Case("calendar", "random bytes", _cal_show(path), True)
            continue
        elif pick < 0.85:
            body = _CAL_HEADER + "2024-05-01,10:00,CPI,maybe,Z,x\n"
            label = "bad scheduled/grade"
        elif pick < 0.9:
            body = _CAL_HEADER + '2024-05-01,10:00,"multi\nline",true,user,x\n'
            label = "field spanning lines"
        else:
            day = rng.randrange(1, 28)
            body = _CAL_HEADER + f"2024-05-{day:02d},10:00,My event {i},true,user,ok\n"
            label, invalid = "a valid user event", False
        path.write_text(body, encoding="utf-8")
        yield Case("calendar", label, _cal_show(path), invalid, _cal_argv(path))
    yield Case("calendar", "/dev/zero", _cal_show(Path("/dev/zero")), True)
    fifo = tmp / "cal.fifo"
    os.mkfifo(fifo)
    yield Case("calendar", "a FIFO without writer", _cal_show(fifo), True)


def _cal_argv(path: Path) -> list[str]:
    return ["calendar", "show", "--user-calendar", str(path), "--from", "2024-05-01",
            "--to", "2024-05-31", "--events-only"]  # fmt: skip


def _cal_show(path: Path) -> Callable[[], int]:
    return lambda: cli(_cal_argv(path))


# --------------------------------------------------------------------------- ics


def _ics(events: list[str]) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:fuzz\r\n" + "".join(events) + "END:VCALENDAR\r\n"
    )


def _vevent(uid: str, summary: str, dtstart: str, extra: str = "") -> str:
    return f"BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{summary}\r\n{dtstart}\r\n{extra}END:VEVENT\r\n"


def gen_ics(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    for i in range(n):
        path = tmp / f"i{i}.ics"
        into = tmp / f"into{i}.csv"
        pick = rng.random()
        invalid = True
        if pick < 0.2:
            tz = rng.choice(
                ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "America/Nowhere", "x" * 300]
            )
            body = _ics([_vevent(f"u{i}", "CPI", f"DTSTART;TZID={tz}:20250110T083000")])
            label = f"TZID {tz[:20]!r}"
        elif pick < 0.35:
            name = rng.choice(_BAD_NAMES)
            body = _ics([_vevent(f"u{i}", name, "DTSTART:20250110T083000Z")])
            label = f"summary {name[:10]!r}"
        elif pick < 0.45:
            dt = rng.choice(["DTSTART:20250230T083000", "DTSTART:2025", "DTSTART:abc", "DTSTART:"])
            body = _ics([_vevent(f"u{i}", "CPI", dt)])
            label = f"{dt!r}"
        elif pick < 0.55:
            depth = rng.choice([100, 3000])
            body = _ics(["BEGIN:VEVENT\r\n" * depth + "END:VEVENT\r\n" * depth])
            label = f"components nested {depth}"
        elif pick < 0.62:
            body = _ics(
                [_vevent(f"u{i}", "CPI", "DTSTART:20250110T083000Z", "RRULE:FREQ=DAILY\r\n")]
            )
            label = "RRULE"
        elif pick < 0.7:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            path.write_bytes(raw)
            yield Case("ics", "random bytes", _ics_import(path, into), True)
            continue
        elif pick < 0.77:
            good = _ics([_vevent(f"u{i}", "CPI", "DTSTART:20250110T083000Z")])
            cut = rng.randrange(1, len(good) - 5)
            body = good[:cut]
            label = f"truncated at {cut}"
        elif pick < 0.85:
            body = _ics([_vevent(f"u{i}", "Event", "DTSTART;VALUE=DATE:20250110")])
            target = tmp / f"target{i}.csv"
            target.write_text(_CAL_HEADER, encoding="utf-8")
            link = tmp / f"link{i}.csv"
            link.symlink_to(target)
            path.write_text(body, encoding="utf-8")
            yield Case("ics", "--into a symlink", _ics_symlink(path, link, target), False)
            continue
        else:
            n_events = rng.choice([1, 10, 500])
            evs = [
                _vevent(f"v{i}-{k}", f"Release {k}", f"DTSTART:2025{(k % 12) + 1:02d}10T133000Z")
                for k in range(n_events)
            ]
            body = _ics(evs)
            label, invalid = f"{n_events} valid events", False
        path.write_text(body, encoding="utf-8")
        yield Case("ics", label, _ics_import(path, into), invalid, _ics_argv(path, into))


def _ics_argv(path: Path, into: Path) -> list[str]:
    return ["calendar", "import", str(path), "--into", str(into)]


def _ics_import(path: Path, into: Path) -> Callable[[], int]:
    return lambda: cli(_ics_argv(path, into))


def _ics_symlink(path: Path, link: Path, target: Path) -> Callable[[], int]:
    def run() -> int:
        status = cli(_ics_argv(path, link))
        if not link.is_symlink():
            raise RuntimeError("--into replaced the symbolic link")
        if status == 0 and "Event" not in target.read_text(encoding="utf-8"):
            raise RuntimeError("--into a symlink did not write through to its target")
        return status

    return run


# --------------------------------------------------------------------------- chains


def gen_chain(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    base = CHAIN_FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
    header_at = next(i for i, line in enumerate(base) if line.startswith("Expiration Date"))
    for i in range(n):
        d = tmp / f"ch{i}"
        d.mkdir()
        lines = list(base)
        name = "SPX_2023-02-03.csv"
        pick = rng.random()
        invalid = True
        if pick < 0.15:
            name = rng.choice(["SPX_2023-02-30.csv", "SPX_2023-13-01.csv", "SPX_0000-00-00.csv"])
            label = f"file name {name}"
        elif pick < 0.3:
            k = rng.randrange(header_at + 1, len(lines))
            lines[k] = lines[k].rstrip("\n") + "," + "x" * rng.choice([131_073, 200_000]) + "\n"
            label = "a field over 128 KiB"
        elif pick < 0.45:
            body = []
            for line in lines[header_at + 1 :]:
                cells = line.rstrip("\n").split(",")
                if len(cells) >= 22:
                    cells[4] = cells[15] = rng.choice(["nan", "NaN", "inf", "-inf"])
                body.append(",".join(cells) + "\n")
            lines = lines[: header_at + 1] + body
            label = "every bid NaN/inf"
        elif pick < 0.55:
            lines[1] = rng.choice(
                ["X,Last: -1,Change: 0\n", "X,Last: 1e308,Change: 0\n", "X,Last: nan,Change: 0\n"]
            )
            label = f"underlying {lines[1].strip()!r}"
        elif pick < 0.65:
            lines = lines[: rng.randrange(0, header_at + 2)]
            label = "truncated before quotes"
        elif pick < 0.75:
            raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 500)))
            (d / name).write_bytes(raw)
            yield Case(
                "chain", "random bytes", _chain(d / name), True, ["model-check", str(d / name)]
            )
            continue
        elif pick < 0.8:
            qpath = d / "quotes.csv"
            row = rng.choice(
                [
                    "2023-02-30,SPX,2023-03-17,4000,C,1,2",
                    "2023-02-03,SPX,2023-03-17,nan,C,1,2",
                    "2023-02-03,SPX,2023-03-17,4000,X,1,2",
                    "2023-02-03,ZZZ,2023-03-17,4000,C,1,2",
                    "2023-02-03,SPX,2023-03-17,4000,C,-1,inf",
                    "2023-02-03,SPX,2023-03-17,4000,C," + "9" * 140_000,
                ]
            )
            qpath.write_text(
                "quote_date,underlying,expiry,strike,right,bid,ask\n" + row + "\n",
                encoding="utf-8",
            )
            argv = ["model-check", str(qpath)]
            yield Case("chain", f"quotes file row {row[:40]!r}", cli_case(argv), True, argv)
            continue
        elif pick < 0.87:
            k = rng.randrange(header_at + 1, len(lines))
            cells = lines[k].split(",")
            j = rng.randrange(len(cells))
            cells[j] = rng.choice(["\x00", "1e999", "-5", "", "abc", '"'])
            lines[k] = ",".join(cells)
            label, invalid = f"one mangled cell {cells[j]!r}", False
        else:
            label, invalid = "the fixture as is", False
        (d / name).write_text("".join(lines), encoding="utf-8")
        yield Case("chain", label, _chain(d / name), invalid, ["model-check", str(d / name)])


def _chain(path: Path) -> Callable[[], int]:
    return lambda: cli(["model-check", str(path)])


# --------------------------------------------------------------------------- bundle


def gen_bundle(rng: random.Random, n: int, tmp: Path) -> Iterator[Case]:
    from daemon.marketdata.files import FILE_SPECS

    for i in range(n):
        d = tmp / f"b{i}"
        shutil.copytree(BUNDLE, d)
        series = rng.choice(sorted(FILE_SPECS))
        spec = FILE_SPECS[series]
        f = d / spec.filename
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
        k = rng.randrange(len(lines) - 300, len(lines))
        cells = lines[k].rstrip("\n").split(",")
        pick = rng.random()
        invalid = True
        if pick < 0.35:
            col = 1 + spec.columns.index(spec.key[0])
            if series in ("spx",):
                cells[col] = rng.choice(["-1", "0", "1", "1e308"])
            elif series == "nyse_breadth":
                cells[col] = rng.choice(["-1", "1e308"])
            else:
                cells[col] = rng.choice(["0", "-0.5", "-20", "1e308"])
            lines[k] = ",".join(cells) + "\n"
            label = f"{series} {spec.key[0]} = {cells[col]}"
        elif pick < 0.5:
            raw = f.read_bytes()
            cut = rng.randrange(len(raw) // 2, len(raw))
            f.write_bytes(raw[:cut] + b"\xff\xfe\xc3" + raw[cut:])
            yield Case("bundle", f"{series}: non-UTF-8 bytes", _bundle(d), True)
            continue
        elif pick < 0.6:
            cells[0] = rng.choice(["2020-02-30", "yesterday", "1900-01-01", ""])
            lines[k] = ",".join(cells) + "\n"
            label = f"{series} date {cells[0]!r}"
        elif pick < 0.7:
            cells.append("x" * 140_000)
            lines[k] = ",".join(cells) + "\n"
            label = f"{series}: a 140k field"
        elif pick < 0.8:
            lines[0] = "date,nonsense\n"
            label = f"{series}: wrong header"
        elif pick < 0.85:
            f.unlink()
            yield Case("bundle", f"{series}: missing file", _bundle(d), True)
            continue
        elif pick < 0.9:
            lines.insert(k, lines[k])
            label = f"{series}: duplicate row"
        else:
            label, invalid = f"{series}: untouched", False
        f.write_text("".join(lines), encoding="utf-8")
        yield Case(
            "bundle",
            label,
            _bundle(d),
            invalid,
            ["model-check", str(CHAIN_FIXTURE), "--bundle", str(d)],
        )


def _bundle(d: Path) -> Callable[[], int]:
    def run() -> int:
        from daemon.marketdata.loader import MarketDataError, load_history

        try:
            load_history(d)
        except MarketDataError as exc:
            if "\n" in str(exc):
                raise RuntimeError(f"multi-line error: {exc!s:.200}") from None
            return 2
        finally:
            shutil.rmtree(d, ignore_errors=True)
        return 0

    return run
