"""Shared fixtures (a real mosquitto on a free loopback port, a deterministic model bundle) and the
suite's last check: no test may leave a process of its own running."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from auroral.edge.tools.broker import LocalBroker
from support.toybundle import make_toy_bundle

#: helper processes the interpreter itself keeps until it exits (they are not a test's to stop)
_INTERPRETER_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


@pytest.fixture
def broker():
    with LocalBroker() as running:
        yield running


@pytest.fixture(scope="session")
def toy_bundle(tmp_path_factory):
    return make_toy_bundle(tmp_path_factory.mktemp("bundle") / "toy")


def _descendants(root: int) -> dict[int, str]:
    """Living (not zombie) descendants of ``root`` with their command lines, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(stat.parent.name))
    found: dict[int, str] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        try:
            found[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        todo += children.get(pid, [])
    return {pid: cmd for pid, cmd in found.items() if not any(h in cmd for h in _INTERPRETER_HELPERS)}


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = _descendants(os.getpid())
    if not left:
        return
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    listed = "\n".join(f"  pid {pid}: {cmd.strip()[:200]}" for pid, cmd in sorted(left.items()))
    session.config.get_terminal_writer().line(f"\nprocesses left running by the tests (now killed):\n{listed}",
                                              red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
