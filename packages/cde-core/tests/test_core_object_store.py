"""The lake on an S3-compatible server (moto on loopback) through pyarrow's real S3 client."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.atomic import atomic_path, atomic_write_bytes, remove_stale_temps
from cde_core.config import load_config
from cde_core.errors import ConfigError, DataError
from cde_core.lake import Lake, Provenance
from cde_core.lake_location import arrow_target, lake_location, local_work_dir
from cde_core.object_store import ObjectPath
from cde_core.testing.ports import free_port


def _table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"trade_id": pa.array(range(start, start + n), pa.int64()),
                     "price": pa.array([100.0 + i for i in range(n)], pa.float64())})


def test_object_path_behaves_like_a_path_on_the_store(s3_lake_url: str) -> None:
    root = lake_location(s3_lake_url)
    assert isinstance(root, ObjectPath) and str(root) == s3_lake_url
    assert not root.exists()
    (root / "a" / "x=1" / "f.txt").write_text("one")
    (root / "a" / "x=2" / "f.txt").write_bytes(b"two!")
    (root / "a" / "x=2" / ".f.txt.tmp-1-abc").write_bytes(b"tmp")
    assert root.exists() and root.is_dir() and (root / "a").is_dir()
    assert (root / "a" / "x=1" / "f.txt").is_file() and not (root / "a" / "x=1").is_file()
    assert [p.name for p in (root / "a").glob("x=*")] == ["x=1", "x=2"]
    assert [str(p.relative_to(root)) for p in root.glob("*/*/f.txt")] == ["a/x=1/f.txt", "a/x=2/f.txt"]
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*.txt")) == ["a/x=1/f.txt", "a/x=2/f.txt"]
    assert [p.name for p in root.rglob(".*.tmp-*")] == [".f.txt.tmp-1-abc"]
    assert (root / "a" / "x=2" / "f.txt").read_text() == "two!"
    assert (root / "a" / "x=2" / "f.txt").stat().st_size == 4
    with (root / "a" / "x=1" / "f.txt").open("rb") as fh:
        assert fh.read() == b"one"
    path = root / "a" / "x=1" / "f.txt"
    assert (path.name, path.stem, path.suffix, path.parent.name) == ("f.txt", "f", ".txt", "x=1")
    assert root in path.parents and path.with_name("g.txt").name == "g.txt"
    assert pickle.loads(pickle.dumps(path)) == path
    path.unlink()
    assert not path.exists()
    path.unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        path.stat()
    with pytest.raises(ValueError, match="plain relative key"):
        _ = root / "../escape"


@pytest.mark.parametrize("url, message", [("gs://bucket/lake", "not supported"), ("s3://", "names no bucket"),
                                          ("s3://bucket/a/../b", "'..'"),
                                          ("s3://lake bucket/p", "'lake bucket' is not a valid bucket name"),
                                          ("s3://lake!bucket/p", "'lake!bucket' is not a valid bucket name"),
                                          ("s3://ab/p", "'ab' is not a valid bucket name"),
                                          ("s3://bucket/lake /p", "space at the start or end"),
                                          ("s3://bucket/lake?endpoint_override=localhost:9000", "query or fragment"),
                                          (" s3://bucket/lake", "space before or after the URL"),
                                          ("s3://bucket/lake\n", "space before or after the URL"),
                                          ("s3:/bucket/lake", "'/' missing — write s3://bucket/lake"),
                                          ("S3:bucket/lake", "'/' missing — write S3://bucket/lake")])
def test_bad_object_urls_are_refused_by_name(url: str, message: str) -> None:
    # each would otherwise be a silently different place: a local folder "s3:", a prefix "lake "
    with pytest.raises(ConfigError, match=message):
        lake_location(url)


@pytest.mark.parametrize("url, key", [("S3://bucket/lake", "bucket/lake"), ("s3://bucket/lake/", "bucket/lake"),
                                      ("s3://bucket//lake", "bucket/lake"), ("s3://bucket", "bucket"),
                                      ("s3://bucket/my lake", "bucket/my lake"),
                                      # a bucket made before S3's 2018 naming rule, still in use
                                      ("s3://Legacy_Bucket/lake", "Legacy_Bucket/lake")])
def test_equivalent_spellings_of_an_object_url_name_one_prefix(url: str, key: str) -> None:
    root = lake_location(url)
    assert isinstance(root, ObjectPath) and root.key == key


def test_a_colon_in_a_local_folder_name_is_still_a_folder() -> None:
    assert lake_location("C:/lake") == Path("C:/lake") and lake_location("runs:2024") == Path("runs:2024")


def test_a_misspelt_bucket_or_prefix_names_the_nearest_present(s3_lake_url: str) -> None:
    from cde_core.lake_names import absent_lake

    root = lake_location(s3_lake_url)
    assert isinstance(root, ObjectPath)
    (root / "trades" / "x.txt").write_text("x")
    assert absent_lake(root) is None
    misspelt_prefix = absent_lake(lake_location(s3_lake_url[:-1]))  # s3://<bucket>/lak
    assert misspelt_prefix is not None and f"did you mean {s3_lake_url}?" in str(misspelt_prefix)
    misspelt_bucket = absent_lake(lake_location(s3_lake_url.replace(root.bucket, root.bucket[:-1] + "z")))
    assert misspelt_bucket is not None
    assert f"the bucket '{root.bucket[:-1]}z'" in str(misspelt_bucket) and root.bucket in str(misspelt_bucket)


def test_a_read_while_the_store_is_down_is_the_stores_error_never_a_bad_file(s3_lake_url: str,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from cde_core.errors import RemoteError
    from cde_core.object_store import store_outage

    lake = Lake(s3_lake_url)
    good = lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 1))
    lake.write_partition(good, _table(5), Provenance(source="test", rows=5))
    garbage = lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 2))
    (garbage / "part-0.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="unreadable partition file") as bad_file:
        Lake.read_provenance(garbage)
    assert store_outage(bad_file.value) is None  # a corrupt object stays a data error naming the file

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # the store goes away
    with pytest.raises(RemoteError, match="cannot reach the object store"):
        Lake.read_provenance(good)  # not "unreadable partition file — delete it"
    with pytest.raises(OSError) as down:
        lake_location(str(good / "part-0.parquet")).read_bytes()
    wrapped = DataError(f"unreadable trades partition: {down.value}", where=str(good), hint="re-download that day")
    outage = store_outage(wrapped)  # what a stage that wraps the client's OSError raises
    assert isinstance(outage, RemoteError) and "cannot reach the object store" in str(outage)


def test_config_takes_an_s3_data_root_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDE_DATA_ROOT", "s3://research-bucket/lake/v1/")
    root = load_config().config.data_root
    assert isinstance(root, ObjectPath) and str(root) == "s3://research-bucket/lake/v1"
    monkeypatch.setenv("CDE_DATA_ROOT", "gs://research-bucket/lake")
    with pytest.raises(ConfigError, match="CDE_DATA_ROOT"):
        load_config()


def test_atomic_write_appears_whole_and_a_failed_one_leaves_nothing(s3_lake_url: str) -> None:
    target = lake_location(s3_lake_url) / "t" / "part-0.parquet"
    with atomic_path(target) as tmp:
        pq.write_table(_table(10), tmp)
    where, fs = arrow_target(target)
    assert pq.read_table(where, filesystem=fs).num_rows == 10
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        pq.write_table(_table(3), tmp)
        raise RuntimeError("writer died")
    assert pq.read_table(where, filesystem=fs).num_rows == 10  # earlier good data intact
    assert [p.name for p in target.parent.iterdir()] == ["part-0.parquet"]  # no temporary left
    atomic_write_bytes(target.with_name("note.json"), b"{}")
    assert target.with_name("note.json").read_bytes() == b"{}"


def test_lake_partitions_provenance_and_datasets_on_the_store(s3_lake_url: str) -> None:
    lake = Lake(s3_lake_url)
    assert lake.is_object_store and local_work_dir(lake.root).is_relative_to(Path(os.environ["CDE_CACHE_DIR"]))
    days = [date(2024, 1, d) for d in (1, 2, 3)]
    for i, day in enumerate(days):
        lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", day), _table(5, 5 * i),
                             Provenance(source=f"test:{day}", rows=5))
    (lake.trades_dir("binance", "spot", "BTCUSDT", days[1]) / ".part-0.parquet.tmp-9-dead").write_bytes(b"half")
    files = lake.trades_files("binance", "spot", "BTCUSDT", start=days[1])
    assert [f.parent.name for f in files] == ["date=2024-01-02", "date=2024-01-03"]
    provenance = Lake.read_provenance(files[0])
    assert provenance is not None and provenance.source == "test:2024-01-02"
    table = lake.dataset("trades").to_table()
    assert sorted(table.column("trade_id").to_pylist()) == list(range(15))  # the hidden temp is not data
    assert lake.symbols("binance", "spot") == ["BTCUSDT"]
    assert lake.inside(files[0]) == files[0]
    with pytest.raises(DataError):
        lake.trades_dir("binance", "spot", "../x", days[0])


def test_stale_temporaries_go_only_once_old(s3_lake_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = lake_location(s3_lake_url) / "trades"
    (folder / ".part-0.parquet.tmp-1-aaaa").write_bytes(b"x")
    assert remove_stale_temps(folder) == 0  # another machine may be mid-commit
    monkeypatch.setattr("cde_core.atomic.STALE_OBJECT_AGE_S", -1.0)
    assert remove_stale_temps(folder) == 1 and list(folder.walk_files()) == []


def test_a_writer_killed_mid_upload_leaves_nothing_a_reader_takes_for_data(s3_lake_url: str, tmp_path: Path) -> None:
    """SIGKILL a process while it uploads a large partition: the final key never appears."""
    script = textwrap.dedent(f"""
        import os, sys, numpy as np, pyarrow as pa
        from cde_core.lake import Lake, Provenance
        import cde_core.object_store as store
        lake = Lake({s3_lake_url!r})
        original = store.ObjectPath.upload_from
        def announce(self, local):
            print("uploading", flush=True)
            original(self, local)
            print("uploaded", flush=True)
            import time; time.sleep(60)   # killed here: staged, not yet committed
        store.ObjectPath.upload_from = announce
        rng = np.random.default_rng(0)
        table = pa.table({{"x": rng.random(3_000_000)}})
        lake.write_partition(lake.hive_dir("big", ("k", "v")), table, Provenance(source="t", rows=table.num_rows))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "uploading"
    assert proc.stdout.readline().strip() == "uploaded"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lake = Lake(s3_lake_url)
    folder = lake.hive_dir("big", ("k", "v"))
    names = [p.name for p in folder.iterdir()]
    assert names and all(n.startswith(".") for n in names)  # only the hidden staged key
    assert not (folder / "part-0.parquet").exists()
    assert lake.dataset("big").files == []


def test_store_failures_become_one_line_errors_naming_the_cause(s3_lake_url: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from cde_core.object_store import store_error

    bucket_path = lake_location(s3_lake_url.replace("s3://", "s3://no-such-bucket-")) / "x.txt"
    with pytest.raises(OSError) as missing:
        bucket_path.write_bytes(b"x")
    error = store_error(missing.value)
    assert error is not None and "does not exist" in str(error) and "no-such-bucket-" in str(error)
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    with pytest.raises(OSError) as unreachable:
        (lake_location(s3_lake_url) / "y.txt").read_bytes()
    error = store_error(unreachable.value)
    assert error is not None and "cannot reach the object store" in str(error) and endpoint in str(error)
    assert store_error(FileNotFoundError(2, "No such file", "/tmp/x")) is None  # a local path error stays one


def test_cli_names_an_unreachable_store_in_one_line(s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDE_", "AWS_"))}
    env.update({**s3_server.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
                "CDE_DATA_ROOT": "s3://some-bucket/lake", "CDE_CACHE_DIR": str(tmp_path / "cache")})
    result = subprocess.run([sys.executable, "-m", "cde_server.cli.main", "lake", "ls"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the object store" in lines[0] and env["AWS_ENDPOINT_URL"] in lines[0]
    assert "Traceback" not in result.stderr


def test_a_dead_writers_local_upload_scratch_is_swept_a_live_ones_kept(s3_lake_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    import cde_core.atomic as atomic

    monkeypatch.setattr(atomic.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(atomic, "_swept_uploads", False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    dead_folder = tmp_path / f"cde-upload-{int(dead.stdout)}-abc"
    live_folder = tmp_path / f"cde-upload-{os.getppid()}-def"
    for folder in (dead_folder, live_folder):
        folder.mkdir()
        (folder / "part-0.parquet").write_bytes(b"half")
    atomic_write_bytes(lake_location(s3_lake_url) / "a.txt", b"x")  # a PUT: no scratch, no sweep
    assert dead_folder.exists()
    with atomic_path(lake_location(s3_lake_url) / "b.parquet") as tmp:
        pq.write_table(_table(2), tmp)
    assert not dead_folder.exists() and live_folder.exists()
    assert not list(tmp_path.glob(f"cde-upload-{os.getpid()}-*"))  # this write's own scratch is gone
