"""`auroral archive`: the same rows as the station's classifier, through a process pool and Dask; resumable."""
from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auroral.edge.archive.discovery import discover, name_time
from auroral.edge.archive.engine import dask_executor, local_pool
from auroral.edge.archive.relabel import _chunk_size, run_archive
from auroral.edge.archive.store import errors_path
from auroral.edge.archive.worker import INFER_BATCH, classify_chunk
from auroral.edge.classifier import Classifier
from auroral.edge.errors import UserError
from auroral.edge.tools.replay import capture_time_from_name
from auroral.edge.tools.synth import night_sequence

FRAMES, NIGHTS = 200, 4
START = datetime(2019, 1, 3, 18, 0, tzinfo=UTC)
BAD = {"KIR_20190104_020000.jpg": b"not a jpeg at all", "KIR_20190104_020100.jpg": b""}


def write_frames(root: Path) -> list[Path]:
    """Four synthetic nights of 32-px frames named like a station's (``KIR_YYYYMMDD_HHMMSS.jpg``)."""
    paths = []
    for night in range(NIGHTS):
        start = START + timedelta(days=night)
        paths += night_sequence(root / f"{start:%Y}" / f"{start:%m%d}", FRAMES // NIGHTS, 32, seed=night,
                                start=start, cadence_s=600)
    return sorted(p.resolve() for p in paths)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, list[Path], list[Path]]:
    """(root, readable frames, unreadable frames); each night folder also holds a labels.csv (not a frame)."""
    root = tmp_path_factory.mktemp("archive")
    good = write_frames(root)
    bad = []
    for name, data in BAD.items():
        (root / "bad").mkdir(exist_ok=True)
        (root / "bad" / name).write_bytes(data)
        bad.append((root / "bad" / name).resolve())
    return root, good, sorted(bad)


def station_rows(bundle, paths: list[Path]) -> pd.DataFrame:
    """What the station's Classifier says about each frame, in the archive's column layout."""
    classifier = Classifier(bundle.root)
    loaded = classifier.load(paths)
    assert loaded.loaded == list(range(len(paths))) and not loaded.failed
    predictions = classifier.predict(loaded.batch)
    rows = []
    for path, prediction in zip(paths, predictions, strict=True):
        row = {"path": str(path), "captured_at": capture_time_from_name(path.name), "time_source": "name",
               "label": prediction.label,
               "confidence": prediction.confidence, "model_sha256": classifier.model_sha256}
        row.update({f"p_{c}": p for c, p in prediction.probabilities.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def read_results(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out).sort_values("path").reset_index(drop=True)


def assert_same_rows(results: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert results["path"].is_unique
    assert list(results["path"]) == list(expected["path"])
    assert list(results["label"]) == list(expected["label"])
    assert (results["model_sha256"] == expected["model_sha256"]).all()
    assert list(results["captured_at"]) == [pd.Timestamp(t) for t in expected["captured_at"]]
    assert list(results["time_source"]) == list(expected["time_source"])
    probability_columns = ["confidence"] + [c for c in expected.columns if c.startswith("p_")]
    np.testing.assert_allclose(results[probability_columns].to_numpy(), expected[probability_columns].to_numpy(),
                               atol=2e-6)


def error_paths(out: Path) -> list[str]:
    with open(errors_path(out), newline="", encoding="utf-8") as fh:
        return sorted(row["path"] for row in csv.DictReader(fh))


def test_local_pool_gives_the_station_classifiers_rows(archive, toy_bundle, tmp_path):
    root, good, bad = archive
    out = tmp_path / "results.parquet"
    with local_pool(2) as engine:
        summary = run_archive(discover([str(root)]), toy_bundle.root, out, engine, chunk_size=32, progress=False)
    results = read_results(out)
    assert_same_rows(results, station_rows(toy_bundle, good))
    assert results["label"].nunique() >= 3  # the synthetic frames really exercise several classes
    assert (summary.classified, summary.unreadable) == (FRAMES, len(bad))
    assert error_paths(out) == [str(p) for p in bad]


def test_dask_local_cluster_gives_the_same_rows(archive, toy_bundle, tmp_path):
    root, good, bad = archive
    out = tmp_path / "results.parquet"
    with dask_executor(workers=2) as engine:
        run_archive(discover([str(root)]), toy_bundle.root, out, engine, chunk_size=32, progress=False)
    assert_same_rows(read_results(out), station_rows(toy_bundle, good))
    assert error_paths(out) == [str(p) for p in bad]


def test_resume_after_a_limited_run_adds_exactly_the_missing_rows(archive, toy_bundle, tmp_path):
    root, good, bad = archive
    out = tmp_path / "results.parquet"
    paths = discover([str(root)])
    with local_pool(1) as engine:
        first = run_archive(paths, toy_bundle.root, out, engine, chunk_size=16, limit=50, progress=False)
        assert first.classified + first.unreadable == 50
        assert len(read_results(out)) == first.classified
        second = run_archive(paths, toy_bundle.root, out, engine, chunk_size=16, progress=False)
        third = run_archive(paths, toy_bundle.root, out, engine, chunk_size=16, progress=False)
    assert second.already_done == 50
    assert second.classified + second.unreadable == len(paths) - 50
    assert (third.classified, third.unreadable, third.already_done) == (0, 0, len(paths))
    assert_same_rows(read_results(out), station_rows(toy_bundle, good))
    assert error_paths(out) == [str(p) for p in bad]


CRASHING_RUN = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import pyarrow.parquet as pq
    from auroral.edge.archive import store as archive_store
    from auroral.edge.archive.relabel import run_archive
    from auroral.edge.archive.discovery import discover
    from auroral.edge.archive.engine import local_pool

    write_table = pq.write_table

    def die_while_writing_the_third_part(table, where, *args, **kwargs):
        if len(list(Path(where).parent.glob("part-*.parquet"))) == 2:
            Path(where).write_bytes(b"PAR1 half a file")
            os.kill(os.getpid(), signal.SIGKILL)
        return write_table(table, where, *args, **kwargs)

    if __name__ == "__main__":
        archive_store.pq.write_table = die_while_writing_the_third_part
        root, bundle, out = sys.argv[1:]
        with local_pool(1) as engine:
            run_archive(discover([root]), Path(bundle), Path(out), engine, chunk_size=20, progress=False)
""")


def test_resume_after_a_killed_run_adds_exactly_the_missing_rows(archive, toy_bundle, tmp_path):
    root, good, bad = archive
    script = tmp_path / "crashing_run.py"
    script.write_text(CRASHING_RUN)
    out = tmp_path / "results.parquet"
    log = tmp_path / "crashed.log"
    with open(log, "w") as sink:
        crashed = subprocess.Popen([sys.executable, str(script), str(root), str(toy_bundle.root), str(out)],
                                   stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = crashed.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):  # its pool worker, orphaned by the crash
                os.killpg(crashed.pid, signal.SIGKILL)
    assert returncode == -signal.SIGKILL, log.read_text()
    assert len(list(out.glob("part-*.parquet"))) == 2
    assert list(out.glob(".part-*.tmp"))  # the half-written part is there, under its temporary name
    before = read_results(out)
    assert 0 < len(before) < FRAMES
    with local_pool(1) as engine:
        resumed = run_archive(discover([str(root)]), toy_bundle.root, out, engine, chunk_size=20, progress=False)
    assert resumed.classified == FRAMES - len(before)
    assert resumed.already_done + resumed.classified + resumed.unreadable == FRAMES + len(bad)
    assert not list(out.glob(".part-*.tmp"))
    assert_same_rows(read_results(out), station_rows(toy_bundle, good))
    assert error_paths(out) == [str(p) for p in bad]


def test_resuming_with_another_model_is_refused(archive, toy_bundle, tmp_path):
    root, good, _ = archive
    out = tmp_path / "results.parquet"
    with local_pool(1) as engine:
        run_archive(good[:10], toy_bundle.root, out, engine, progress=False)
    table = pd.read_parquet(out)
    table["model_sha256"] = "0" * 64  # as if an older model had written these rows
    for part in out.glob("part-*.parquet"):
        part.unlink()
    table.to_parquet(out / "part-000000.parquet")
    with local_pool(1) as engine, pytest.raises(UserError, match="another model"):
        run_archive(good, toy_bundle.root, out, engine, progress=False)


def test_discovery_patterns_and_date_ranges(archive):
    root, good, bad = archive
    everything = discover([str(root)])
    assert everything == sorted(good + bad)  # labels.csv is not a frame
    assert discover([str(root)], patterns=("KIR_20190103_*",)) == [p for p in good if "20190103_" in p.name]
    since, until = datetime(2019, 1, 4, 0, 0, tzinfo=UTC), datetime(2019, 1, 4, 3, 0, tzinfo=UTC)
    in_range = discover([str(root)], since=since, until=until)
    assert in_range == sorted(p for p in good + bad if since <= capture_time_from_name(p.name) < until)
    assert 0 < len(in_range) < len(everything)
    assert discover([str(root / "2019" / "01*")]) == good  # a glob as the source
    (root / "undated.jpg").write_bytes(b"")
    stamp = datetime(2019, 1, 4, 1, 0, tzinfo=UTC).timestamp()
    os.utime(root / "undated.jpg", (stamp, stamp))
    try:  # no time in the header or the name: placed by its mtime, as the station does
        assert (root / "undated.jpg").resolve() in discover([str(root)], since=since, until=until)
        assert (root / "undated.jpg").resolve() not in discover([str(root)], until=since)
    finally:
        (root / "undated.jpg").unlink()


def test_missing_source_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        discover([str(tmp_path / "nowhere")])
    with pytest.raises(UserError, match="matches no file"):
        discover([str(tmp_path / "nowhere" / "*.jpg")])


def test_existing_dask_scheduler_gives_the_same_rows(archive, toy_bundle, tmp_path):
    from distributed import LocalCluster

    root, good, _ = archive
    out = tmp_path / "results.parquet"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with dask_executor(address=cluster.scheduler_address) as engine:
            assert engine.slots() == 2
            run_archive(discover([str(root)]), toy_bundle.root, out, engine, chunk_size=32, progress=False)
    assert_same_rows(read_results(out), station_rows(toy_bundle, good))


def test_a_chunk_larger_than_an_inference_batch_keeps_every_row(archive, toy_bundle):
    root, good, bad = archive
    paths = good[:40] + bad[:1] + good[40:80]  # more than two micro-batches, a bad frame inside one
    assert len(paths) > 2 * INFER_BATCH
    result = classify_chunk(str(toy_bundle.root), "fp32", [str(p) for p in paths], name_time())
    assert [path for path, _ in result.errors] == [str(bad[0])]
    assert_same_rows(pd.DataFrame(result.rows), station_rows(toy_bundle, good[:80]))


def test_a_small_run_is_cut_into_chunks_that_keep_every_worker_busy_to_the_end():
    assert _chunk_size(1_000_000, 2, 512) == 512  # a large run: the chunk size asked for
    assert _chunk_size(1024, 2, 512) == 32  # 32 chunks: the last one alone costs a worker one batch of idling
    assert _chunk_size(4096, 2, 512) == 128
    assert _chunk_size(64, 2, 512) == 32  # never below one inference batch while every worker has work ...
    assert _chunk_size(40, 2, 512) == 20  # ... and smaller where a batch each would leave a worker without
    assert _chunk_size(3, 4, 512) == 1
    assert _chunk_size(1024, 2, 16) == 16  # --chunk-size still caps it
