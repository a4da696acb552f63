# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Polling with backoff under a wall-clock deadline. Private to this collection."""

from __future__ import annotations

import random
import time

# Start near 2 s and grow to a 15 s cap: a 10-minute creation costs about 43 polls, not hundreds,
# and a finished operation is noticed at most one cap later.
POLL_INITIAL = 2.0
POLL_FACTOR = 2.0
POLL_CAP = 15.0
# Intervals below the cap are shortened by up to this fraction, so tasks started together drift
# apart instead of polling in lockstep. At the cap intervals are exact: jitter there would only
# add polls (a long wait would cost more than T/15) or delay noticing past the cap.
POLL_JITTER = 0.1


class VpsWaitTimeout(Exception):
    """The deadline passed before the awaited state was reached."""


def poll_intervals(initial=POLL_INITIAL, factor=POLL_FACTOR, cap=POLL_CAP, jitter=POLL_JITTER, rand=random.random):
    """Endless intervals growing from `initial` to `cap`; those below the cap jittered down by at most `jitter`."""
    ceiling = initial
    while ceiling < cap:
        yield ceiling * (1.0 - jitter * rand())
        ceiling = min(cap, ceiling * factor)
    while True:
        yield cap


def wait_for(check, timeout, what, status="unknown", check_first=False, clock=time.monotonic, sleep=time.sleep, intervals=None, advice=None, limit=None):
    """Call `check()` until it reports done; return its value.

    `check()` returns (done, value, status_text). With `check_first` it is called right away,
    otherwise only after the first interval (the caller has just seen the state). Sleeps never run
    past `timeout` seconds of wall clock and the last check happens at the deadline.
    Raises VpsWaitTimeout with a message naming `what`, the time waited, the last status and `advice`:
    what the user can safely do next, which only the caller knows. `limit` is the wait_timeout the user
    gave, when `timeout` is only what was left of it.
    """
    start = clock()
    deadline = start + timeout
    intervals = intervals if intervals is not None else poll_intervals()
    while True:
        if check_first:
            done, value, status = check()
            if done:
                return value
        check_first = True
        remaining = deadline - clock()
        if remaining <= 0:
            message = "Timed out after %ds (wait_timeout=%s) waiting for %s; last seen status: %s." % (
                round(clock() - start),
                timeout if limit is None else limit,
                what,
                status,
            )
            raise VpsWaitTimeout(message + (" " + advice if advice else ""))
        sleep(min(next(intervals), remaining))
