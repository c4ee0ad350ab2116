"""CPU inference threads pinned one per CPU, so the scheduler cannot stack ONNX Runtime's pool on the caller's core."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from auroral.edge.affinity import inference_cpus, unpin_this_thread
from auroral.edge.backends import create_backend
from auroral.edge.backends.ort import session_options
from auroral.edge.bundle import ModelInfo
from auroral.edge.preprocess import Preprocessor, PreprocessSpec
from auroral.export.bundle_writer import write_bundle
from support.toybundle import toy_onnx

SPEC = PreprocessSpec(size=32)
CPUS = sorted(os.sched_getaffinity(0))


@pytest.fixture
def allowed(monkeypatch):
    """Pretend this process may use ``cpus`` (the probe that pinning is permitted always succeeds)."""
    def set_allowed(cpus: set[int]) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(cpus))
        monkeypatch.setattr(os, "sched_setaffinity", lambda pid, mask: None)
    return set_allowed


def test_one_cpu_per_thread_from_the_allowed_set(allowed):
    allowed({3, 5, 8, 9})
    assert inference_cpus(None) == [3, 5, 8, 9]
    assert inference_cpus(2) == [3, 5]


@pytest.mark.parametrize("threads, cpus", [(1, {0, 1}), (None, {4}), (3, {0, 1})])
def test_no_pinning_for_one_thread_or_more_threads_than_cpus(allowed, threads, cpus):
    allowed(cpus)
    assert inference_cpus(threads) is None


def test_no_pinning_where_a_seccomp_filter_forbids_it(monkeypatch, caplog):
    def forbidden(pid, mask):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "sched_setaffinity", forbidden)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert inference_cpus(None) is None
    assert "event=cpu_pinning_unavailable" in caplog.text


def test_pool_threads_get_the_other_cpus_numbered_from_one():
    options = session_options(None, [2, 5, 7])
    assert options.intra_op_num_threads == 3
    assert options.get_session_config_entry("session.intra_op_thread_affinities") == "6;8"
    with pytest.raises(RuntimeError, match="does not have configuration"):
        session_options(None).get_session_config_entry("session.intra_op_thread_affinities")


@pytest.fixture
def bundle(tmp_path):
    return write_bundle(tmp_path / "bundle", {"fp32": toy_onnx(tmp_path / "toy.onnx")},
                        ModelInfo(name="toy", architecture="tests.toybundle", kind="cnn"), SPEC)


def in_thread(function):
    """Run ``function`` in a fresh thread (as the daemon's inference thread) and return its result."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(value=function()))
    thread.start()
    thread.join(timeout=60)
    return result["value"]


def test_bind_caller_pins_only_the_calling_thread_and_results_do_not_change(bundle):
    pinned = create_backend(bundle, "ort-cpu", "fp32", pin=True)
    free = create_backend(bundle, "ort-cpu", "fp32")
    batch = Preprocessor(SPEC).batch([np.full((40, 40, 3), (200, 30, 10), np.uint8)] * 3)

    def bind_and_infer():
        pinned.bind_caller()
        return os.sched_getaffinity(0), pinned.infer(batch)

    affinity, probabilities = in_thread(bind_and_infer)
    if len(CPUS) >= 2:
        assert pinned.cpus == CPUS and affinity == {CPUS[0]}
    else:  # a one-CPU machine: nothing to spread, nothing pinned
        assert pinned.cpus is None and affinity == set(CPUS)
    assert sorted(os.sched_getaffinity(0)) == CPUS  # this thread is untouched
    assert free.cpus is None and in_thread(lambda: (free.bind_caller(), os.sched_getaffinity(0))[1]) == set(CPUS)
    np.testing.assert_allclose(probabilities, free.infer(batch), atol=1e-6)


def test_unpin_gives_a_pinned_thread_every_cpu_of_the_process_again():
    def pin_then_unpin():
        os.sched_setaffinity(0, {CPUS[0]})
        pinned = os.sched_getaffinity(0)
        unpin_this_thread()
        return pinned, os.sched_getaffinity(0)

    assert in_thread(pin_then_unpin) == ({CPUS[0]}, set(CPUS))
