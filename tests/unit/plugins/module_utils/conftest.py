# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures for the module_utils tests: a virtual clock, and no real sleep anywhere."""

from __future__ import annotations

import threading
import time

import pytest

# A loop that sleeps this often in one test is a runaway (say, a zero-length wait repeated forever): fail it at once
# rather than hang until a timeout.
MAX_SLEEPS = 5000


class VirtualTime:
    """A monotonic clock that only moves when the code under test sleeps; records every sleep, thread-safe."""

    def __init__(self, start=1000.0):
        self.start = self.now = start
        self.sleeps = []
        self.sleepers = []  # the name of the thread of each sleep
        self._lock = threading.Lock()

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0, "slept a negative time: %r" % (seconds,)
        with self._lock:
            assert len(self.sleeps) < MAX_SLEEPS, "runaway loop: %d sleeps" % len(self.sleeps)
            self.sleeps.append(seconds)
            self.sleepers.append(threading.current_thread().name)
            self.now += seconds

    def elapsed(self):
        return self.now - self.start


def _no_real_sleep(seconds):
    raise AssertionError("the code under test called the real time.sleep(%r)" % (seconds,))


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch):
    monkeypatch.setattr(time, "sleep", _no_real_sleep)


@pytest.fixture
def vt():
    return VirtualTime()
