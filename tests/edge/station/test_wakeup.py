"""The publisher's wake-up: select() returns as soon as it is set, many sets count as one, none are lost."""
import select
import threading

from auroral.edge.station.wakeup import Wakeup


def test_select_wakes_only_when_set():
    wake = Wakeup()
    assert select.select([wake], [], [], 0.05)[0] == []
    assert wake.drain() is False
    wake.set()
    assert select.select([wake], [], [], 1.0)[0] == [wake]
    assert wake.drain() is True
    assert select.select([wake], [], [], 0.05)[0] == []


def test_many_sets_from_other_threads_are_one_wakeup_and_never_block():
    wake = Wakeup()
    threads = [threading.Thread(target=lambda: [wake.set() for _ in range(20_000)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)  # a full socket buffer never blocks set()
    assert wake.drain() is True
    assert wake.drain() is False


def test_a_set_after_drain_is_not_lost():
    wake = Wakeup()
    wake.set()
    wake.drain()
    wake.set()
    assert select.select([wake], [], [], 1.0)[0] == [wake]
