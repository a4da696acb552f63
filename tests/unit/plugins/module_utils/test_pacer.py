# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for pacer.Pacer, on a virtual clock: its pace, hold and slow start; its growth, which learns from 429s
that come back; and K pacers (K processes, one Pacer each, as AWX job slices) sharing one provider limit (issue #22).
How VpsClient drives its Pacer is tested in test_client.py.
"""

from __future__ import annotations

import heapq
import math
import random
import threading

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.pacer import Pacer


# Its pace and hold: the shared token bucket -------------------------------------------------------------------------


def send_times(pacer, vt, count):
    """The virtual times at which `count` back-to-back requests may go."""
    times = []
    for dummy in range(count):
        pacer.wait_turn()
        times.append(vt.elapsed())
    return times


@pytest.mark.parametrize(
    "rate, count, expected",
    [
        ("learnt", 6, [0.0, 0.0, 0.0, 0.0, 0.25, 0.5]),
        (0.5, 4, [0.0, 2.0, 4.0, 6.0]),
        (1, 4, [0.0, 1.0, 2.0, 3.0]),
        (2, 6, [0.0, 0.0, 0.5, 1.0, 1.5, 2.0]),
        (4, 7, [0.0, 0.0, 0.0, 0.0, 0.25, 0.5, 0.75]),
    ],
)
def test_pacer_spaces_requests_after_one_seconds_burst(vt, rate, count, expected):
    pacer = Pacer(None if rate == "learnt" else rate, clock=vt.monotonic, sleep=vt.sleep)
    assert send_times(pacer, vt, count) == pytest.approx(expected)


def test_pacer_allows_a_new_burst_after_idling(vt):
    pacer = Pacer(2, clock=vt.monotonic, sleep=vt.sleep)
    assert send_times(pacer, vt, 3) == [0.0, 0.0, 0.5]
    vt.now += 10.0  # idle: no credit is saved beyond one second's burst
    assert send_times(pacer, vt, 4) == [10.5, 10.5, 11.0, 11.5]


def test_pacer_holds_until_the_retry_after_has_passed(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    pacer.hold(5)
    pacer.hold(2)  # a shorter hold does not shorten the longer one
    assert send_times(pacer, vt, 2) == [5.0, 5.0]
    pacer.hold(0)
    assert send_times(pacer, vt, 1) == [5.0]


def test_pacer_hold_and_rate_together(vt):
    pacer = Pacer(1, clock=vt.monotonic, sleep=vt.sleep)
    assert send_times(pacer, vt, 1) == [0.0]
    pacer.hold(3)
    assert send_times(pacer, vt, 2) == [3.0, 4.0]


def test_a_hold_from_one_thread_holds_another(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    pacer.hold(30)
    thread = threading.Thread(target=pacer.wait_turn, name="worker")
    thread.start()
    thread.join()
    assert (vt.sleepers, vt.sleeps) == (["worker"], [30.0])


def pace(pacer, vt, turns=14):
    """The steady interval between requests sent back to back (after the burst): 1 / the pacer's rate."""
    times = send_times(pacer, vt, turns)
    return times[-1] - times[-2]


def served(pacer, count):
    """`count` requests sent and answered (not 429), as the client reports them to the pacer."""
    for dummy in range(count):
        pacer.wait_turn()
        pacer.accepted()


def answered(pacer, count):
    """`count` answers (not 429) reported at this instant."""
    for dummy in range(count):
        pacer.accepted()


def test_one_request_at_a_time_is_not_paced_before_a_first_429(vt):
    """Nothing can bunch up: a slow start would only make a long pagination wait (2.1 s for 100 pages)."""
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep, slow_start=False)
    served(pacer, 100)
    assert (pacer.rate, vt.sleeps) == (None, [])


def test_one_request_at_a_time_after_a_429_halves_what_got_through(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep, slow_start=False)
    served(pacer, 10)  # 10 answers within the 2 s window: 5 per second got through
    pacer.rate_limited(None)
    assert pacer.rate == pytest.approx(2.5)
    assert pace(pacer, vt) == pytest.approx(1 / 2.5, rel=0.1)  # then additive increase, as for a batch
    assert pacer.slow_start is False


def test_one_request_at_a_time_after_a_429_with_little_seen_paces_at_the_floor(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep, slow_start=False)
    pacer.rate_limited(None)
    assert pacer.rate == Pacer.MIN_RATE


def test_without_a_rate_the_pace_starts_at_four_per_second(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    assert pace(pacer, vt) == pytest.approx(0.25)


def test_slow_start_each_answer_adds_one_request_per_second(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    answered(pacer, 4)
    assert pace(pacer, vt) == pytest.approx(1 / 8.0)


def test_slow_start_about_doubles_the_pace_each_second(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    times = []
    for dummy in range(30):
        pacer.wait_turn()
        times.append(vt.elapsed())
        pacer.accepted()
    first, second = len([t for t in times if t < 1.0]), len([t for t in times if 1.0 <= t < 1.3])
    assert 15 <= first <= 25  # well above the starting 4 per second
    assert second >= 7  # and faster still after it


def test_a_first_429_with_nothing_seen_paces_one_request_every_two_seconds(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    pacer.rate_limited(None)
    assert send_times(pacer, vt, 3) == [0.0, 2.0, 4.0]


def test_a_first_429_halves_the_throughput_just_seen(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    answered(pacer, 20)  # 20 answers within the last 2 s: 10 per second, below the slow start's pace by now
    pacer.rate_limited(None)
    # 5 per second: one second's worth at once, then one every 0.2 s.
    assert send_times(pacer, vt, 7) == pytest.approx([0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.4])


@pytest.mark.parametrize(
    "idle, interval",
    [
        pytest.param(1.9, 0.2, id="requests 1.9 s ago count"),
        pytest.param(2.0, 2.0, id="requests 2 s ago no longer count"),
    ],
)
def test_only_the_last_two_seconds_count_as_seen(vt, idle, interval):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    answered(pacer, 20)
    vt.now += idle
    pacer.rate_limited(None)
    assert pace(pacer, vt) == pytest.approx(interval)


def test_older_requests_are_forgotten_as_new_ones_come(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    answered(pacer, 20)
    vt.now += 3.0
    answered(pacer, 4)  # 2 per second now
    pacer.rate_limited(None)
    assert pace(pacer, vt) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "limits, interval",
    [
        pytest.param(1, 1 / 5.0, id="10/s seen: 5/s"),
        pytest.param(2, 1 / 2.5, id="halved again at the next 429"),
        pytest.param(3, 1 / 1.25, id="and again"),
        pytest.param(4, 1 / 0.625, id="and again"),
        pytest.param(5, 2.0, id="never slower than one request every 2 s"),
        pytest.param(8, 2.0, id="however many 429s"),
    ],
)
def test_each_429_halves_the_learnt_pace(vt, limits, interval):
    """Half the lower of the pace and what got through: 10/s seen at a pace of 24/s, then the pace itself."""
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    answered(pacer, 20)
    for dummy in range(limits):
        pacer.rate_limited(None)
    assert pace(pacer, vt) == pytest.approx(interval)


def test_each_answer_raises_the_learnt_pace(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    pacer.rate_limited(None)  # 0.5 per second
    pacer.accepted()  # + 1 / 0.5
    assert pace(pacer, vt) == pytest.approx(1 / 2.5)


def test_the_learnt_pace_grows_by_about_one_request_per_second_each_second(vt):
    pacer = Pacer(clock=vt.monotonic, sleep=vt.sleep)
    answered(pacer, 20)
    pacer.rate_limited(None)  # 5 per second
    start = vt.elapsed()
    served(pacer, 5)
    assert vt.elapsed() - start < 1.0  # five requests in under a second...
    assert 5.9 < 1 / pace(pacer, vt) < 6.0  # ... and the pace is now about 6 per second


def test_a_rate_given_by_the_user_is_not_learnt(vt):
    pacer = Pacer(2, clock=vt.monotonic, sleep=vt.sleep)
    served(pacer, 10)
    pacer.rate_limited(None)
    pacer.rate_limited(None)
    assert pace(pacer, vt) == pytest.approx(0.5)
    served(pacer, 10)
    assert pace(pacer, vt) == pytest.approx(0.5)


@pytest.mark.parametrize("rate", [None, 2])
def test_a_429_holds_every_thread_for_its_retry_after(vt, rate):
    pacer = Pacer(rate, clock=vt.monotonic, sleep=vt.sleep)
    pacer.rate_limited(5.0)
    pacer.rate_limited(1.0)  # a shorter one does not shorten the hold
    thread = threading.Thread(target=pacer.wait_turn, name="worker")
    thread.start()
    thread.join()
    assert (vt.sleepers, vt.sleeps) == (["worker"], [5.0])


@pytest.mark.parametrize("rate", [None, 2])
def test_a_429_without_retry_after_holds_nobody(vt, rate):
    pacer = Pacer(rate, clock=vt.monotonic, sleep=vt.sleep)
    pacer.rate_limited(None)
    assert send_times(pacer, vt, 1) == [0.0]


# Its growth among other clients ------------------------------------------------------------------------------------


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


@pytest.mark.parametrize(
    "gap",
    [
        pytest.param(0.0, id="429s of requests in flight together"),
        pytest.param(Pacer.WINDOW - 0.1, id="within the window"),
        pytest.param(Pacer.CALM, id="after CALM seconds"),
        pytest.param(10 * Pacer.CALM, id="long after"),
    ],
)
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
