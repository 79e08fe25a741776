"""Every page and endpoint of ``alvh web`` (Starlette TestClient) on a replay and a paper journal.

Assertions compare what a page shows with what the journal holds, read
through the journal's own read models.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from daemon import status
from daemon.journal import Journal
from daemon.status import collect
from daemon.web.app import WebSettings, create_app

PINNED = datetime(2026, 11, 30, 14, 0, 7, tzinfo=UTC)


def _client(path: Path, **settings: object) -> TestClient:
    return TestClient(create_app(WebSettings(path, **settings)))  # type: ignore[arg-type]


def _text(html: str) -> str:
    """The page's visible text, whitespace collapsed (styles dropped)."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    """Both ``alvh status`` and the dashboard see the same wall clock."""
    monkeypatch.setattr(collect, "utc_now", lambda: PINNED)
    yield PINNED


def _status_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    parser = argparse.ArgumentParser(prog="alvh")
    status.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["status", *argv])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


# --------------------------------------------------------------------------- /api/status


@pytest.mark.parametrize("journal", ["replay_journal", "paper_journal"])
def test_api_status_equals_status_json(
    journal: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    pinned_clock: datetime,
) -> None:
    path: Path = request.getfixturevalue(journal)
    cli = _status_cli(capsys, "--journal", str(path), "--json")
    response = _client(path).get("/api/status")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == cli  # byte for byte, newline included
    report = json.loads(response.text)
    assert report["generated_at"] == "2026-11-30T14:00:07+00:00"
    # the same options mean the same thing
    cli4 = _status_cli(capsys, "--journal", str(path), "--json", "--run", "1", "--decisions", "4")
    assert _client(path).get("/api/status?run=1&decisions=4").text == cli4
    assert len(json.loads(cli4)["decisions"]) == min(4, len(report["decisions"]) or 4)


def test_api_status_of_a_replay_has_the_replays_context(replay_journal: Path) -> None:
    report = _client(replay_journal).get("/api/status").json()
    assert report["context"] == {"time": "2019-03-30T00:00:00-04:00", "source": "replay end"}
    daily = [j for j in report["next_jobs"] if j["kind"] == "daily"]
    # the jobs after the replay (Monday 2019-04-01), not after today's wall clock
    assert [(j["job"], j["session"]) for j in daily] == [
        ("entry", "2019-04-01"),
        ("hedge_check", "2019-04-01"),
        ("manage", "2019-04-01"),
        ("mark", "2019-04-01"),
    ]
    assert all(e["date"] >= "2019-03-30" for e in report["macro_events"])
    assert all(e["date"] < "2020-01-01" for e in report["macro_events"])


def test_api_status_errors_are_one_line_json(replay_journal: Path, tmp_path: Path) -> None:
    client = _client(replay_journal)
    missing = client.get("/api/status?run=9")
    assert missing.status_code == 404 and missing.json() == {"error": f"{replay_journal}: no run 9"}
    assert client.get("/api/status?decisions=-1").status_code == 400
    gone = _client(tmp_path / "nope.sqlite").get("/api/status")
    assert gone.status_code == 503 and "no such journal file" in gone.json()["error"]


# --------------------------------------------------------------------------- dashboard


def test_dashboard_on_replay_shows_health_structures_and_charts(replay_journal: Path) -> None:
    response = _client(replay_journal).get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    text = _text(html)
    with Journal.open(replay_journal, read_only=True) as j:
        info = j.run()
        open_positions = j.positions(info.id, open_only=True)
        marks = {p.id: j.marks(info.id, p.id)[-1] for p in open_positions}
        daily = j.daily(info.id)
    assert "mode replay" in text and "market data historical data bundle (replay)" in text
    assert f"state finished {info.finished_at}" in text
    assert "reconciliation no difference journaled" in text
    assert "condor entry at the replay's end" in text
    # every open structure, every leg, its latest mark's greeks and P&L
    assert f"Open structures ({len(open_positions)})" in text
    for p in open_positions:
        assert f'id="position-{p.id}"' in html
        for leg in p.legs:
            assert leg.contract.local_symbol in text
        m = marks[p.id]
        assert f"{m.unrealized_pnl:+,.2f}" in text
        assert f"{m.vega:,.1f}" in text and f"{m.delta:,.1f}" in text
    # equity curve: one point per daily row, drawn from net liquidation
    svg = re.search(r'<svg id="equity-chart".*?</svg>', html, flags=re.S)
    assert svg is not None
    points = re.search(r'<polyline points="([^"]+)"', svg.group(0))
    assert points is not None and len(points.group(1).split()) == len(daily) == 21
    assert f"{round(max(d.net_liquidation for d in daily)):,d}" in svg.group(0)
    assert 'id="drawdown-chart"' in html
    # next jobs after the replay and the last decisions with their reasons
    assert "after the replay's end" in text and "2019-04-01 15:30 EDT" in text
    with Journal.open(replay_journal, read_only=True) as j:
        last = j.decisions(info.id)[-1]
    assert last.decision.reason in text


def test_dashboard_on_paper_run(paper_journal: Path) -> None:
    html = _client(paper_journal).get("/").text
    text = _text(html)
    with Journal.open(paper_journal, read_only=True) as j:
        info = j.run()
        structures = {p.structure.value for p in j.positions(info.id, open_only=True)}
    assert structures == {"condor", "hedge_layer"}
    assert "mode paper" in text and "account DU1234567" in text
    assert "market data 3 (delayed)" in text  # the run's stored [broker] config
    assert 'data-structure="condor"' in html and 'data-structure="hedge_layer"' in html
    assert "puts 4,800/4,850 · calls 5,145/5,195" in text
    assert "last job (decision) 2026-11-20 15:30 EST · hedge_ladder open" in text
    assert re.search(r'<svg id="equity-chart".*?<circle', html, flags=re.S)  # one session
    assert "from now" in text  # a paper run's next jobs come from the wall clock


# --------------------------------------------------------------------------- other pages


def test_decisions_filter_by_rule_and_action(replay_journal: Path) -> None:
    client = _client(replay_journal)
    with Journal.open(replay_journal, read_only=True) as j:
        records = j.decisions(j.run().id)
    everything = client.get("/decisions").text
    assert f"{len(records)} matching" in _text(everything)
    assert everything.count('<tr class="decision"') == len(records)

    html = client.get("/decisions?rule=condor_entry&action=open").text
    expected = [
        r
        for r in records
        if r.decision.rule == "condor_entry" and r.decision.action.value == "open"
    ]
    assert expected, "the replay opened condors"
    rows = re.findall(r'<tr class="decision" data-rule="([^"]+)" data-action="([^"]+)"', html)
    assert rows == [("condor_entry", "open")] * len(expected)
    text = _text(html)
    for r in expected:
        assert r.decision.reason in text
    assert f"{len(expected)} matching" in text
    assert '<option value="condor_entry" selected>' in html  # the form keeps the filter

    skips = client.get("/decisions?action=skip").text
    assert set(re.findall(r'data-action="([^"]+)"', skips)) == {"skip"}
    none = client.get("/decisions?rule=no_such_rule").text
    assert "no decision matches" in none and "0 matching" in _text(none)


def test_orders_and_fills(paper_journal: Path) -> None:
    html = _client(paper_journal).get("/orders").text
    text = _text(html)
    with Journal.open(paper_journal, read_only=True) as j:
        run_id = j.run().id
        orders = j.orders([run_id])
        fills = j.fills(run_id)
    assert html.count('<tr class="order">') == len(orders) == 2
    assert html.count('<tr class="fill">') == len(fills) == 5  # 4 condor legs + 1 VIX call
    for o in orders:
        assert o.order_ref in text and o.status == "filled"
    for f in fills:
        assert f.exec_id in text and f.contract.local_symbol in text
    assert "condor_entry" in text and "hedge_ladder" in text


def test_daily_table_and_charts(replay_journal: Path) -> None:
    html = _client(replay_journal).get("/daily").text
    with Journal.open(replay_journal, read_only=True) as j:
        daily = j.daily(j.run().id)
    sessions = re.findall(r'<tr class="daily"><td>(\d{4}-\d\d-\d\d)</td>', html)
    assert sessions == [d.session.isoformat() for d in reversed(daily)]  # newest first
    assert f"{daily[-1].net_liquidation:,.2f}" in html
    assert 'id="equity-chart"' in html and 'id="drawdown-chart"' in html


def test_run_parameter_and_errors(replay_journal: Path, tmp_path: Path) -> None:
    client = _client(replay_journal)
    assert client.get("/?run=1").status_code == 200
    unknown = client.get("/orders?run=7")
    assert unknown.status_code == 404 and "no run 7" in _text(unknown.text)
    bad = client.get("/?run=abc")
    assert bad.status_code == 400 and "must be a whole number" in _text(bad.text)
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/favicon.ico").status_code == 204


def test_missing_and_corrupt_journal_pages(tmp_path: Path, replay_journal: Path) -> None:
    missing = _client(tmp_path / "gone.sqlite").get("/")
    assert missing.status_code == 503
    assert f"{tmp_path / 'gone.sqlite'}: no such journal file" in _text(missing.text)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all\n" * 200)
    # a journal whose last fifth was zeroed: it opens, then reads meet damaged pages
    zeroed = tmp_path / "zeroed.sqlite"
    data = bytearray(replay_journal.read_bytes())
    cut = len(data) * 4 // 5
    data[cut:] = bytes(len(data) - cut)
    zeroed.write_bytes(bytes(data))
    for path in (junk, zeroed):
        for page in ("/", "/decisions", "/orders", "/daily"):
            response = _client(path).get(page)
            assert response.status_code == 503, (path, page)
            assert "Traceback" not in response.text
            assert re.search(r'<p class="error" id="error">[^<\n]+</p>', response.text)
        api = _client(path).get("/api/status")
        assert api.status_code == 503 and list(api.json()) == ["error"]
        assert "\n" not in api.json()["error"]


# --------------------------------------------------------------------------- health


def test_health_of_a_running_halted_daemon(tmp_path: Path) -> None:
    """An unfinished live run whose journal lock a live process holds, with a
    reconciliation difference and a skip refused by the entry halt."""
    from datetime import date

    from daemon.clock import NEW_YORK
    from daemon.locking import JournalLock
    from strategies.domain import Action, Decision, Structure

    path = tmp_path / "live.sqlite"
    config = {"broker": {"market_data_type": 1}}
    at = datetime(2026, 11, 27, 15, 30, tzinfo=NEW_YORK)
    with Journal.open(path) as j:
        run_id = j.start_run("live", config_json=json.dumps(config), account="U7654321")
        j.record_decision(
            "r1-1", run_id, date(2026, 11, 27), at,
            Decision("reconcile", Action.HOLD, Structure.CONDOR,
                     "gateway positions differ: SPXW 261204P04800 journal -6 gateway +0", {}),
        )  # fmt: skip
        j.record_decision(
            "r1-2", run_id, date(2026, 11, 27), at,
            Decision("condor_entry", Action.SKIP, Structure.CONDOR,
                     "new risk halted: gateway positions differ", {}),
        )  # fmt: skip
    client = _client(path)
    with JournalLock.acquire(path, command="alvh run"):
        text = _text(client.get("/").text)
        assert f"state running: alvh run, pid {os.getpid()}" in text
    text = _text(client.get("/").text)
    assert "state not finished, and no live process holds the journal's lock" in text
    assert "mode live" in text and "account U7654321" in text
    assert "market data 1 (live)" in text
    assert (
        "reconciliation 2026-11-27 15:30 EST: gateway positions differ: SPXW 261204P04800"
        " journal -6 gateway +0" in text
    )
    assert "entry halt last 2026-11-27 15:30 EST: new risk halted: gateway positions differ" in text
    assert "last job (decision) 2026-11-27 15:30 EST · condor_entry skip" in text
    assert "No open structure." in text and "no daily rows yet" in text
