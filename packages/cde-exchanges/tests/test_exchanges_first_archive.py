"""Days before a symbol's first archive are not probed one by one (issue 19, item 10).

Binance: the archive's S3 listing (ListObjects v1, which the local archive server implements) says
which files exist. OKX (no listing): a galloping search then bisection finds the first archived day
in O(log n) probes. Both through the real ``cde download`` against the local archive server; the
oracle is the same download probing every file (no listing / ``--recheck-missing``), whose lake and
day outcomes must be identical.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loguru import logger

from cde_core.config import CdeConfig, DownloadConfig, ExecutorConfig
from cde_exchanges.fakes.archive_server import S3_NAMESPACE, ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.fetching.archive_listing import ListingUnavailable, parse_list_bucket_result
from cde_exchanges.fetching.first_archive import MAX_GAP, first_existing
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.formats.okx import OkxArchive

FIRST = date(2024, 3, 5)
GAP = date(2024, 3, 12)  # a day without a file after the first one: still asked for, still missing
LAST = date(2024, 3, 20)
ARCHIVED = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1) if FIRST + timedelta(days=i) != GAP]
START, END = date(2021, 6, 1), date(2024, 3, 25)  # ~1,000 days before the first archive


def publish(root: Path, adapter: ArchiveExchange, market: str, kind: str, symbol: str) -> None:
    first_id = 1
    for day in ARCHIVED:
        write_archive_file(root, adapter.daily_file(market, kind, symbol, day),
                           random_trades(day, 20, first_id=first_id), ArchiveVariant())
        first_id += 20


@pytest.fixture
def paged_server(archive_root: Path) -> Iterator[ArchiveServer]:
    with ArchiveServer(archive_root, list_page_size=4) as srv:  # small pages: the listing is paginated
        yield srv


def config_for(root: Path, server: ArchiveServer) -> CdeConfig:
    download = DownloadConfig(binance_archive_url=server.url, okx_archive_url=server.url, concurrency=2,
                              timeout_s=5.0, retries=1, backoff_s=0.01)
    return CdeConfig(data_root=root, download=download,
                     executor=ExecutorConfig(name="local", kind="thread", max_workers=1))


def download(config: CdeConfig, monkeypatch: pytest.MonkeyPatch, exchange: str, market: str, symbol: str,
             *extra: str) -> dict[str, Any]:
    """The real ``cde download --json`` on ``config``'s lake; its report."""
    import typer
    from typer.testing import CliRunner

    from cde_exchanges.cli import register

    monkeypatch.setattr("cde_core.config.get_config", lambda: config)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["download", "--exchange", exchange, "--market", market, "--symbols", symbol,
                                      "--start", START.isoformat(), "--end", END.isoformat(), "--json", *extra])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout)["report"])


def lake_contents(root: Path) -> dict[str, Any]:
    """Every partition under ``root`` (path → its rows) — the oracle compares whole lakes."""
    return {str(p.relative_to(root)): pq.read_table(p).to_pylist() for p in sorted(root.glob("*/**/part-0.parquet"))}


def day_outcomes(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((d["symbol"], d["date"], d["status"]) for d in report["days"])


def markers(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".cache" / "missing").rglob("*.json"))


def download_warning_lines(config: CdeConfig, monkeypatch: pytest.MonkeyPatch,
                           *args: str) -> tuple[dict[str, Any], list[str]]:
    """``download(...)``'s report and the warnings it logged."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        return download(config, monkeypatch, *args), lines
    finally:
        logger.remove(sink)


# -- the fake S3 listing ---------------------------------------------------------------------------------

def test_the_fake_bucket_lists_like_s3(archive_root: Path, paged_server: ArchiveServer) -> None:
    """ListObjects v1: namespaced ListBucketResult, Contents with Key/Size/ETag, pages of max-keys with
    IsTruncated and NextMarker, CommonPrefixes for the folders below a prefix; keys as on disk."""
    publish(archive_root, BinanceArchive(), "spot", "trades", "BTCUSDT")
    prefix = "data/spot/daily/trades/BTCUSDT/"
    on_disk = sorted(p.relative_to(archive_root).as_posix() for p in (archive_root / prefix).iterdir())
    keys, marker, pages = [], "", 0
    while True:
        answer = httpx.get(paged_server.url, params={"delimiter": "/", "prefix": prefix, "marker": marker})
        root = ET.fromstring(answer.content)
        assert root.tag == f"{{{S3_NAMESPACE}}}ListBucketResult" and answer.status_code == 200
        page = [c.findtext(f"{{{S3_NAMESPACE}}}Key") for c in root.iter(f"{{{S3_NAMESPACE}}}Contents")]
        sizes = [int(c.findtext(f"{{{S3_NAMESPACE}}}Size") or -1) for c in root.iter(f"{{{S3_NAMESPACE}}}Contents")]
        assert sizes == [(archive_root / str(k)).stat().st_size for k in page]
        assert len(page) <= 4
        keys += page
        pages += 1
        if root.findtext(f"{{{S3_NAMESPACE}}}IsTruncated") == "false":
            break
        marker = root.findtext(f"{{{S3_NAMESPACE}}}NextMarker") or ""
        assert marker == page[-1]
    assert keys == on_disk and pages == math.ceil(len(on_disk) / 4)  # 15 zips + 15 .CHECKSUM
    folders = ET.fromstring(httpx.get(paged_server.url, params={"delimiter": "/", "prefix": "data/spot/"}).content)
    assert [p.findtext(f"{{{S3_NAMESPACE}}}Prefix") for p in folders.iter(f"{{{S3_NAMESPACE}}}CommonPrefixes")] \
        == ["data/spot/daily/"]
    assert list(folders.iter(f"{{{S3_NAMESPACE}}}Contents")) == []


@pytest.mark.parametrize("body", [b"<html>no</html>", b"not xml at all", b"",
                                  f'<ListBucketResult xmlns="{S3_NAMESPACE}"><Prefix>other/</Prefix>'
                                  "<IsTruncated>false</IsTruncated></ListBucketResult>".encode(),
                                  f'<ListBucketResult xmlns="{S3_NAMESPACE}"><Prefix>p/</Prefix>'
                                  "</ListBucketResult>".encode()])
def test_a_body_that_is_not_a_listing_of_the_prefix_is_refused(body: bytes) -> None:
    with pytest.raises(ListingUnavailable):
        parse_list_bucket_result(body, "p/")


# -- the search ------------------------------------------------------------------------------------------

def bound(n: int) -> int:
    """Probes the search may make among ``n`` files: gallop, bisection, the MAX_GAP files checked before
    the start, the MAX_GAP last files."""
    return 2 * math.ceil(math.log2(n + 1)) + 2 + 2 * MAX_GAP


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 20_000).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_first_existing_finds_the_start_in_logarithmic_probes(case: tuple[int, int]) -> None:
    n, first = case
    probes: list[int] = []

    def exists(i: int) -> bool:
        probes.append(i)
        return i >= first

    assert first_existing(range(n), exists) == (first if first < n else None)  # None: no file at all
    assert len(probes) <= bound(n) and len(set(probes)) == len(probes), (n, first, len(probes))


@settings(max_examples=500, deadline=None)
@given(st.integers(200, 5_000).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, n - 1), st.integers(0, n - 1),
    st.lists(st.tuples(st.integers(0, n // MAX_GAP), st.integers(1, MAX_GAP - 2)), max_size=6,
             unique_by=lambda gap: gap[0]))))
def test_gaps_and_an_early_end_never_give_a_wrong_start(
        case: tuple[int, int, int, list[tuple[int, int]]]) -> None:
    """An archive [first, last] inside the range, with gaps (runs of under MAX_GAP missing files, one per
    slot of MAX_GAP files so they never join): the answer is the exact start or None (then every file is
    asked for), never another day; and exact whenever the archive reaches the range's last MAX_GAP files
    (the oracle: the first index that exists)."""
    n, a, b, gaps = case
    first, last = min(a, b), max(a, b)
    missing = {first + 1 + slot * MAX_GAP + k for slot, length in gaps for k in range(length)}
    there = [first <= i <= last and (i not in missing or i == last) for i in range(n)]
    probes: list[int] = []

    def exists(i: int) -> bool:
        probes.append(i)
        return there[i]

    answer = first_existing(range(n), exists)
    assert answer in (first, None)
    if last >= n - MAX_GAP:
        assert answer == first
    assert len(set(probes)) == len(probes) and len(probes) <= bound(n) + len(gaps) * bound(MAX_GAP)


def test_an_inconclusive_probe_ends_the_search() -> None:
    assert first_existing(range(100), lambda i: None if i == 3 else i >= 50) is None


# -- through cde download --------------------------------------------------------------------------------

def test_binance_lists_the_folder_instead_of_probing_each_day(
        archive_root: Path, paged_server: ArchiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(archive_root, BinanceArchive(), "spot", "trades", "BTCUSDT")
    paged_server.add_fault(Fault("404"), "[?]prefix=*")  # the oracle: no listing, every file asked for
    oracle = download(config_for(tmp_path / "oracle", paged_server), monkeypatch, "binance", "spot", "BTCUSDT")
    assert len(markers(tmp_path / "oracle")) > 900  # what the issue saw: one marker per absent day
    paged_server.clear_faults()
    before = len(paged_server.requests())
    report, lines = download_warning_lines(config_for(tmp_path / "lake", paged_server), monkeypatch, "binance", "spot",
                                           "BTCUSDT")
    asked = paged_server.requests()[before:]
    listings = [r for r in asked if r.startswith("?")]
    files = sorted(r for r in asked if not r.startswith("?"))
    # the objects asked for are exactly the archived days' zips and checksums: no absent day, no month
    assert files == sorted(f"{BinanceArchive().daily_file('spot', 'trades', 'BTCUSDT', d).rel_path}{ext}"
                           for d in ARCHIVED for ext in ("", ".CHECKSUM"))
    # one listing of the monthly folder (empty), the daily folder's 30 keys in pages of 4
    assert len(listings) == 1 + math.ceil(2 * len(ARCHIVED) / 4) and lines == []
    assert markers(tmp_path / "lake") == []
    assert day_outcomes(report) == day_outcomes(oracle)
    assert sum(d["status"] == "written" for d in report["days"]) == len(ARCHIVED)
    assert lake_contents(tmp_path / "lake") == lake_contents(tmp_path / "oracle")


@pytest.mark.parametrize("fault", ["500", "garbage"])
def test_an_unreadable_listing_falls_back_to_asking_each_file(
        fault: str, archive_root: Path, paged_server: ArchiveServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    publish(archive_root, BinanceArchive(), "spot", "trades", "BTCUSDT")
    oracle = download(config_for(tmp_path / "oracle", paged_server), monkeypatch, "binance", "spot", "BTCUSDT")
    paged_server.add_fault(Fault(fault), "[?]prefix=*")  # type: ignore[arg-type]
    before = len(paged_server.requests())
    report, lines = download_warning_lines(config_for(tmp_path / "lake", paged_server), monkeypatch, "binance", "spot",
                                           "BTCUSDT")
    asked = paged_server.requests()[before:]
    assert len([r for r in asked if r.startswith("?")]) == 1  # switched off after the first failure
    assert len(lines) == 1 and "listing" in lines[0] and "asking for each file" in lines[0], lines
    assert len([r for r in asked if r.endswith(".zip")]) > 900  # probed day by day, as without a listing
    assert day_outcomes(report) == day_outcomes(oracle)
    assert lake_contents(tmp_path / "lake") == lake_contents(tmp_path / "oracle")


def okx_daily(day: date) -> str:
    return OkxArchive().daily_file("spot", "aggTrades", "BTC-USDT", day).rel_path


def test_okx_finds_the_first_archived_day_in_log_requests(
        archive_root: Path, server: ArchiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """aggTrades are daily only and OKX has no listing: the days before the first archive cost
    O(log n) requests and leave no marker; from the first archive on every day is asked for."""
    publish(archive_root, OkxArchive(), "spot", "aggTrades", "BTC-USDT")
    oracle = download(config_for(tmp_path / "oracle", server), monkeypatch, "okx", "spot", "BTC-USDT",
                      "--kind", "aggTrades", "--recheck-missing")
    before = len(server.requests())
    report = download(config_for(tmp_path / "lake", server), monkeypatch, "okx", "spot", "BTC-USDT",
                      "--kind", "aggTrades")
    asked = server.requests()[before:]
    early = {okx_daily(START + timedelta(days=i)) for i in range((FIRST - START).days)}
    span = (END - START).days + 2  # the request's days and the spill day after the last
    assert 0 < len([r for r in asked if r in early]) <= bound(span)
    later = {okx_daily(FIRST + timedelta(days=i)) for i in range((END - FIRST).days + 2)}
    assert later <= set(asked)  # every day from the first archive on, the gap and the last days too
    assert not [m for m in markers(tmp_path / "lake") if any(m == Path(e).name + ".json" for e in early)]
    assert markers(tmp_path / "lake") == sorted(Path(okx_daily(d)).name + ".json" for d in
                                                [GAP, *(LAST + timedelta(days=i) for i in range(1, 7))])
    assert day_outcomes(report) == day_outcomes(oracle)
    assert sum(d["status"] == "written" for d in report["days"]) > 0
    assert lake_contents(tmp_path / "lake") == lake_contents(tmp_path / "oracle")


def test_okx_search_with_a_failing_probe_asks_for_every_day(
        archive_root: Path, server: ArchiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(archive_root, OkxArchive(), "spot", "aggTrades", "BTC-USDT")
    oracle = download(config_for(tmp_path / "oracle", server), monkeypatch, "okx", "spot", "BTC-USDT",
                      "--kind", "aggTrades", "--recheck-missing")
    server.add_fault(Fault("500", times=1), f"*{Path(okx_daily(START)).name}")  # the search's first probe
    before = len(server.requests())
    report, lines = download_warning_lines(config_for(tmp_path / "lake", server), monkeypatch, "okx", "spot",
                                           "BTC-USDT", "--kind", "aggTrades")
    asked = server.requests()[before:]
    assert len(lines) == 1 and "could not find where" in lines[0], lines
    assert len([r for r in asked if r.endswith(".zip")]) > 900  # every day asked for
    assert day_outcomes(report) == day_outcomes(oracle)
    assert lake_contents(tmp_path / "lake") == lake_contents(tmp_path / "oracle")


@pytest.mark.parametrize(("symbol", "near"), [("BTCUSTD", "did you mean BTCUSDT?"), ("btcusdt", "BTCUSDT"),
                                              ("XRPUSDT", "symbols there: BTCUSDT, ETHUSDT")])
def test_a_symbol_the_archive_lists_nowhere_fails_naming_the_nearest(
        symbol: str, near: str, archive_root: Path, paged_server: ArchiveServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: a misspelt symbol gave a run of "missing" days and exit status 0. The archive's listing of the
    kind's folder (its sub-folders are the symbols) shows the symbol is none of its, nowhere."""
    publish(archive_root, BinanceArchive(), "spot", "trades", "BTCUSDT")
    write_archive_file(archive_root, BinanceArchive().monthly_file("spot", "trades", "ETHUSDT", 2024, 2),
                       random_trades(date(2024, 2, 1), 20), ArchiveVariant())  # a symbol with monthly files only
    import typer
    from typer.testing import CliRunner

    from cde_exchanges.cli import register

    config = config_for(tmp_path / "lake", paged_server)
    monkeypatch.setattr("cde_core.config.get_config", lambda: config)
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["download", "--exchange", "binance", "--market", "spot", "--symbols", symbol,
                                      "--start", "2024-03-01", "--end", "2024-03-10"])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and f"no spot trades files of {symbol} at all" in result.stderr
    assert near in result.stderr and "days: 0 downloaded, 0 skipped, 0 missing, 10 failed" in result.output
    # a symbol that is listed (here only in the monthly folder) is no typo: its absent days are missing
    result = CliRunner().invoke(app, ["download", "--exchange", "binance", "--market", "spot", "--symbols", "ETHUSDT",
                                      "--start", "2024-03-01", "--end", "2024-03-10"])
    assert result.exit_code == 0 and "10 missing" in result.output, result.output
    paged_server.add_fault(Fault("500"), "[?]prefix=*")  # no listing: nothing to tell a typo by
    result = CliRunner().invoke(app, ["download", "--exchange", "binance", "--market", "spot", "--symbols", symbol,
                                      "--start", "2024-03-01", "--end", "2024-03-10", "--recheck-missing"])
    assert result.exit_code == 0 and "10 missing" in result.output, result.output
