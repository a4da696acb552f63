# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs that go on while the test does something else.

- ``Background``: one ansible-playbook run (``Runner.start``) going on while the test watches the simulator, interrupts
  it (Ctrl-C to its process group) or waits for it; what outlived it is reaped and reported;
- ``Concurrent``: independent scenarios at the same time, each against its own simulator, so that their waits overlap;
- ``EarlyStart``: runs started once, at the beginning of the session, and judged later by the tests that need them;
- ``SnapshotCounter``: the most snapshots any server had at once while a run went on.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

from ansible_collections.vps.cloud.tests.harness.playbook import Run, Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.simulator import calls
from ansible_collections.vps.cloud.tests.harness.waiting import wait_until

# Seconds a run's leftover processes get to end by themselves once ansible-playbook has exited.
LEFTOVER_GRACE = 5


class Background:
    """A run of ansible-playbook going on while the test watches the simulator (made by Runner.start)."""

    def __init__(self, runner, command, environment, run_dir):
        self.runner = runner
        self.run_dir = run_dir
        self._out = open(run_dir / "stdout.txt", "w")  # pylint: disable=consider-using-with
        self._err = open(run_dir / "stderr.txt", "w")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            command, stdout=self._out, stderr=self._err, env=environment, cwd=str(run_dir), start_new_session=True
        )
        self.pgid = self.process.pid
        self.survivors = {}

    def wait_for(self, condition, timeout=240, what="the condition"):
        """Poll `condition` while the run goes on; fail at once, with the run's output, if the run ends first."""

        def check():
            value = condition()
            if not value and self.process.poll() is not None:
                raise AssertionError(
                    "the run ended (rc %s) before %s:\n%s\n%s"
                    % (self.process.returncode, what, (self.run_dir / "stdout.txt").read_text()[-4000:], (self.run_dir / "stderr.txt").read_text()[-2000:])
                )
            return value

        return wait_until(check, timeout, what=what)

    def interrupt(self):
        """Ctrl-C: SIGINT to the whole process group (ansible-playbook, its workers, the running module)."""
        os.killpg(self.pgid, signal.SIGINT)

    def wait(self, timeout=300):
        try:
            rc = self.process.wait(timeout=timeout)
        finally:
            self._reap()
            self._out.close()
            self._err.close()
        run = Run(rc, (self.run_dir / "stdout.txt").read_text(), (self.run_dir / "stderr.txt").read_text(), self.run_dir)
        return self.runner.checked(run)

    def close(self):
        """Stop the run if it is still going (a test that failed before waiting for it)."""
        if not self._out.closed:
            self._reap()
            self._out.close()
            self._err.close()

    def _reap(self):
        """Whatever is left of this run gets SIGKILL: its process group, and its processes in other sessions (ansible-core
        2.21's workers start their own), found by the run's environment. What outlived ansible-playbook is kept in
        `survivors` (pid -> command line) for the test to report."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        # A worker or module still handling the interruption gets a moment to end on its own.
        deadline = time.monotonic() + LEFTOVER_GRACE
        while processes_of(self.run_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in processes_of(self.run_dir):
            self.survivors[pid] = command_line(pid)
            kill(pid)


def processes_of(run_dir):
    """Pids of the live processes of the run in `run_dir`, in whatever session: each inherited its ANSIBLE_LOG_PATH."""
    marker = ("ANSIBLE_LOG_PATH=%s" % (Path(run_dir) / "ansible.log")).encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/environ" % entry, "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def command_line(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def alive(pid):
    """True while `pid` runs (a zombie waiting for its parent counts as ended)."""
    try:
        with open("/proc/%s/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Concurrent:
    """Independent scenarios run at the same time, each against its own simulator, so that their waits overlap.

    start() prepares a simulator (`new_simulator(**settings)`, then `setup(sim)` to seed it), writes the inventory and
    starts the run; finish() waits for every run and returns, per scenario, a namespace with the run, the simulator's
    request log, snapshots and servers at the end, and what `setup` returned.
    """

    def __init__(self, base_dir, new_simulator):
        self.base_dir = Path(base_dir)
        self.new_simulator = new_simulator
        self.stack = ExitStack()
        self.started = {}

    def start(self, name, playbook, hosts, extra=(), check=False, groups=None, settings=None, setup=None, sim=None, scan=()):
        """Start scenario `name`; `scan`: files the run writes elsewhere, also checked for the token."""
        if sim is None:
            sim = self.stack.enter_context(self.new_simulator(**(settings or {})))
        prepared = setup(sim) if setup else None
        run_dir = self.base_dir / name
        run_dir.mkdir(parents=True)
        runner = Runner(sim, run_dir)
        runner.extra_scan = [str(path) for path in scan]
        inventory = write_inventory(run_dir / "inventory.yml", hosts, groups)
        handle = runner.start(playbook, inventory, extra, check)
        self.stack.callback(handle.close)
        self.started[name] = (sim, handle, prepared)
        return sim

    def finish(self, timeout=400):
        outcomes = {}
        for name, (sim, handle, prepared) in self.started.items():
            run = handle.wait(timeout=timeout)
            outcomes[name] = SimpleNamespace(run=run, log=calls(sim), snapshots=sim.snapshots(), servers=sim.servers(), prepared=prepared)
        return outcomes

    def close(self):
        self.stack.close()


class EarlyStart:
    """Playbook runs started once, at the beginning of the session (a session fixture of the suite's conftest.py), and
    judged by the tests that need them: the long runs of a suite wait at the same time instead of one after another.

    A test module offers `start_background(tmp_path_factory)`, which submits its runs and returns handles; its
    tests get the same handles from `started(start_background, tmp_path_factory)`, which calls it only once.
    """

    def __init__(self, workers=16, name="early"):
        self.workers = workers
        self.name = name
        self._pool = None
        self._started = {}
        self._lock = threading.Lock()

    def submit(self, unused_label, function, *args):
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=self.name)
        return self._pool.submit(function, *args)

    def started(self, start, *args):
        key = (start.__module__, start.__qualname__)
        with self._lock:
            known = key in self._started
        if not known:
            handles = start(*args)
            with self._lock:
                self._started.setdefault(key, handles)
        return self._started[key]


class SnapshotCounter:
    """Watches, while a run goes on, the most snapshots any server had at once (the provider's limit is 5)."""

    def __init__(self, sim, interval=0.05):
        self.sim = sim
        self.interval = interval
        self.most = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def sample(self):
        counts = {}
        for snap in self.sim.snapshots():
            counts[snap["server"]["id"]] = counts.get(snap["server"]["id"], 0) + 1
        for server_id, count in counts.items():
            self.most[server_id] = max(self.most.get(server_id, 0), count)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
