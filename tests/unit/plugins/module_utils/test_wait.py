# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests for module_utils/wait.py (the poll schedule and wait_for) with a fake clock and a fake sleep: nothing really sleeps."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.vps.cloud.plugins.module_utils.wait import VpsWaitTimeout, poll_intervals, wait_for
from ansible_collections.vps.cloud.tests.harness.clock import VirtualClock

FAST = settings(max_examples=80, deadline=None, database=None)
DRAWS = st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), min_size=1, max_size=20)
# What the performance guide promises (docs/docsite/rst/performance.rst, "Per task"): intervals from 2 s doubling to a 15 s
# cap, shortened by at most 10% below the cap.
POLL_CAP = 15.0
POLL_JITTER = 0.1
# The interval ceilings: doubling from 2 s, then held at the cap.
CEILINGS = [2.0, 4.0, 8.0, 15.0, 15.0, 15.0, 15.0, 15.0]


class FakeTime(VirtualClock):
    """The one virtual clock, also recording the order of sleeps and checks."""

    def __init__(self, start=5000.0):
        super().__init__(start)
        self.events = []

    def clock(self):
        return self.monotonic()

    def sleep(self, seconds):
        super().sleep(seconds)
        self.events.append("sleep")

    def checker(self, results):
        """A check() answering `results` in turn (the last one repeats)."""
        results = list(results)

        def check():
            self.events.append("check")
            return results.pop(0) if len(results) > 1 else results[0]

        return check


def rands(draws):
    """A rand() that returns the drawn values in turn, forever."""
    cycle = itertools.cycle(draws)
    return lambda: next(cycle)


def test_returns_the_value_when_done():
    fake = FakeTime()
    check = fake.checker([(False, None, "in_progress"), (False, None, "in_progress"), (True, {"id": 802}, "completed")])
    value = wait_for(check, 600, "snapshot", clock=fake.clock, sleep=fake.sleep, intervals=iter([2.0, 4.0, 8.0]))
    assert value == {"id": 802}
    # Without check_first the caller has just seen the state: sleep before the first check.
    assert fake.events == ["sleep", "check", "sleep", "check", "sleep", "check"]
    assert fake.sleeps == [2.0, 4.0, 8.0]


def test_check_first_returns_at_once_when_already_done():
    fake = FakeTime()
    check = fake.checker([(True, "gone", "deleted")])
    assert wait_for(check, 600, "x", check_first=True, clock=fake.clock, sleep=fake.sleep) == "gone"
    assert fake.events == ["check"]
    assert fake.sleeps == []


def test_check_first_checks_before_sleeping():
    fake = FakeTime()
    check = fake.checker([(False, None, "still listed"), (True, None, "gone")])
    assert wait_for(check, 600, "x", check_first=True, clock=fake.clock, sleep=fake.sleep, intervals=iter([3.0])) is None
    assert fake.events == ["check", "sleep", "check"]


def test_without_check_first_a_done_state_still_waits_one_interval():
    fake = FakeTime()
    check = fake.checker([(True, "v", "completed")])
    assert wait_for(check, 600, "x", clock=fake.clock, sleep=fake.sleep, intervals=iter([5.0])) == "v"
    assert fake.events == ["sleep", "check"]


ADVICE = "The operation goes on at the provider: rerun the task to resume waiting, or raise wait_timeout."


def test_timeout_message_names_what_the_time_the_last_status_and_the_advice():
    fake = FakeTime()
    check = fake.checker([(False, None, "in_progress")])
    what = "snapshot before-update (id 802) on server 12345 to complete"
    with pytest.raises(VpsWaitTimeout) as info:
        wait_for(check, 30, what, status="queued", clock=fake.clock, sleep=fake.sleep, intervals=iter([10.0] * 10), advice=ADVICE)
    assert str(info.value) == (
        "Timed out after 30s (wait_timeout=30) waiting for snapshot before-update (id 802) on server 12345 to complete; "
        "last seen status: in_progress. " + ADVICE
    )
    # Checks at 10, 20 and at the deadline itself.
    assert fake.sleeps == [10.0, 10.0, 10.0]
    assert fake.events.count("check") == 3


@pytest.mark.parametrize("advice", [None, ""])
def test_timeout_message_without_advice_ends_with_the_status(advice):
    fake = FakeTime()
    check = fake.checker([(False, None, "in_progress")])
    with pytest.raises(VpsWaitTimeout) as info:
        wait_for(check, 4, "x", clock=fake.clock, sleep=fake.sleep, intervals=iter([4.0]), advice=advice)
    assert str(info.value) == "Timed out after 4s (wait_timeout=4) waiting for x; last seen status: in_progress."


def test_timeout_message_names_the_users_wait_timeout_when_given():
    """When `timeout` is only what is left of the user's wait_timeout, the message names the user's value."""
    fake = FakeTime()
    with pytest.raises(VpsWaitTimeout) as info:
        wait_for(fake.checker([(False, None, "restoring")]), 30, "x", clock=fake.clock, sleep=fake.sleep, intervals=iter([30.0]), limit=600)
    assert str(info.value) == "Timed out after 30s (wait_timeout=600) waiting for x; last seen status: restoring."


def test_the_status_defaults_to_unknown():
    fake = FakeTime()
    with pytest.raises(VpsWaitTimeout) as info:
        wait_for(fake.checker([(False, None, "never used")]), 0, "x", clock=fake.clock, sleep=fake.sleep)
    assert str(info.value) == "Timed out after 0s (wait_timeout=0) waiting for x; last seen status: unknown."
    assert fake.events == []


def test_waits_with_the_default_schedule_when_none_is_given():
    fake = FakeTime()
    check = fake.checker([(False, None, "in_progress")] * 5 + [(True, "done", "completed")])
    assert wait_for(check, 600, "x", clock=fake.clock, sleep=fake.sleep) == "done"
    assert len(fake.sleeps) == 6
    for interval, ceiling in zip(fake.sleeps, [2.0, 4.0, 8.0, 15.0, 15.0, 15.0]):
        assert ceiling * 0.9 <= interval <= ceiling


def test_timeout_message_keeps_the_initial_status_when_nothing_was_checked():
    fake = FakeTime()
    check = fake.checker([(False, None, "in_progress")])
    with pytest.raises(VpsWaitTimeout) as info:
        wait_for(check, 0, "server web (id 1) to finish restoring", status="restoring", clock=fake.clock, sleep=fake.sleep)
    assert "waiting for server web (id 1) to finish restoring; last seen status: restoring." in str(info.value)


def test_never_sleeps_past_the_deadline_and_checks_at_it():
    fake = FakeTime()
    times = []

    def check():
        times.append(fake.now - fake.start)
        return False, None, "in_progress"

    with pytest.raises(VpsWaitTimeout):
        wait_for(check, 45, "x", clock=fake.clock, sleep=fake.sleep, intervals=iter([20.0, 100.0, 100.0]))
    assert fake.sleeps == [20.0, 25.0]
    assert times == [20.0, 45.0]


def test_time_spent_in_checks_counts_against_the_deadline():
    fake = FakeTime()

    def check():
        fake.now += 7.0  # a slow API call
        return False, None, "in_progress"

    with pytest.raises(VpsWaitTimeout) as info:
        wait_for(check, 60, "x", clock=fake.clock, sleep=fake.sleep, intervals=itertools.repeat(10.0))
    assert fake.sleeps == [10.0, 10.0, 10.0, 9.0]
    assert str(info.value).startswith("Timed out after 67s (wait_timeout=60) waiting for x;")


def test_default_intervals_with_no_jitter_are_the_ceilings():
    assert list(itertools.islice(poll_intervals(rand=lambda: 0.0), len(CEILINGS))) == CEILINGS


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        (dict(initial=1.0, factor=3.0, cap=10.0, jitter=0.0), [1.0, 3.0, 9.0, 10.0, 10.0]),
        (dict(initial=5.0, factor=2.0, cap=5.0), [5.0, 5.0, 5.0, 5.0, 5.0]),
        (dict(initial=7.0, factor=2.0, cap=5.0), [5.0, 5.0, 5.0, 5.0, 5.0]),
        (dict(initial=1.0, factor=2.0, cap=6.0, jitter=0.5), [0.5, 1.0, 2.0, 6.0, 6.0]),
    ],
)
def test_poll_intervals_options(kwargs, expected):
    assert list(itertools.islice(poll_intervals(rand=lambda: 1.0, **kwargs), 5)) == expected


def jittered_bounds(ceiling):
    """The range an interval with this ceiling may take: jittered below the cap, exact at it."""
    return (ceiling * (1 - POLL_JITTER), ceiling) if ceiling < POLL_CAP else (POLL_CAP, POLL_CAP)


def test_full_jitter_shortens_the_ramp_only():
    intervals = list(itertools.islice(poll_intervals(rand=lambda: 1.0), 7))
    assert intervals == pytest.approx([c * (1 - POLL_JITTER) for c in CEILINGS[:3]] + [POLL_CAP] * 4)


@FAST
@given(draws=DRAWS)
def test_intervals_grow_to_the_cap_with_bounded_jitter(draws):
    intervals = list(itertools.islice(poll_intervals(rand=rands(draws)), 40))
    ceilings = CEILINGS + [POLL_CAP] * (40 - len(CEILINGS))
    for interval, ceiling in zip(intervals, ceilings):
        low, high = jittered_bounds(ceiling)
        assert low - 1e-9 <= interval <= high + 1e-9
    assert intervals[3:] == [POLL_CAP] * 37
    assert max(intervals) == POLL_CAP


def test_intervals_with_real_randomness_stay_within_bounds():
    intervals = list(itertools.islice(poll_intervals(), 200))
    ceilings = CEILINGS + [POLL_CAP] * (200 - len(CEILINGS))
    assert all(jittered_bounds(c)[0] - 1e-9 <= i <= jittered_bounds(c)[1] + 1e-9 for i, c in zip(intervals, ceilings))
    ramps = {tuple(itertools.islice(poll_intervals(), 3)) for dummy in range(20)}
    assert len(ramps) > 1  # tasks started together drift apart


@FAST
@given(timeout=st.integers(min_value=1, max_value=3600), draws=DRAWS, check_first=st.booleans())
def test_total_sleep_never_exceeds_the_timeout(timeout, draws, check_first):
    fake = FakeTime()
    check = fake.checker([(False, None, "in_progress")])
    with pytest.raises(VpsWaitTimeout):
        wait_for(check, timeout, "x", check_first=check_first, clock=fake.clock, sleep=fake.sleep, intervals=poll_intervals(rand=rands(draws)))
    assert sum(fake.sleeps) <= timeout + 1e-9
    assert fake.now - fake.start <= timeout + 1e-9
    # ... and it does use the whole timeout, with a last check at the deadline.
    assert sum(fake.sleeps) >= timeout - 1e-9
    assert fake.events[-1] == "check"
    assert len(fake.sleeps) <= 4 + timeout / POLL_CAP + 1


def checks_for_creation(seconds, rand):
    """How many checks wait_for makes for an operation that completes `seconds` after it starts; and when it noticed."""
    fake = FakeTime()
    count = []

    def check():
        count.append(fake.now)
        done = fake.now - fake.start >= seconds
        return done, "done" if done else None, "completed" if done else "in_progress"

    assert wait_for(check, 7200, "x", clock=fake.clock, sleep=fake.sleep, intervals=poll_intervals(rand=rand)) == "done"
    return len(count), count[-1] - fake.start


@FAST
@given(seconds=st.integers(min_value=1, max_value=600))
def test_a_creation_costs_at_most_5_plus_t_over_15_checks_without_jitter(seconds):
    checks, noticed = checks_for_creation(seconds, lambda: 0.0)
    assert checks <= 5 + seconds / 15
    assert seconds <= noticed <= seconds + POLL_CAP


@FAST
@given(seconds=st.integers(min_value=1, max_value=3600), draws=DRAWS)
def test_a_creation_with_jitter_costs_at_most_5_plus_t_over_15_checks(seconds, draws):
    checks, noticed = checks_for_creation(seconds, rands(draws))
    assert checks <= 5 + seconds / 15
    assert seconds <= noticed <= seconds + POLL_CAP


def test_a_ten_minute_creation_check_counts():
    assert checks_for_creation(600, lambda: 0.0) == (43, 614.0)
    assert checks_for_creation(600, lambda: 1.0)[0] == 43
