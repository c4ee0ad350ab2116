"""Which frame next: live before backlog, newest live first, each path once, retries wait (their latest due
time) unless rewritten."""
from __future__ import annotations

from pathlib import Path

from auroral.edge.station.metrics import StationMetrics
from auroral.edge.station.scheduler import Scheduler
from auroral.edge.station.watcher import is_candidate


def names(items) -> list[str]:
    return [i.path.name for i in items]


def test_live_frames_go_first_newest_first_then_backlog_oldest_first():
    scheduler = Scheduler(known=lambda path: False)
    for name in ("b1", "b2", "b3"):
        scheduler.offer(Path(name), live=False)
    for name in ("l1", "l2"):
        scheduler.offer(Path(name), live=True)
    assert names(scheduler.take(10, timeout=0)) == ["l2", "l1", "b1", "b2", "b3"]


def test_each_path_is_held_once_and_journal_known_paths_are_skipped():
    journalled = {"done.jpg"}
    scheduler = Scheduler(known=lambda path: path in journalled)
    for live in (False, True, True):
        scheduler.offer(Path("a.jpg"), live)
    scheduler.offer(Path("done.jpg"), live=True)
    (item,) = scheduler.take(10, timeout=0)
    scheduler.offer(Path("a.jpg"), live=True)  # an event while it is being decoded
    assert scheduler.take(10, timeout=0) == [] and scheduler.depth() == 1
    journalled.add("a.jpg")  # classified: the journal holds the file's version
    scheduler.finish(item)
    assert scheduler.depth() == 0


def test_a_retry_waits_but_a_new_close_event_makes_it_due_now():
    scheduler = Scheduler(known=lambda path: False)
    scheduler.offer(Path("slow.jpg"), live=True)
    (item,) = scheduler.take(1, timeout=0)
    scheduler.retry(item, delay_s=3600)
    assert scheduler.take(1, timeout=0) == []
    scheduler.offer(Path("slow.jpg"), live=True)  # the camera finished writing it
    assert scheduler.take(1, timeout=0) == [item]


def test_a_backlog_is_taken_as_a_micro_batch():
    scheduler = Scheduler(known=lambda path: False)
    for i in range(20):
        scheduler.offer(Path(f"f{i:02d}.jpg"), live=False)
    assert len(scheduler.take(8, timeout=0)) == 8 and scheduler.depth() == 20


def test_hidden_and_temporary_names_are_not_frames():
    patterns = ["*.jpg", "*.png"]
    assert is_candidate(Path("KIR_20261124_220000.JPG"), patterns)
    for name in (".KIR.jpg", "KIR.jpg.part", "KIR.jpg.tmp", "KIR.jpg~", "KIR.txt"):
        assert not is_candidate(Path(name), patterns), name
    for name in ("~KIR.jpg", "#12.jpg"):  # a camera may name its frames so: only the pattern decides
        assert is_candidate(Path(name), patterns), name


def test_a_created_only_file_waits_to_settle_unless_its_close_event_comes():
    scheduler = Scheduler(known=lambda path: False)
    scheduler.offer(Path("moved_in.jpg"), live=True, settle_s=0.05)
    scheduler.offer(Path("being_written.jpg"), live=True, settle_s=3600)
    assert scheduler.take(10, timeout=0) == []
    scheduler.offer(Path("being_written.jpg"), live=True)  # its close event
    assert names(scheduler.take(10, timeout=0)) == ["being_written.jpg"]
    assert names(scheduler.take(10, timeout=5)) == ["moved_in.jpg"]  # after settling, with no close event


class Clock:
    """The scheduler's clock, moved by hand: due times are tested without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def waiting(metrics: StationMetrics) -> float:
    return metrics.queue_depth.labels("retry")._value.get()


def test_a_retry_is_not_cut_short_by_an_earlier_settle_time():
    clock, metrics = Clock(), StationMetrics()
    scheduler = Scheduler(known=lambda path: False, metrics=metrics, clock=clock)
    scheduler.offer(Path("moved_in.jpg"), live=True, settle_s=0.3)
    assert waiting(metrics) == 1
    scheduler.offer(Path("moved_in.jpg"), live=True)  # its close event: due now
    assert waiting(metrics) == 0, "a frame that is ready is not waiting"
    (item,) = scheduler.take(1, timeout=0)
    scheduler.retry(item, 5.0)  # it failed to decode
    assert waiting(metrics) == 1
    clock.now += 1.0  # past the old settle time, before the retry time
    assert scheduler.take(1, timeout=0) == [] and waiting(metrics) == 1
    clock.now += 5.0
    assert scheduler.take(1, timeout=0) == [item] and waiting(metrics) == 0


def test_a_second_wait_replaces_the_first():
    clock, metrics = Clock(), StationMetrics()
    scheduler = Scheduler(known=lambda path: False, metrics=metrics, clock=clock)
    scheduler.offer(Path("a.jpg"), live=False)
    (item,) = scheduler.take(1, timeout=0)
    scheduler.retry(item, 0.5)
    scheduler.offer(Path("a.jpg"), live=False)  # rewritten: due now
    (again,) = scheduler.take(1, timeout=0)
    scheduler.retry(again, 60.0)
    clock.now += 1.0
    assert scheduler.take(1, timeout=0) == [] and waiting(metrics) == 1
    clock.now += 60.0
    assert scheduler.take(1, timeout=0) == [item]


def test_an_event_while_a_frame_is_classified_offers_it_again_when_finished():
    journalled: set[str] = set()
    scheduler = Scheduler(known=lambda path: path in journalled)
    scheduler.offer(Path("/cam/latest.jpg"), live=True)
    [item] = scheduler.take(8, timeout=0)
    scheduler.offer(Path("/cam/latest.jpg"), live=True)  # the camera wrote its next exposure meanwhile
    assert scheduler.take(8, timeout=0) == []  # never two of the same path at once
    scheduler.finish(item)
    [again] = scheduler.take(8, timeout=0)
    assert again.path == Path("/cam/latest.jpg") and again is not item
    journalled.add("/cam/latest.jpg")  # once classified with no newer exposure, a late event is nothing new
    scheduler.offer(Path("/cam/latest.jpg"), live=True)
    scheduler.finish(again)
    assert scheduler.take(8, timeout=0) == []
