"""The bench's durable-commit stage records real frames through the station's own ledger, on a fresh state
folder each run; no timed assertion (the figure is checked for shape only)."""
import time

from auroral.edge.station.journal import Journal
from auroral.edge.station.statedb import StateDB
from auroral.export.bench.commit import durable_commit


def _done(folder) -> int:
    db = StateDB(folder / "state")
    try:
        return Journal(db).count("done")
    finally:
        db.close()


def test_each_timed_call_commits_one_frame_to_the_journal(tmp_path, toy_bundle):
    stats = durable_commit(toy_bundle, tmp_path / "commit", repeats=5, warmup=2)
    assert stats["samples"] == 5 and 0 < stats["median_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
    assert _done(tmp_path / "commit") == 7  # warm-up frames included: each call is a new frame


def test_at_the_steady_cadence_each_commit_follows_the_idle_gap(tmp_path, toy_bundle):
    started = time.monotonic()
    stats = durable_commit(toy_bundle, tmp_path / "commit", repeats=3, gap_s=0.2, warmup=1)
    assert time.monotonic() - started >= 3 * 0.2  # a sleep never ends early: the gaps were waited
    assert stats["gap_s"] == 0.2 and stats["samples"] == 3
    assert _done(tmp_path / "commit") == 4


def test_a_second_run_starts_from_an_empty_state_folder(tmp_path, toy_bundle):
    durable_commit(toy_bundle, tmp_path / "commit", repeats=4, warmup=1)
    durable_commit(toy_bundle, tmp_path / "commit", repeats=3, warmup=1)
    assert _done(tmp_path / "commit") == 4
