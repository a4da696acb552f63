# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pace of one client's requests under the provider's rate limit, shared by all its threads.

Private to this collection: the interface may change without notice.
"""

from __future__ import annotations

import threading
import time


class Pacer:
    """Spaces the requests of every thread of one client, and makes a 429's Retry-After hold them all.

    A rate-limited provider is one budget shared by the whole task, so:
    - a Retry-After, from any thread, holds every thread until it has passed, not only the one that got it;
    - `rate` (requests per second) paces requests in advance, about one second's worth at once (GCRA);
    - without a `rate` from the user, the pace is learnt as TCP learns a window: a slow start at
      INITIAL_RATE that doubles every second without a 429, so that parallel requests do not all run
      into a limit at once; after a 429, half the pace, growing by one request per second each second
      and halved again at the next 429 (additive increase, multiplicative decrease). A batch settles
      just under the provider's limit instead of running into it over and over.
    - without `slow_start` (one request at a time: nothing can bunch up), nothing is paced until a first
      429; a slow start would only make a long pagination wait ln(pages / INITIAL_RATE) seconds.
    - other clients share the limit too (AWX job slices: one process each, each with its own Pacer): each one's
      growth of one request per second each second adds up, and they run into the limit over and over. So the
      growth learns from 429s as well: a 429 that comes back within CALM seconds of the last one (and not in the
      same WINDOW, where the requests in flight together meet the same empty bucket) halves it, down to
      MIN_GROWTH; each CALM seconds without a 429 doubles it back. Alone, a client meets the limit seldom and
      keeps the full growth; among others, the pacers settle near their shares instead of fighting.
    """

    WINDOW = 2.0
    MIN_RATE = 0.5
    INITIAL_RATE = 4.0
    CALM = 10.0
    MIN_GROWTH = 1.0 / 16

    def __init__(self, rate=None, clock=time.monotonic, sleep=time.sleep, slow_start=True):
        self.learns = rate is None
        self.slow_start = self.learns and slow_start
        self.rate = rate if not self.learns else (self.INITIAL_RATE if self.slow_start else None)
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._resume_at = float("-inf")
        self._theoretical = float("-inf")
        self._recent = []
        self.growth = 1.0  # requests per second added each second once past the slow start
        self._limited_at = None
        self._calm_since = None

    def hold(self, seconds):
        """Nobody sends before `seconds` from now."""
        with self._lock:
            self._resume_at = max(self._resume_at, self.clock() + seconds)

    def accepted(self):
        """A request got an answer other than 429."""
        with self._lock:
            now = self.clock()
            self._recent = [t for t in self._recent if t > now - self.WINDOW] + [now]
            if self.learns and self.rate:
                # Slow start: +1 per answer doubles the pace each second; then +growth requests per second each second.
                if not self.slow_start and self.growth < 1.0 and now - self._calm_since >= self.CALM:
                    self.growth, self._calm_since = min(1.0, 2.0 * self.growth), now
                self.rate += 1.0 if self.slow_start else self.growth / self.rate

    def rate_limited(self, retry_after):
        """The provider answered 429: everyone holds for `retry_after` seconds (if given), and a learnt pace halves."""
        with self._lock:
            now = self.clock()
            if retry_after is not None:
                self._resume_at = max(self._resume_at, now + retry_after)
            if self.learns:
                seen = len([t for t in self._recent if t > now - self.WINDOW]) / self.WINDOW
                # Half of what was really getting through, or of the pace, whichever is lower.
                pace = self.rate or float("inf")  # not paced yet: what got through is all there is to halve
                self.rate = max(self.MIN_RATE, min(pace, max(seen, 2 * self.MIN_RATE)) / 2.0)
                self.slow_start = False
                if self._limited_at is not None and self.WINDOW <= now - self._limited_at < self.CALM:
                    self.growth = max(self.MIN_GROWTH, self.growth / 2.0)
                self._limited_at = self._calm_since = now

    def wait_turn(self):
        """Sleep until this thread may send."""
        while True:
            with self._lock:
                now = self.clock()
                ready = self._resume_at
                if self.rate:
                    interval = 1.0 / self.rate
                    ready = max(ready, self._theoretical - max(0.0, 1.0 - interval))
                if now >= ready:
                    if self.rate:
                        self._theoretical = max(self._theoretical, now) + interval
                    return
                delay = ready - now
            self.sleep(delay)
