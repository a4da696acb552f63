# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one virtual clock: time that passes only when the code under test sleeps (or the test says so).

Imported as ``ansible_collections.vps.cloud.tests.harness.clock`` by every suite: the unit tests (``VirtualTime`` of
tests/unit/helpers.py, under ansible-test units), the simulator tests (``FakeClock`` of tests/simulator/sim_helpers.py,
the simulator's injectable clock), the event source's tests (tests/eda, in their own venv) and the benchmark
(tools/benchmark: the poll schedule on a virtual clock, and the fleet model). Standard library only, so that it
imports anywhere.

- ``VirtualClock``: monotonic seconds (``monotonic()``) that move by each ``sleep`` (recorded, with the sleeping
  thread's name; thread-safe) or ``advance``, and a wall clock (``time()``) that is the same reading (no `wall`), or
  starts at `wall` and moves with it, or stays at `wall` (``wall_moves=False``); ``asleep`` is the same sleep for
  asyncio code;
- ``SharedVirtualClock``: the same time shared by several threads, which moves only once every thread taking part is
  asleep, to the earliest wake-up (the benchmark's fleet model: real interleaving, no real waiting).
"""

from __future__ import annotations

import heapq
import threading

__all__ = ["VirtualClock", "SharedVirtualClock", "ClockStuck"]


class VirtualClock:
    """Virtual time that advances on sleep.

    `start`: the monotonic reading at first. `wall`: the wall clock (epoch seconds) at `start`; None, the wall clock
    reads the same as the monotonic one. `wall_moves`: whether the wall clock moves with the time slept (False: it
    stays at `wall`, so that ages in messages are fixed). `max_sleeps`: more sleeps than that fail at once (a runaway
    loop), rather than hang the test.
    """

    def __init__(self, start=1000.0, wall=None, wall_moves=True, max_sleeps=None):
        self.start = self.now = start
        self.wall = wall
        self.wall_moves = wall_moves
        self.max_sleeps = max_sleeps
        self.sleeps = []
        self.sleepers = []  # the name of the thread of each sleep
        self._lock = threading.Lock()

    def monotonic(self):
        return self.now

    def time(self):
        """The wall clock: see `wall` and `wall_moves`."""
        if self.wall is None:
            return self.now
        if not self.wall_moves:
            return self.wall
        return self.wall + (self.now - self.start)

    def elapsed(self):
        return self.now - self.start

    def advance(self, seconds):
        """Time passes without anyone sleeping (the test moves it); returns the new monotonic reading."""
        with self._lock:
            self.now += seconds
            return self.now

    def sleep(self, seconds):
        assert seconds >= 0, "slept a negative time: %r" % (seconds,)
        with self._lock:
            # A loop that sleeps this often in one test is a runaway (say, a zero-length wait repeated forever).
            assert self.max_sleeps is None or len(self.sleeps) < self.max_sleeps, "runaway loop: %d sleeps" % len(self.sleeps)
            self.sleeps.append(seconds)
            self.sleepers.append(threading.current_thread().name)
            self.now += seconds

    async def asleep(self, seconds):
        """`sleep` for asyncio code (``await clock.asleep(s)``): the same virtual time, no real wait."""
        self.sleep(seconds)


class ClockStuck(RuntimeError):
    """No thread can make progress: a participant of a SharedVirtualClock blocks on something other than the clock."""


class SharedVirtualClock(VirtualClock):
    """A VirtualClock several threads share: it moves only when every participant sleeps, then to the earliest wake-up
    (and wakes every sleeper due then), so that the threads keep their real interleaving while long waits take no real
    time. A thread takes part between ``join()`` and ``leave()``; `stuck_after`: real seconds without progress after
    which a sleeper gives up (ClockStuck). Sleeps are not recorded (a model run makes many)."""

    def __init__(self, start, wall=None, stuck_after=600):
        super().__init__(start, wall=wall)
        self.stuck_after = stuck_after
        self._cond = threading.Condition()
        self._participants = 0
        self._sleepers = []  # heap of (wake, seq)
        self._woken = set()
        self._seq = 0

    def join(self, count=1):
        with self._cond:
            self._participants += count

    def leave(self):
        with self._cond:
            self._participants -= 1
            self._move()

    def advance(self, seconds):
        raise TypeError("a SharedVirtualClock moves only when every participant sleeps")

    def sleep(self, seconds):
        with self._cond:
            self._seq += 1
            ticket = self._seq
            heapq.heappush(self._sleepers, (self.now + max(0.0, float(seconds)), ticket))
            self._move()
            while ticket not in self._woken:
                if not self._cond.wait(timeout=self.stuck_after):
                    raise ClockStuck("virtual clock: no progress for %s s of real time" % self.stuck_after)
            self._woken.discard(ticket)

    def _move(self):
        # Called with the lock held: when everyone is asleep, wake the earliest (and all due at that time).
        if not self._sleepers or len(self._sleepers) < self._participants:
            return
        wake = self._sleepers[0][0]
        self.now = max(self.now, wake)
        while self._sleepers and self._sleepers[0][0] <= self.now:
            self._woken.add(heapq.heappop(self._sleepers)[1])
        self._cond.notify_all()
