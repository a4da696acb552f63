# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit tests of the vps.cloud.snapshots event source: the client's HTTP mocked with `responses` (strict), an
asyncio queue, and a virtual clock (the source's sleeps move it; nothing here waits for real time)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading

import pytest
import requests
import responses

from ansible_collections.vps.cloud.extensions.eda.plugins.event_source import snapshots as source
from ansible_collections.vps.cloud.tests.harness.clock import VirtualClock

pytestmark = pytest.mark.timeout(60)

API = "https://api.vps.test/api/v1"
LIST_URL = API + "/snapshots/"
TOKEN = "eda-unit-tok-SECRET-9f3k"
HOUR = 3600.0
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def iso(epoch):
    return source._iso(epoch)  # pylint: disable=protected-access


def snap(snapshot_id, server=101, status="completed", age_hours=1.0, name=None, server_name=None):
    return {
        "id": snapshot_id,
        "server": {"id": server, "name": server_name or "web-%02d" % (server - 100)},
        "name": name or "snap-%d" % snapshot_id,
        "status": status,
        "size_mb": 100 if status == "completed" else None,
        "created_at": iso(NOW - age_hours * HOUR),
        "description": "",
    }


def page(items, count=None, next_url=None):
    return {"count": len(items) if count is None else count, "next": next_url, "previous": None, "results": items}


def new_clock():
    """Virtual time (the harness's one VirtualClock): the source's sleeps (``asleep``) record their delay and move both
    its wall clock (``time``, from NOW) and the monotonic one the client's pacing reads."""
    return VirtualClock(1000.0, wall=NOW)


class Harness:
    """A source with its queue and clock; `poll(listing or status...)` runs one step and returns its events."""

    def __init__(self, mock, **args):
        self.mock = mock
        self.clock = new_clock()
        self.queue = asyncio.Queue()
        settings = source.parse_args(dict({"api_url": API, "api_token": TOKEN, "interval": 60}, **args), environ={})
        self.source = source.SnapshotSource(
            self.queue, settings, sleep=self.clock.asleep, now=self.clock.time, monotonic=self.clock.monotonic, rand=lambda: 1.0
        )
        self.loop = asyncio.new_event_loop()

    def respond(self, body=None, status=200, headers=None, exc=None):
        if exc is not None:
            self.mock.add(responses.GET, LIST_URL, body=exc)
        else:
            self.mock.add(responses.GET, LIST_URL, json=body, status=status, headers=headers or {})

    def poll(self, items=None, **respond):
        """One step: the listing answers `items` (a page) or what `respond` says; the step's events."""
        if items is not None:
            self.respond(page(items))
        elif respond:
            self.respond(**respond)
        self.loop.run_until_complete(self.source.step())
        events = []
        while not self.queue.empty():
            events.append(self.queue.get_nowait())
        return events

    def close(self):
        if self.source._executor is not None:  # pylint: disable=protected-access
            self.source._executor.shutdown(wait=True)  # pylint: disable=protected-access
        self.loop.close()


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def make(mock):
    made = []

    def build(**args):
        harness = Harness(mock, **args)
        made.append(harness)
        return harness

    yield build
    for harness in made:
        harness.close()


def types(events):
    return [event["type"] for event in events]


# Baseline -------------------------------------------------------------------------------------------------


def test_first_poll_sets_the_baseline_and_emits_nothing(make):
    h = make()
    full = [snap(801 + i, status="completed") for i in range(5)] + [snap(900, server=102, status="failed")]
    assert h.poll(full) == []
    assert h.clock.sleeps == [60.0]
    # The same listing again: still nothing (no server event for a server that was at the limit from the start).
    assert h.poll(full) == []


def test_emit_existing_reports_what_is_already_there(make):
    h = make(emit_existing=True, max_age_hours=24)
    existing = [snap(801 + i, age_hours=30 + i) for i in range(5)] + [snap(900, server=102, status="failed")]
    events = h.poll(existing)
    assert types(events) == ["snapshot.created", "snapshot.completed"] * 5 + [
        "snapshot.created",
        "snapshot.failed",
        "server.at_limit",
        "server.no_restore_point",
        "server.no_restore_point",
    ]
    at_limit = events[-3]
    assert at_limit["server"] == {"id": 101, "name": "web-01"} and at_limit["count"] == 5 and at_limit["limit"] == 5
    assert [s["id"] for s in at_limit["snapshots"]] == [801, 802, 803, 804, 805]  # newest first
    stale_101, stale_102 = events[-2], events[-1]
    assert stale_101["server"]["id"] == 101 and stale_101["last_completed"]["id"] == 801 and stale_101["age_hours"] == 30.0
    assert stale_102["server"] == {"id": 102, "name": "web-02"} and stale_102["last_completed"] is None
    assert "no completed snapshot" in stale_102["reason"]
    assert h.poll(existing) == []


def test_an_incomplete_first_listing_is_no_baseline(make, mock):
    h = make()
    # count says 3, two came back, three times in a row (the listing changed while it was read).
    for _attempt in range(source.LISTING_READS):
        h.respond(page([snap(801), snap(802)], count=3))
    assert h.poll() == []
    assert not h.source.tracker.baseline_done
    # The next whole listing is the baseline: nothing is reported as created.
    assert h.poll([snap(801), snap(802), snap(803)]) == []
    assert h.source.tracker.baseline_done


# Snapshot events --------------------------------------------------------------------------------------------


def test_every_snapshot_event_type_with_the_snapshot_previous_status_and_server(make):
    h = make(max_age_hours=0)  # server 102 appears with no completed snapshot: its event is tested below
    h.poll([snap(801, status="in_progress"), snap(802), snap(803, status="in_progress"), snap(805, status="in_progress")])
    later = [snap(801, status="completed"), snap(803, status="failed"), snap(804, status="in_progress", server=102), snap(805, status="queued")]
    events = h.poll(later)
    assert types(events) == ["snapshot.completed", "snapshot.failed", "snapshot.created", "snapshot.status_changed", "snapshot.deleted"]
    for event in events:
        assert list(event)[0] == "type"
        assert set(event) == {"type", "snapshot", "previous_status", "server", "detected_at"}
    completed, failed, created, changed, deleted = events
    assert completed["snapshot"] == later[0] and completed["previous_status"] == "in_progress"
    assert completed["server"] == {"id": 101, "name": "web-01"}
    assert failed["snapshot"]["id"] == 803 and failed["snapshot"]["status"] == "failed"
    assert failed["previous_status"] == "in_progress"
    assert created["snapshot"] == later[2] and created["previous_status"] is None
    assert created["server"] == {"id": 102, "name": "web-02"}
    assert changed["snapshot"]["status"] == "queued" and changed["previous_status"] == "in_progress"
    # A vanished snapshot as the API last showed it.
    assert deleted["snapshot"] == snap(802) and deleted["previous_status"] == "completed"
    assert deleted["detected_at"] == iso(NOW + 60)


def test_the_error_status_counts_as_failed(make):
    h = make()
    h.poll([snap(801, status="in_progress")])
    assert types(h.poll([snap(801, status="error")])) == ["snapshot.failed"]
    # failed -> error is no new failure: any other transition
    assert types(h.poll([snap(801, status="failed")])) == ["snapshot.status_changed"]


def test_a_snapshot_that_appeared_and_ended_between_two_polls_is_not_lost(make):
    h = make()
    h.poll([snap(801)])
    events = h.poll([snap(801), snap(802, status="completed"), snap(803, status="failed")])
    assert types(events) == ["snapshot.created", "snapshot.completed", "snapshot.created", "snapshot.failed"]
    assert all(event["previous_status"] is None for event in events)


def test_the_same_change_is_never_emitted_twice(make):
    h = make()
    h.poll([snap(801, status="in_progress")])
    assert types(h.poll([snap(801, status="completed")])) == ["snapshot.completed"]
    for _attempt in range(3):
        assert h.poll([snap(801, status="completed")]) == []
    assert types(h.poll([])) == ["snapshot.deleted", "server.no_restore_point"]  # it was the server's only one
    assert h.poll([]) == []


def test_events_carry_the_snapshot_as_last_seen_with_the_providers_extra_fields(make):
    h = make()
    h.poll([snap(801, status="in_progress")])
    shown = dict(snap(801, status="completed"), region="za-1")
    event = h.poll([shown])[0]
    assert event["snapshot"] == shown
    event["snapshot"]["name"] = "changed by a rule"
    assert h.source.tracker.snapshots[801]["name"] == "snap-801"  # events are copies


def test_entries_that_are_not_snapshots_are_ignored_and_nothing_is_taken_as_deleted(make, caplog):
    h = make()
    h.poll([snap(801), snap(802)])
    caplog.set_level(logging.WARNING, logger=source.SOURCE_NAME)
    for _attempt in range(source.LISTING_READS):
        h.respond(page([snap(801), {"id": "x"}]))
    assert h.poll() == []
    assert "not snapshots" in caplog.text
    assert h.poll([snap(801), snap(802)]) == []


def test_a_listing_changed_while_read_page_by_page_is_read_again(make, mock):
    h = make()
    h.poll([snap(801), snap(802), snap(803)])
    # First read: page 1 says 3, page 2 says 2 (one was deleted in between) and repeats an entry; second read whole.
    mock.add(responses.GET, LIST_URL, json=page([snap(801), snap(802)], count=3, next_url=LIST_URL + "?page=2"))
    mock.add(responses.GET, LIST_URL + "?page=2", json=page([snap(802)], count=2))
    mock.add(responses.GET, LIST_URL, json=page([snap(801), snap(803)]))
    assert [(e["type"], e["snapshot"]["id"]) for e in h.poll()] == [("snapshot.deleted", 802)]


def test_one_server_is_asked_for_with_server_id(make, mock):
    h = make(server_id=101)
    h.poll([snap(801)])
    assert mock.calls[0].request.params == {"server_id": "101"}
    assert mock.calls[0].request.headers["Authorization"] == "Bearer " + TOKEN


def test_the_poll_runs_in_a_worker_thread_not_on_the_event_loop(make, mock):
    h = make()
    threads = []

    def answer(request):  # pylint: disable=unused-argument
        threads.append(threading.current_thread())
        import json  # pylint: disable=import-outside-toplevel

        return 200, {}, json.dumps(page([snap(801)]))

    mock.add_callback(responses.GET, LIST_URL, callback=answer)
    h.poll()
    assert threads and threads[0] is not threading.main_thread()
    assert threads[0].name.startswith("vps-snapshots")


# Server events: once per crossing --------------------------------------------------------------------------


def test_at_limit_is_sent_once_per_crossing(make):
    h = make(max_age_hours=0)
    four = [snap(801 + i) for i in range(4)]
    assert h.poll(four) == []
    events = h.poll(four + [snap(805, status="in_progress")])
    assert types(events) == ["snapshot.created", "server.at_limit"]
    assert events[1]["count"] == 5 and events[1]["server"] == {"id": 101, "name": "web-01"}
    assert h.poll(four + [snap(805, status="in_progress")]) == []
    assert types(h.poll(four + [snap(805)])) == ["snapshot.completed"]  # still at the limit: not again
    assert types(h.poll(four)) == ["snapshot.deleted"]  # back under: re-armed, no event
    assert types(h.poll(four + [snap(806)])) == ["snapshot.created", "snapshot.completed", "server.at_limit"]


def test_at_limit_counts_each_server_on_its_own_and_honours_limit(make):
    h = make(max_age_hours=0, limit=3)
    h.poll([snap(801), snap(802), snap(901, server=102)])
    events = h.poll([snap(801), snap(802), snap(803), snap(901, server=102), snap(902, server=102)])
    assert [(e["type"], e["server"]["id"]) for e in events if e["type"].startswith("server.")] == [("server.at_limit", 101)]


def test_no_restore_point_is_sent_once_when_the_newest_completed_snapshot_grows_too_old(make):
    h = make(max_age_hours=24, interval=3600)
    assert h.poll([snap(801, age_hours=22.5), snap(802, status="failed", age_hours=1)]) == []
    assert h.poll([snap(801, age_hours=22.5), snap(802, status="failed", age_hours=1)]) == []  # now 23.5 h old
    events = h.poll([snap(801, age_hours=22.5), snap(802, status="failed", age_hours=1)])  # now 24.5 h old
    assert types(events) == ["server.no_restore_point"]
    event = events[0]
    assert event["server"] == {"id": 101, "name": "web-01"} and event["max_age_hours"] == 24.0
    assert event["last_completed"]["id"] == 801 and event["age_hours"] == 24.5
    assert "more than max_age_hours=24" in event["reason"]
    assert h.poll([snap(801, age_hours=22.5), snap(802, status="failed", age_hours=1)]) == []
    # A fresh completed snapshot re-arms it; when that one grows old too, it is sent again.
    fresh = [snap(801, age_hours=22.5), snap(803, age_hours=-3.5)]  # created just now (virtual clock: 3 h later)
    assert types(h.poll(fresh)) == ["snapshot.created", "snapshot.completed", "snapshot.deleted"]
    h.clock.advance(22 * HOUR)
    assert h.poll(fresh) == []
    h.clock.advance(2 * HOUR)
    assert types(h.poll(fresh)) == ["server.no_restore_point"]


def test_no_restore_point_when_a_server_loses_its_last_completed_snapshot(make):
    h = make(max_age_hours=24)
    h.poll([snap(801), snap(901, server=102)])
    events = h.poll([snap(801, status="failed"), snap(901, server=102)])
    assert types(events) == ["snapshot.failed", "server.no_restore_point"]
    assert events[1]["last_completed"] is None and events[1]["age_hours"] is None
    # Every snapshot of server 102 deleted: the server stays known, and has no restore point.
    events = h.poll([snap(801, status="failed")])
    assert [(e["type"], e["server"]["id"]) for e in events] == [("snapshot.deleted", 102), ("server.no_restore_point", 102)]


def test_a_watched_server_without_any_snapshot_has_no_restore_point_with_emit_existing(make):
    h = make(server_id=105, emit_existing=True)
    events = h.poll([])
    assert types(events) == ["server.no_restore_point"] and events[0]["server"] == {"id": 105, "name": None}


def test_max_age_hours_zero_turns_the_stale_event_off(make):
    h = make(max_age_hours=0, emit_existing=True)
    assert types(h.poll([snap(801, age_hours=1000)])) == ["snapshot.created", "snapshot.completed"]


# Failures: back off, never end on what heals; end clearly on what cannot ------------------------------------


def test_429_backs_off_honouring_retry_after_and_loses_no_change(make, caplog):
    caplog.set_level(logging.INFO, logger=source.SOURCE_NAME)
    h = make()
    h.poll([snap(801, status="in_progress")])
    assert h.poll(status=429, body={"detail": "Request was throttled."}, headers={"Retry-After": "37"}) == []
    assert h.clock.sleeps[-1] == 37.0
    assert "HTTP 429" in caplog.text and "as Retry-After asks" in caplog.text
    assert types(h.poll([snap(801, status="completed")])) == ["snapshot.completed"]
    assert h.clock.sleeps[-1] == 60.0
    assert "the API answers again after 1 failed poll(s)" in caplog.text


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_backs_off_growing_to_max_backoff(make, caplog, status):
    caplog.set_level(logging.WARNING, logger=source.SOURCE_NAME)
    h = make(max_backoff=10)
    h.poll([snap(801)])
    for _attempt in range(5):
        assert h.poll(status=status, body={"detail": "upstream down"}) == []
    # rand=1.0: the full ceiling each time: 2, 4, 8, then capped at max_backoff
    assert h.clock.sleeps[1:] == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert caplog.text.count("poll failed") == 5 and "HTTP %d" % status in caplog.text
    assert types(h.poll([snap(802)])) == ["snapshot.created", "snapshot.completed", "snapshot.deleted"]


def test_503_with_retry_after_waits_at_least_that_long(make):
    h = make()
    h.poll([snap(801)])
    h.poll(status=503, body={"detail": "maintenance"}, headers={"Retry-After": "45"})
    assert h.clock.sleeps[-1] == 45.0


def test_no_answer_is_transient(make, caplog):
    caplog.set_level(logging.WARNING, logger=source.SOURCE_NAME)
    h = make()
    assert h.poll(exc=requests.exceptions.ConnectionError("connection refused")) == []
    assert "poll failed" in caplog.text and "connection failed" in caplog.text
    assert h.poll([snap(801)]) == []  # the baseline, once the API answers
    assert h.poll(exc=requests.exceptions.ReadTimeout("read timed out")) == []
    assert types(h.poll([])) == ["snapshot.deleted", "server.no_restore_point"]


def test_the_run_loop_outlives_a_long_outage(mock):
    clock = new_clock()
    queue = asyncio.Queue()
    mock.add(responses.GET, LIST_URL, json=page([snap(801, status="in_progress")]))
    for _attempt in range(6):
        mock.add(responses.GET, LIST_URL, json={"detail": "bad gateway"}, status=502)
    mock.add(responses.GET, LIST_URL, json=page([snap(801, status="failed")]))

    class Enough(Exception):
        pass

    async def sleep(seconds):
        await clock.asleep(seconds)
        if len(clock.sleeps) == 8:
            raise Enough()

    settings = source.parse_args({"api_url": API, "api_token": TOKEN, "interval": 5}, environ={})
    src = source.SnapshotSource(queue, settings, sleep=sleep, now=clock.time, monotonic=clock.monotonic, rand=lambda: 0.0)
    with pytest.raises(Enough):
        asyncio.run(src.run())
    assert [queue.get_nowait()["type"] for _attempt in range(queue.qsize())] == ["snapshot.failed"]
    assert clock.sleeps[0] == 5 and clock.sleeps[-1] == 5 and len(clock.sleeps) == 8


def test_401_ends_the_source_with_a_clear_message_even_after_the_baseline(make):
    h = make()
    h.poll([snap(801)])
    with pytest.raises(source.VpsSourceError) as raised:
        h.poll(status=401, body={"detail": "Invalid token."})
    message = str(raised.value)
    assert "HTTP 401" in message and "Invalid token." in message and "api_token" in message
    assert TOKEN not in message


def test_main_ends_on_401_at_once(mock):
    mock.add(responses.GET, LIST_URL, json={"detail": "Authentication credentials were not provided."}, status=401)
    with pytest.raises(source.VpsSourceError, match="refused the token"):
        asyncio.run(source.main(asyncio.Queue(), {"api_url": API, "api_token": TOKEN}))


def test_a_404_on_the_first_poll_ends_the_source_but_later_it_is_polled_again(make, caplog):
    h = make()
    with pytest.raises(source.VpsSourceError, match="first poll was refused .HTTP 404 on GET https://api.vps.test/api/v1"):
        h.poll(status=404, body={"detail": "Not found."})
    h2 = make()
    h2.poll([snap(801)])
    caplog.set_level(logging.WARNING, logger=source.SOURCE_NAME)
    assert h2.poll(status=404, body={"detail": "Not found."}) == []
    assert [r.levelname for r in caplog.records if "poll failed" in r.getMessage()] == ["ERROR"]


def test_the_token_is_in_no_event_and_no_log(make, caplog):
    caplog.set_level(logging.DEBUG)
    h = make(emit_existing=True)
    events = h.poll([snap(801, status="in_progress")])
    events += h.poll(status=503, body={"detail": "token %s is fine" % "x"})
    events += h.poll(exc=requests.exceptions.ConnectionError("refused"))
    events += h.poll([snap(801, status="failed")])
    assert events and TOKEN not in repr(events)
    assert TOKEN not in caplog.text


# Arguments ---------------------------------------------------------------------------------------------


def test_arguments_from_the_environment_and_defaults():
    settings = source.parse_args({}, environ={"VPS_API_URL": API, "VPS_API_TOKEN": TOKEN})
    assert settings["api_url"] == API and settings["api_token"] == TOKEN
    assert settings["interval"] == 60.0 and settings["max_age_hours"] == 24.0 and settings["limit"] == 5
    assert settings["emit_existing"] is False and settings["validate_certs"] is True and settings["server_id"] is None
    # Rulebook variables often arrive as strings.
    settings = source.parse_args(
        {"api_token": TOKEN, "interval": "30", "server_id": "12345", "emit_existing": "true", "validate_certs": "no", "eda_feedback_queue": object()},
        environ={},
    )
    assert settings["interval"] == 30.0 and settings["server_id"] == 12345
    assert settings["emit_existing"] is True and settings["validate_certs"] is False
    assert settings["api_url"] == "https://admin.vps.org/api/v1"


def test_every_bad_argument_is_named():
    with pytest.raises(source.VpsSourceError) as raised:
        source.parse_args({"intervall": 5, "interval": "soon", "server_id": 0, "limit": 2.5, "emit_existing": "maybe", "max_age_hours": -1}, environ={})
    message = str(raised.value)
    for expected in (
        "unknown argument(s) intervall",
        "interval must be a number of at least 1, got 'soon'",
        "server_id must be a whole number of at least 1, got 0",
        "limit must be a whole number",
        "emit_existing must be true or false, got 'maybe'",
        "max_age_hours must be a number of at least 0",
        "no API token",
    ):
        assert expected in message


def test_a_bad_api_url_ends_main_with_the_clients_words():
    with pytest.raises(source.VpsSourceError, match="api_url must be an http:// or https:// URL"):
        asyncio.run(source.main(asyncio.Queue(), {"api_url": "admin.vps.org", "api_token": TOKEN}))


def test_a_missing_ca_path_is_named():
    with pytest.raises(source.VpsSourceError, match="ca_path /nonexistent.pem does not exist"):
        asyncio.run(source.main(asyncio.Queue(), {"api_url": API, "api_token": TOKEN, "ca_path": "/nonexistent.pem"}))


def test_documentation_parses_and_lists_every_argument():
    import yaml  # pylint: disable=import-outside-toplevel

    doc = yaml.safe_load(source.DOCUMENTATION)
    assert set(doc["options"]) == set(source.KNOWN_ARGS)
    assert isinstance(yaml.safe_load(source.EXAMPLES), list)


def test_run_as_ansible_rulebook_runs_it_the_source_finds_the_collections_module_utils_itself(tmp_path):
    """ansible-rulebook loads the file with runpy.run_path, without the collection on sys.path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import runpy, sys; module = runpy.run_path(sys.argv[1]); print(module['SOURCE_NAME'], module['CLIENT'].__name__, callable(module['main']))"
    done = subprocess.run([sys.executable, "-c", code, source.__file__], cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["vps.cloud.snapshots", "ansible_collections.vps.cloud.plugins.module_utils.client", "True"]
