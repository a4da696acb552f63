# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for client.Pacer among other clients behind one rate limit (issue #22, AWX job slices), on a virtual clock.

The Pacer's own pacing, hold and slow start are tested in test_client.py; here: its growth, which learns
from 429s that come back, and K pacers (K processes, one Pacer each) sharing one provider limit.
"""

from __future__ import annotations

import heapq
import math
import random

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.client import Pacer


def limited_pacer(vt, answers=20):
    """A pacer past its slow start: `answers` answers within the window, then a first 429 (no Retry-After)."""
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    for dummy in range(answers):
        pacer.accepted()
    pacer.rate_limited(None)
    return pacer


def test_alone_the_growth_is_one_request_per_second_each_second(vt):
    pacer = limited_pacer(vt)
    assert pacer.growth == 1.0
    rate = pacer.rate
    pacer.accepted()
    assert pacer.rate == pytest.approx(rate + 1.0 / rate)


def test_a_429_back_within_calm_halves_the_growth(vt):
    pacer = limited_pacer(vt)
    vt.now += 3.0  # past the window of the first, within CALM
    pacer.rate_limited(None)
    assert pacer.growth == 0.5
    assert pacer.rate == Pacer.MIN_RATE
    pacer.accepted()
    assert pacer.rate == pytest.approx(Pacer.MIN_RATE + 0.5 / Pacer.MIN_RATE)  # not the full 1 / rate


@pytest.mark.parametrize("gap", [
    pytest.param(0.0, id="429s of requests in flight together"),
    pytest.param(Pacer.WINDOW - 0.1, id="within the window"),
    pytest.param(Pacer.CALM, id="after CALM seconds"),
    pytest.param(10 * Pacer.CALM, id="long after"),
])
def test_429s_in_one_window_or_far_apart_keep_the_growth(vt, gap):
    pacer = limited_pacer(vt)
    vt.now += gap
    pacer.rate_limited(None)
    assert pacer.growth == 1.0


def test_the_growth_halves_at_each_429_that_comes_back_down_to_a_floor(vt):
    pacer = limited_pacer(vt)
    growths = []
    for dummy in range(6):
        vt.now += 3.0
        pacer.rate_limited(None)
        growths.append(pacer.growth)
    assert growths == [0.5, 0.25, 0.125, 1.0 / 16, 1.0 / 16, 1.0 / 16]
    assert Pacer.MIN_GROWTH == 1.0 / 16


def test_each_calm_stretch_doubles_the_growth_back_to_one(vt):
    pacer = limited_pacer(vt)
    for dummy in range(2):
        vt.now += 3.0
        pacer.rate_limited(None)
    assert pacer.growth == 0.25
    seen = []
    for dummy in range(40):  # one answer a second for 40 s, no 429
        vt.now += 1.0
        pacer.accepted()
        seen.append(pacer.growth)
    assert seen[8] == 0.25  # 9 s after the last 429
    assert seen[9] == 0.5  # 10 s
    assert seen[19] == 1.0  # 10 s more
    assert max(seen) == 1.0


def test_a_rate_given_by_the_user_has_no_growth_to_learn(vt):
    pacer = Pacer(2, clock=vt.monotonic, sleep=vt.sleep)
    for dummy in range(3):
        vt.now += 3.0
        pacer.rate_limited(None)
        pacer.accepted()
    assert (pacer.rate, pacer.growth) == (2, 1.0)


# K pacers behind one limit -----------------------------------------------------------------------------------------------

RPS, BUCKET = 5.0, 10  # the benchmark's provider limit
THREADS = 8  # vps_snapshot_batch's default concurrency
LATENCY = 0.03


class Later(Exception):
    """Raised by a pacer's sleep: the thread is put back in the queue instead of sleeping."""

    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


class Bucket:
    """The provider's limit as the simulator has it: RPS tokens a second, BUCKET at most; a 429 takes none."""

    def __init__(self, clock):
        self.clock = clock
        self.tokens, self.stamp = float(BUCKET), clock()

    def take(self):
        now = self.clock()
        self.tokens, self.stamp = min(float(BUCKET), self.tokens + (now - self.stamp) * RPS), now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - self.tokens) / RPS - 1e-9))


def share_the_limit(pacer_class, clients, requests, seed=22):
    """`clients` processes, one pacer and THREADS threads each, `requests` requests each, all behind one limit.

    Discrete events on one virtual clock: a thread asks its pacer for a turn (put back when told to wait),
    sends, and on a 429 holds its pacer for the Retry-After and tries again after it (plus up to 10 %, as
    the client does). Returns (seconds until the last answer, times of the 429s).
    """
    rand = random.Random(seed)
    now = [0.0]

    def sleep(seconds):
        raise Later(seconds)

    pacers = [pacer_class(clock=lambda: now[0], sleep=sleep) for dummy in range(clients)]
    bucket = Bucket(lambda: now[0])
    left = [requests] * clients
    queue, order, last, limited = [], 0, 0.0, []
    for client in range(clients):
        for dummy in range(THREADS):
            order += 1
            heapq.heappush(queue, (0.01 * rand.random(), order, client, False))
    while queue:
        now[0], dummy, client, retry = heapq.heappop(queue)
        if not retry and left[client] <= 0:
            continue
        try:
            pacers[client].wait_turn()
        except Later as later:
            order += 1
            heapq.heappush(queue, (now[0] + later.seconds, order, client, retry))
            continue
        if not retry:
            left[client] -= 1
        retry_after = bucket.take()
        now[0] += LATENCY
        order += 1
        if retry_after is None:
            pacers[client].accepted()
            last = now[0]
            heapq.heappush(queue, (now[0], order, client, False))
        else:
            limited.append(now[0])
            pacers[client].rate_limited(retry_after)
            pacers[client].hold(retry_after)
            heapq.heappush(queue, (now[0] + retry_after * (1.0 + 0.1 * rand.random()), order, client, True))
    return last, limited


class FixedGrowth(Pacer):
    """The pacer as it was before issue #22: one request per second more each second, however often 429s come back."""

    MIN_GROWTH = 1.0


TOTAL = 500  # requests of all clients together
IDEAL = (TOTAL - BUCKET) / RPS  # seconds: the bucket at once, then RPS a second


def test_the_limit_is_used_alone_and_among_others():
    for clients in (1, 4, 8):
        wall, dummy = share_the_limit(Pacer, clients, TOTAL // clients)
        assert wall < 1.2 * IDEAL, (clients, wall)


@pytest.mark.parametrize("clients", [4, 8])
def test_pacers_sharing_a_limit_settle_instead_of_fighting(clients):
    """Four (eight) job slices meet the limit about as often as one client alone did before, not four (eight) times as often."""
    dummy, fixed = share_the_limit(FixedGrowth, clients, TOTAL // clients)
    dummy, learnt = share_the_limit(Pacer, clients, TOTAL // clients)
    dummy, alone = share_the_limit(FixedGrowth, 1, TOTAL)
    assert len(fixed) > 4 * len(alone)  # the fight: 429s that grow with the number of clients
    assert len(learnt) < len(fixed) / 2.0
    # and they die down: fewer in the last third of the run than in the first
    third = IDEAL / 3.0
    assert sum(1 for t in learnt if t > 2 * third) < sum(1 for t in learnt if t < third)


def test_alone_a_client_meets_the_limit_no_more_often_than_before():
    dummy, fixed = share_the_limit(FixedGrowth, 1, TOTAL)
    dummy, learnt = share_the_limit(Pacer, 1, TOTAL)
    assert len(learnt) <= len(fixed)
