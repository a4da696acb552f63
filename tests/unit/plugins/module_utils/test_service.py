# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""SnapshotService: reads, writes recorded in a Changes journal, the listings strategy, server presence, busy waits."""

from __future__ import annotations

import threading

import pytest
import requests as _requests
import responses

from ansible_collections.vps.cloud.plugins.module_utils.absent import ensure_absent
from ansible_collections.vps.cloud.plugins.module_utils.client import VpsAmbiguousError, VpsApiError
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.service import (
    Changes,
    SnapshotError,
    SnapshotService,
    TaskFailed,
    send_once,
    with_changes_made,
)
from ansible_collections.vps.cloud.tests.unit.helpers import (
    API,
    LIST,
    LIST_ALL,
    SERVER,
    SERVER_ID,
    add_delete,
    add_list,
    add_restore,
    add_server,
    build_service,
    clean,
    describe,
    listing,
    new_snapshot,
    restore_call,
    sent,
    server_body,
    snap,
    url,
)

A = snap(801, "a", server_id=101)
B = snap(802, "b", server_id=102)
C = snap(803, "c", server_id=103)


@pytest.fixture
def service(vt):
    return build_service(vt)


# Changes --------------------------------------------------------------------------------------------------------------

OLD = clean(snap(700, "old", created_at="2025-01-10T12:00:00Z"))
NEW = clean(new_snapshot())
FROM = clean(snap(801, "golden"))


@pytest.mark.parametrize(
    "created, deleted, restored, summary",
    [
        ([], [], [], ""),
        ([NEW], [], [], "It created %s." % describe(NEW)),
        ([], [OLD, OLD], [], "It deleted %s; %s." % (describe(OLD, "10d 0h old"), describe(OLD, "10d 0h old"))),
        ([], [], [FROM], "It started the restore of server 12345 from snapshot %s." % describe(FROM)),
        (
            [NEW],
            [OLD],
            [FROM],
            "It created %s, and deleted %s, and started the restore of server 12345 from snapshot %s."
            % (describe(NEW), describe(OLD, "10d 0h old"), describe(FROM)),
        ),
        (
            [NEW, OLD],
            [],
            [FROM, OLD],
            "It created %s; %s, and started the restore of server 12345 from snapshot %s; 12345 from "
            "snapshot %s." % (describe(NEW), describe(OLD), describe(FROM), describe(OLD)),
        ),
    ],
)
def test_the_journal_names_every_change_with_the_age_of_what_was_deleted(created, deleted, restored, summary):
    changes = Changes()
    changes.created, changes.deleted, changes.restored = created, deleted, restored

    assert changes.summary(1737374400) == summary
    assert bool(changes) is bool(summary)


@pytest.mark.parametrize("kind", ["SnapshotError", "TaskFailed"])
def test_an_error_reads_as_its_message_in_a_traceback(kind):
    error = SnapshotError("Refused.", failure={}) if kind == "SnapshotError" else TaskFailed(dict(msg="Refused.", changed=True))

    assert str(error) == "Refused."


def test_without_a_clock_the_journal_names_no_age():
    changes = Changes()
    changes.deleted.append(OLD)

    assert changes.summary() == "It deleted %s." % describe(OLD)


def test_a_failure_message_names_every_change_made_before_it_in_order():
    first, none_made, second = Changes(), Changes(), Changes()
    first.created.append(NEW)
    second.deleted.append(OLD)

    assert with_changes_made("Refused.", 1737374400) == "Refused."
    assert with_changes_made("Refused.", 1737374400, None, none_made) == "Refused."
    assert with_changes_made("Refused.", 1737374400, first, None, second) == (
        "Refused. Before this failure the task made changes: It created %s. It deleted %s." % (describe(NEW), describe(OLD, "10d 0h old"))
    )


# Reading --------------------------------------------------------------------------------------------------------------


def test_a_listing_is_newest_first_and_pages_are_followed(rsps, service):
    # `count` is the whole list's, on every page.
    first = [snap(1, "x", created_at="2025-01-01T00:00:00Z")]
    second = [snap(3, "z", created_at="2025-01-03T00:00:00Z"), snap(2, "y", created_at="2025-01-03T00:00:00Z")]
    add_list(rsps, first, server_id=None, body={"count": 3, "next": url("snapshots/?page=2"), "previous": None, "results": first})
    add_list(rsps, second, page_url=url("snapshots/?page=2"), body={"count": 3, "next": None, "previous": None, "results": second})

    assert [s["id"] for s in service.list()] == [3, 2, 1]
    assert service.account_pages == 2


def test_a_listing_of_one_server_does_not_tell_how_many_pages_the_account_has(rsps, service):
    add_list(rsps, [])

    assert service.list(SERVER_ID) == []
    assert service.account_pages is None
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize(
    "server_ids, pages, reads",
    [
        ([], None, []),
        ([101], None, [listing(101)]),
        ([101, 101], None, [listing(101)]),
        ([102, 101], None, [LIST_ALL]),
        ([101, 102], 2, [LIST_ALL]),
        ([101, 102], 3, [listing(101), listing(102)]),
        ([101, 102, 103], 3, [LIST_ALL]),
    ],
    ids=["none", "one server", "one server twice", "two servers", "as many pages as servers", "more pages than servers", "three servers"],
)
def test_listings_take_the_fewest_requests(rsps, service, server_ids, pages, reads):
    service.account_pages = pages
    if reads == [LIST_ALL]:
        add_list(rsps, [A, B, C, snap(804, "other", server_id=999)], server_id=None)
    for server_id in (101, 102):
        if listing(server_id) in reads:
            add_list(rsps, [A if server_id == 101 else B], server_id=server_id)

    result = service.listings(server_ids)

    expected = dict((server_id, [clean_raw for clean_raw in (A, B, C) if clean_raw["server"]["id"] == server_id]) for server_id in server_ids)
    assert result == expected
    assert sorted(sent(rsps)) == sorted(reads)


def test_a_first_page_showing_more_pages_than_servers_reads_each_server_on_its_own(rsps, service):
    rsps.add(
        responses.GET,
        url("snapshots/"),
        match=[responses.matchers.query_string_matcher("")],
        json={"count": 300, "next": url("snapshots/?page=2"), "results": [A, B, C]},
    )
    add_list(rsps, [A], server_id=101)
    add_list(rsps, [B], server_id=102)

    assert service.listings([101, 102]) == {101: [A], 102: [B]}
    assert service.account_pages == 100
    assert sorted(sent(rsps)) == sorted([LIST_ALL, listing(101), listing(102)])


@pytest.mark.parametrize(
    "page, found",
    [
        ({"count": 3, "next": None, "results": [A, B, C]}, {101: [A], 102: [B]}),
        ({"count": 4, "next": None, "results": [A, B]}, {101: [A], 102: [B]}),
        ({"count": "many", "next": None, "results": [A, B, C]}, {101: [A], 102: [B]}),
        ({"count": True, "next": None, "results": [A, B, C]}, {101: [A], 102: [B]}),
        ({"count": 0, "next": None, "results": []}, {101: [], 102: []}),
        ([A, B, C], {101: [A], 102: [B]}),
    ],
    ids=["one page", "as many pages as servers", "no count", "a boolean count", "empty", "unpaginated"],
)
def test_a_first_page_that_tells_no_more_pages_than_servers_is_read_for_all(rsps, service, page, found):
    rsps.add(responses.GET, url("snapshots/"), json=page)

    assert service.listings([101, 102]) == found
    assert sent(rsps) == [LIST_ALL]


def test_a_failed_account_listing_is_every_servers_error(rsps, service):
    add_list(rsps, [], server_id=None, status=401, body={"detail": "No."})

    result = service.listings([101, 102])

    assert set(result) == {101, 102}
    assert result[101] is result[102]
    assert result[101].message == "Could not list snapshots: No. (HTTP 401 on GET snapshots/)"


def test_a_failed_server_listing_is_that_servers_error_alone(rsps, vt):
    service = build_service(vt, concurrency=2)
    service.account_pages = 5
    add_list(rsps, [A], server_id=101)
    add_list(rsps, [], server_id=102, status=401, body={"detail": "No."})

    result = service.listings([101, 102])

    assert result[101] == [A]
    assert isinstance(result[102], SnapshotError)


@pytest.mark.parametrize(
    "items, problem",
    [
        ([A, "x", "y"], "2 entries this module cannot read, such as an entry that is not an object ('x')"),
        ([dict(A, id=True)], "1 entries this module cannot read, such as an entry without an integer id (True)"),
        ([dict(A, name=None)], "1 entries this module cannot read, such as snapshot 801 without a name or status"),
        ([dict(A, status=3)], "1 entries this module cannot read, such as snapshot 801 without a name or status"),
        ([dict(A, server={"id": "101"})], "1 entries this module cannot read, such as snapshot 801 without its server's id"),
        ([dict(A, server={"id": True})], "1 entries this module cannot read, such as snapshot 801 without its server's id"),
    ],
)
def test_entries_unlike_the_contract_are_refused(rsps, service, items, problem):
    add_list(rsps, items, server_id=None)

    with pytest.raises(SnapshotError) as caught:
        service.list()

    assert caught.value.message == "Could not list snapshots: the API's list holds " + problem
    assert caught.value.details == {}


@pytest.mark.parametrize(
    "base, hint",
    [
        (API, ""),
        (
            "https://api.vps.test/",
            ": api_url (https://api.vps.test) must be the API's base URL up to and including its version, such as https://admin.vps.org/api/v1",
        ),
        (
            "https://api.vps.test/v1/XX",
            ": api_url (https://api.vps.test/v1/XX) must be the API's base URL up to and including its version, such as https://admin.vps.org/api/v1",
        ),
    ],
)
def test_a_404_listing_names_the_url_and_the_base_url_it_expects(rsps, vt, base, hint):
    service = build_service(vt)
    service.client.base_url = base.rstrip("/")
    rsps.add(responses.GET, base.rstrip("/") + "/snapshots/", json={"detail": "Not found."}, status=404)

    with pytest.raises(SnapshotError) as caught:
        service.list()

    assert caught.value.message == (
        "Could not list snapshots: Not found. (HTTP 404 on GET snapshots/). The API answered 404 for %s/snapshots/%s" % (base.rstrip("/"), hint)
    )
    assert caught.value.details["failure"]["status"] == 404


def test_find_by_id(rsps, service):
    add_list(rsps, [A, B], server_id=None)
    add_list(rsps, [A], server_id=101)

    assert service.find_by_id(802) == B
    assert service.find_by_id(802, 101) is None


# Servers --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, shown", [(["running"], "['running']"), ({"id": 1, "status": None}, "{'id': 1, 'status': None}")])
def test_a_server_without_a_status_is_an_error(rsps, service, body, shown):
    add_server(rsps, body=body)

    with pytest.raises(SnapshotError) as caught:
        service.get_server(SERVER_ID)

    assert caught.value.message == "Could not read server 12345: the API answered GET servers/12345/ without a status (%s)" % shown


MISSING = "Server 12345 does not exist: GET servers/12345/ answered HTTP 404, while other servers of the account can be read. Check server_id."
NO_ENDPOINT = "The API has no usable GET /servers/12345/ (HTTP %s), so whether server 12345 exists and is idle could not be checked beforehand."
PAGE_OF = {
    "other server": {"count": 2, "next": None, "results": [snap(900, "x", server_id=777), snap(901, "y", server_id=SERVER_ID)]},
    "plain list": [snap(900, "x", server_id=778), "junk"],
    "only this server": {"count": 1, "next": None, "results": [snap(901, "y")]},
    "empty": {"count": 0, "next": None, "results": []},
    "not a list": {"detail": "odd"},
}


@pytest.mark.parametrize(
    "status, page, other, outcome",
    [
        (404, "other server", 200, MISSING),
        (404, "plain list", 200, MISSING),
        (404, "other server", 404, NO_ENDPOINT % 404),
        (404, "only this server", None, NO_ENDPOINT % 404),
        (404, "empty", None, NO_ENDPOINT % 404),
        (404, "not a list", None, NO_ENDPOINT % 404),
        (404, 500, None, NO_ENDPOINT % 404),
        (405, None, None, NO_ENDPOINT % 405),
        (403, None, None, "Could not read server 12345: nope (HTTP 403 on GET servers/12345/)"),
    ],
)
def test_server_presence_tells_a_missing_server_from_a_missing_endpoint(rsps, vt, status, page, other, outcome):
    seen = []
    service = build_service(vt, retries=0, warnings_=seen)
    add_server(rsps, http_status=status, body={"detail": "nope"})
    if isinstance(page, str):
        rsps.add(responses.GET, url("snapshots/"), json=PAGE_OF[page])
    elif page:
        rsps.add(responses.GET, url("snapshots/"), json={"detail": "down"}, status=page)
    if other:
        server_id = 778 if page == "plain list" else 777
        add_server(rsps, http_status=other, body=server_body(server_id=server_id), server_id=server_id)

    if outcome.startswith("The API has no usable"):
        assert service.server_presence(SERVER_ID) is None
        assert seen == [outcome]
    else:
        with pytest.raises(SnapshotError) as caught:
            service.server_presence(SERVER_ID)
        assert caught.value.message == outcome
        assert caught.value.details["failure"]["status"] == status
        assert seen == []


def test_server_presence_returns_the_server(rsps, service):
    add_server(rsps, "running")

    assert service.server_presence(SERVER_ID)["status"] == "running"


@pytest.mark.parametrize(
    "server, busy",
    [
        (None, False),
        ({"status": "running"}, False),
        ({"status": "stopped"}, False),
        ({"status": None}, False),
        ({"status": "restoring"}, True),
        ({"status": "snapshotting"}, True),
    ],
)
def test_is_busy(service, server, busy):
    assert service.is_busy(server) is busy


def test_wait_until_idle_returns_an_idle_server_without_a_request(rsps, service, vt):
    server = {"id": SERVER_ID, "status": "stopped"}

    assert service.wait_until_idle(SERVER_ID, 10, server) is server
    assert vt.sleeps == []


@pytest.mark.parametrize("server, sleeps_first", [(None, False), ({"status": "starting"}, True)])
def test_wait_until_idle_reads_at_once_only_when_it_has_not_seen_the_server(rsps, service, vt, server, sleeps_first):
    add_server(rsps, "running")

    assert service.wait_until_idle(SERVER_ID, 10, server)["status"] == "running"
    assert len(vt.sleeps) == (1 if sleeps_first else 0)


@pytest.mark.parametrize("server, timeout, last", [(None, 5, "stopping"), ({"status": "starting"}, 0, "starting")])
def test_wait_until_idle_times_out_with_what_it_saw_last(rsps, service, server, timeout, last):
    if server is None:
        add_server(rsps, "stopping")

    with pytest.raises(SnapshotError) as caught:
        service.wait_until_idle(SERVER_ID, timeout, server, advice="Do this.", what="it", limit=99)

    assert caught.value.message == "Timed out after %ds (wait_timeout=99) waiting for it; last seen status: %s. Do this." % (timeout, last)


def test_wait_until_idle_names_the_server_by_default(rsps, service):
    with pytest.raises(SnapshotError) as caught:
        service.wait_until_idle(SERVER_ID, 0, {"status": "starting"})

    assert caught.value.message == ("Timed out after 0s (wait_timeout=0) waiting for server 12345 to be running or stopped; last seen status: starting.")


def test_a_negative_time_left_is_no_time_at_all(service, vt):
    with pytest.raises(SnapshotError) as caught:
        service.wait(lambda: (False, None, "x"), -5, "nothing", "y")

    assert caught.value.message == "Timed out after 0s (wait_timeout=0) waiting for nothing; last seen status: y."
    assert vt.sleeps == []


# Messages -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, shown, expected",
    [
        ("snapshots/", "https://elsewhere.test/v1/snapshots/?server_id=5", "https://elsewhere.test/v1/snapshots/?server_id=5"),
        ("servers/5/", None, API + "/servers/5/"),
        (None, None, API + "/snapshots/"),
    ],
    ids=["the URL the error names", "the URL of its path", "the listing's URL"],
)
def test_a_404_hint_names_the_url_that_answered(service, path, shown, expected):
    error = VpsApiError("Not found.", status=404, method="GET", path=path, url=shown)

    assert service._url_hint(error) == ". The API answered 404 for %s" % expected  # pylint: disable=protected-access
    assert service._url_hint(VpsApiError("No.", status=403, path=path, url=shown)) == ""  # pylint: disable=protected-access


# A task left running by an interrupted run -----------------------------------------------------------------------------


@pytest.fixture
def orphaned(vt):
    """A service whose task has lost its run: nobody can receive its result any more."""
    service = build_service(vt)
    service.result_is_read = lambda: False
    return service


ORPHANED = (
    "Stopped before it would %s: the Ansible run that started this task is gone (interrupted, or its controller died), "
    "so nobody would learn of it. Nothing more is changed; a rerun resumes."
)


@pytest.mark.parametrize(
    "change, action",
    [
        (lambda service, changes: service.delete(A, changes), "delete snapshot %s" % describe(A)),
        (lambda service, changes: service.create(SERVER_ID, "pre", None, changes), "create snapshot 'pre' on server %s" % SERVER_ID),
        (lambda service, changes: service.start_restore(A, changes), "restore server 101 from snapshot %s" % describe(A)),
    ],
    ids=["deletes", "creates", "restores"],
)
def test_an_orphaned_task_changes_nothing(rsps, orphaned, change, action):
    changes = Changes()

    with pytest.raises(SnapshotError) as caught:
        change(orphaned, changes)

    assert caught.value.message == ORPHANED % action
    assert not rsps.calls and not changes


@pytest.mark.parametrize("check_first", [True, False])
def test_an_orphaned_task_stops_waiting_before_its_next_look(orphaned, vt, check_first):
    looks = []

    with pytest.raises(SnapshotError) as caught:
        orphaned.wait(lambda: looks.append(1) or (False, None, "x"), 600, "it", "y", check_first=check_first)

    assert caught.value.message == ORPHANED % "wait for it"
    assert looks == [] and len(vt.sleeps) == (0 if check_first else 1)


def test_a_task_whose_run_goes_away_while_it_waits_stops_at_its_next_look(service, vt):
    looks = []
    service.result_is_read = lambda: len(looks) < 2

    with pytest.raises(SnapshotError) as caught:
        service.wait(lambda: looks.append(1) or (False, None, "x"), 600, "it", "y")

    assert caught.value.message == ORPHANED % "wait for it"
    assert len(looks) == 2


def test_a_task_whose_result_is_read_writes_as_usual(rsps, service):
    add_delete(rsps, 801)

    assert service.result_is_read() is True
    assert service.delete(A, Changes()) is True


# Writing --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status, deleted", [(204, True), (404, False)])
def test_a_deletion_is_recorded_unless_someone_else_deleted_it_first(rsps, service, status, deleted):
    add_delete(rsps, 801, status=status)
    changes = Changes()

    assert service.delete(A, changes) is deleted
    assert changes.deleted == ([clean(A)] if deleted else [])


def test_a_refused_deletion_is_not_recorded(rsps, service):
    add_delete(rsps, 801, status=409, json={"detail": "busy"})
    changes = Changes()

    with pytest.raises(SnapshotError) as caught:
        service.delete(A, changes)

    assert caught.value.message == "Could not delete snapshot %s: busy (HTTP 409 on DELETE snapshots/801/)" % describe(A)
    assert not changes


# Issue 22: what happened at the provider is what the journal records ----------------------------------------------------

STILL_LISTED = (
    "Could not delete snapshot %s: %s. It is %s, so this task did not delete it; the API may still apply the DELETE "
    "late: look at the server's snapshots (vps.cloud.vps_snapshot_info) before counting on it either way."
)
LOST = "Snapshot %s on server 101 was deleted by this task, but the answer to its DELETE was lost (%s); %s, so the deletion is reported as this task's."


@pytest.fixture
def warned(vt):
    """A service whose warnings go to a list: (service, warnings)."""
    found = []
    return build_service(vt, warnings_=found), found


@pytest.mark.parametrize("body", ["upstream: OK <garbage> \x00{not json", "<html>ok</html>", ""])
def test_a_2xx_with_any_body_is_a_deletion_recorded_once(rsps, warned, body):
    service, found = warned
    add_delete(rsps, 801, status=200, body=body, content_type="text/plain")
    changes = Changes()

    assert service.delete(A, changes) is True
    assert (changes.deleted, changes.gone, found) == ([clean(A)], [], [])
    assert len(rsps.calls) == 1


@pytest.mark.parametrize(
    "first, reason",
    [
        (_requests.exceptions.ReadTimeout("Read timed out."), "no answer within api_timeout=30s talking to api.vps.test: Read timed out."),
        (_requests.exceptions.ConnectionError("Connection aborted."), "connection failed talking to api.vps.test: Connection aborted."),
    ],
)
def test_a_404_after_this_tasks_unanswered_delete_is_recorded_as_its_deletion(rsps, warned, first, reason):
    service, found = warned
    add_delete(rsps, 801, body=first)
    add_delete(rsps, 801, status=404, json={"detail": "Not found."})
    changes = Changes()

    assert service.delete(A, changes) is True
    assert changes.deleted == [clean(A)] and changes.gone == []
    assert changes.answers_lost == {801: (reason, "sent again, it was answered 404")}
    assert found == [LOST % (describe(A), reason, "sent again, it was answered 404")]
    assert "answer to its DELETE was lost" in changes.summary()


def test_a_404_to_the_first_delete_is_recorded_as_gone_not_ours(rsps, warned):
    service, found = warned
    add_delete(rsps, 801, status=404, json={"detail": "Not found."})
    changes = Changes()

    assert service.delete(A, changes) is False
    assert (changes.deleted, changes.gone, found, bool(changes)) == ([], [clean(A)], [], False)


def test_an_unanswered_delete_gone_from_the_listing_is_recorded_as_this_tasks(rsps, warned, vt):
    service, found = warned
    add_delete(rsps, 801, body=_requests.exceptions.ReadTimeout("Read timed out."))
    add_list(rsps, [A, B], server_id=101)
    add_list(rsps, [B], server_id=101)
    changes = Changes()

    assert service.delete(A, changes) is True
    assert changes.deleted == [clean(A)]
    assert sent(rsps).count(("DELETE", "/snapshots/801/")) == 2
    assert found == [
        LOST % (describe(A), "no answer within api_timeout=30s talking to api.vps.test: Read timed out.", "the server's listing no longer holds it")
    ]


def test_an_unanswered_delete_is_looked_for_at_once(rsps, vt):
    """The first look at the listing comes right after the DELETE went unanswered, not after a poll interval."""
    found = []
    service = build_service(vt, retries=0, warnings_=found)
    add_delete(rsps, 801, body=_requests.exceptions.ReadTimeout("Read timed out."))
    add_list(rsps, [B], server_id=101)
    changes = Changes()

    assert service.delete(A, changes) is True
    assert vt.elapsed() == 0
    assert sent(rsps) == [("DELETE", "/snapshots/801/"), ("GET", "/snapshots/?server_id=101")]
    assert len(found) == 1


def test_a_deletion_found_after_several_unanswered_deletes_names_the_first_lost_answer(rsps, vt):
    found = []
    service = build_service(vt, retries=1, warnings_=found)
    add_delete(rsps, 801, body=_requests.exceptions.ReadTimeout("Read timed out."))
    add_delete(rsps, 801, status=504, json={"detail": "Gateway Timeout"})
    add_list(rsps, [B], server_id=101)
    changes = Changes()

    assert service.delete(A, changes) is True
    assert sent(rsps).count(("DELETE", "/snapshots/801/")) == 2
    assert found == [
        LOST % (describe(A), "no answer within api_timeout=30s talking to api.vps.test: Read timed out.", "the server's listing no longer holds it")
    ]
    assert changes.answers_lost[801] == ("no answer within api_timeout=30s talking to api.vps.test: Read timed out.", "the server's listing no longer holds it")


@pytest.mark.parametrize(
    "listing",
    [
        pytest.param(dict(items=[A, B]), id="still listed"),
        # A listing that cannot be read proves nothing: the deletion is not claimed either.
        pytest.param(dict(items=[], status=400, body={"detail": "Bad request."}), id="listing unreadable"),
    ],
)
def test_an_unanswered_delete_not_seen_gone_within_the_grace_fails_and_records_nothing(rsps, warned, vt, listing):
    service, found = warned
    add_delete(rsps, 801, body=_requests.exceptions.ReadTimeout("Read timed out."))
    add_list(rsps, server_id=101, **listing)
    changes = Changes()

    with pytest.raises(SnapshotError) as caught:
        service.delete(A, changes)

    assert caught.value.message == STILL_LISTED % (
        describe(A),
        "no answer within api_timeout=30s talking to api.vps.test: Read timed out. (on DELETE snapshots/801/)",
        "still listed after 60 s",
    )
    assert caught.value.details["failure"]["method"] == "DELETE" and caught.value.details["failure"]["path"] == "snapshots/801/"
    assert not changes and found == []
    assert vt.elapsed() >= 60


def test_a_delete_refused_by_the_gateway_every_time_is_looked_for_once(rsps, warned, vt):
    service, found = warned
    add_delete(rsps, 801, status=502, json={"detail": "Bad Gateway"})
    add_list(rsps, [A], server_id=101)
    changes = Changes()

    with pytest.raises(SnapshotError) as caught:
        service.delete(A, changes)

    assert caught.value.message.startswith("Could not delete snapshot %s: Bad Gateway (HTTP 502 on DELETE snapshots/801/)" % describe(A))
    assert caught.value.message.endswith(STILL_LISTED.split("%s", 2)[2] % "still listed")
    assert caught.value.details["failure"]["status"] == 502
    assert sent(rsps).count(("GET", "/snapshots/?server_id=101")) == 1
    assert not changes


def test_the_journal_counts_what_was_gone_apart_from_what_was_deleted():
    changes = Changes()
    changes.deleted, changes.gone = [OLD], [clean(snap(701, "other"))]

    assert changes.summary() == "It deleted %s." % describe(OLD)
    assert bool(changes)


def test_a_creation_is_recorded_cleaned(rsps, service):
    rsps.add(responses.POST, url("snapshots/"), json=new_snapshot(), status=201)
    changes = Changes()

    assert service.create(SERVER_ID, "before-update", None, changes) == new_snapshot()
    assert changes.created == [clean(new_snapshot())]


@pytest.mark.parametrize("timeout, grace", [(1, 10), (30, 60)])
def test_a_post_without_an_answer_is_looked_for_twice_the_timeout_and_at_least_10_seconds(rsps, vt, timeout, grace):
    service = build_service(vt, timeout=timeout)
    rsps.add(responses.POST, url("snapshots/"), status=504, json={"detail": "late"})
    add_list(rsps, [])
    changes = Changes()

    with pytest.raises(SnapshotError) as caught:
        service.create(SERVER_ID, "x", None, changes)

    assert vt.elapsed() == grace
    assert caught.value.details["failure"]["status"] == 504
    assert not changes


def test_a_restore_is_recorded_with_the_answer(rsps, service):
    add_restore(rsps, snapshot_id=801)
    changes = Changes()

    answer = service.start_restore(snap(801, "golden"), changes)

    assert answer["server"]["status"] == "restoring"
    assert changes.restored == [clean(snap(801, "golden"))]
    assert sent(rsps) == [restore_call(801)]


@pytest.mark.parametrize("kwargs, answer", [(dict(body=""), {}), (dict(json=["odd"]), {})], ids=["empty", "a list"])
def test_a_restore_accepted_without_a_usable_answer_is_an_empty_answer(rsps, service, kwargs, answer):
    add_restore(rsps, snapshot_id=801, **kwargs)

    assert service.start_restore(snap(801, "golden"), Changes()) == answer


@pytest.mark.parametrize(
    "answer, message",
    [
        (
            dict(status=300, headers={"Location": "https://elsewhere.test/"}),
            "Could not confirm whether the restore of server 12345 from snapshot %s started: the API answered with a redirect to "
            "https://elsewhere.test/; set api_url to the address the API is served from (HTTP 300 on POST snapshots/801/restore/). The "
            "server does not show 'restoring'. Look at the server before restoring again (vps.cloud.vps_server_info), so that it is "
            "not restored twice.",
        ),
        (dict(status=502, json={"detail": "gw"}), "Could not start the restore of server 12345 from snapshot %s: gw (HTTP 502 on POST snapshots/801/restore/)"),
    ],
    ids=["a redirect is no acceptance", "refused at the edge"],
)
def test_an_unconfirmed_restore_fails_with_the_failure(rsps, vt, answer, message):
    service = build_service(vt, retries=0, timeout=1)
    rsps.add(responses.POST, url("snapshots/801/restore/"), **answer)
    add_server(rsps, "running")
    changes = Changes()

    with pytest.raises(SnapshotError) as caught:
        service.start_restore(snap(801, "golden"), changes)

    assert caught.value.message == message % describe(snap(801, "golden"))
    assert caught.value.details["failure"]["status"] == answer["status"]
    assert not changes


def test_an_unconfirmed_creation_without_an_id_says_so(rsps, vt):
    service = build_service(vt, timeout=1)
    rsps.add(responses.POST, url("snapshots/"), json={"status": "in_progress"}, status=201)
    add_list(rsps, [])

    with pytest.raises(SnapshotError) as caught:
        service.create(SERVER_ID, "x", None, Changes())

    assert caught.value.message == (
        "Could not confirm whether snapshot 'x' was created on server 12345: the API answered the creation without the new "
        "snapshot's id (on POST snapshots/). It is not listed even after waiting; rerun the task: it finds the snapshot if the API "
        "created it late, and creates it otherwise."
    )
    assert caught.value.details["failure"] == {
        "status": None,
        "message": "the API answered the creation without the new snapshot's id",
        "method": "POST",
        "path": "snapshots/",
        "url": None,
    }


def test_a_restore_ambiguous_then_seen_restoring_is_not_sent_again(rsps, service):
    add_restore(rsps, snapshot_id=801, status=502, json={"detail": "gw"})
    add_server(rsps, "restoring")
    changes = Changes()

    assert service.start_restore(snap(801, "golden"), changes) == {"server": server_body("restoring")}
    assert sent(rsps) == [restore_call(801), SERVER]
    assert len(changes.restored) == 1


# Parallel work --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency, items, threads", [(1, [1, 2, 3], 1), (3, [1], 1), (2, [1, 2, 3, 4], 2), (2, [1, 2], 2)])
def test_parallel_keeps_the_order_returns_exceptions_in_place_and_bounds_the_threads(vt, concurrency, items, threads):
    service = build_service(vt, concurrency=concurrency)
    seen = set()
    barrier = threading.Barrier(threads, timeout=5)

    def work(item):
        seen.add(threading.current_thread().name)
        if threads > 1:
            barrier.wait()
        if item == 2:
            raise ValueError("two")
        return item * 10

    outcomes = service.parallel(items, work)

    assert [o if not isinstance(o, ValueError) else "error" for o in outcomes] == ["error" if item == 2 else item * 10 for item in items]
    assert len(seen) == threads
    assert (threading.current_thread().name in seen) is (threads == 1)


def test_a_service_by_default_changes_things_one_at_a_time_and_warns_nobody(rsps, vt):
    service = SnapshotService(build_service(vt).client, sleep=vt.sleep, clock=vt.monotonic)
    add_list(rsps, [A], server_id=None)
    add_delete(rsps, 801)

    assert ensure_absent(service, [SnapshotRequest(snapshot_id=801)], wait=False)[0].changes.deleted == [clean(A)]
    assert service.parallel([1, 2], lambda item: threading.current_thread().name) == [threading.current_thread().name] * 2
    assert service.warn("Nobody listens.") is None


def test_a_concurrency_below_one_works_one_item_at_a_time(vt):
    service = build_service(vt, concurrency=0)

    assert service.parallel([1, 2], lambda item: threading.current_thread().name) == [threading.current_thread().name] * 2


# send_once: a POST never applied twice ----------------------------------------------------------------------------------


class Post:
    """A fake send() raising the given errors in turn, then answering; and a look() answering in turn."""

    def __init__(self, outcomes, looks=(None,)):
        self.outcomes = list(outcomes)
        self.looks_left = list(looks)
        self.sends = self.looks = 0

    def send(self):
        self.sends += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def look(self):
        self.looks += 1
        return self.looks_left.pop(0) if len(self.looks_left) > 1 else self.looks_left[0]


def gateway(status=502):
    return VpsAmbiguousError("Bad Gateway", status=status, method="POST", path="snapshots/")


def no_answer():
    return VpsAmbiguousError("no answer within api_timeout=30s talking to api.vps.test: Read timed out.", method="POST", path="snapshots/")


def run_send_once(post, vt, retries=5, grace=10):
    return send_once(post.send, post.look, "snapshot 'a' to appear", retries, grace, sleep=vt.sleep, clock=vt.monotonic)


def test_send_once_answers_without_looking(vt):
    post = Post([{"id": 802}])
    assert run_send_once(post, vt) == {"id": 802}
    assert (post.sends, post.looks, vt.sleeps) == (1, 0, [])


@pytest.mark.parametrize("status", [502, 503])
@pytest.mark.parametrize("retries", [0, 1, 2, 4])
def test_send_once_resends_after_a_gateway_refusal_at_most_api_retries_times(vt, status, retries):
    post = Post([gateway(status)])
    with pytest.raises(VpsAmbiguousError) as info:
        run_send_once(post, vt, retries=retries)
    assert info.value.status == status
    assert (post.sends, post.looks) == (retries + 1, retries + 1)
    # A look after each refusal, after a backoff growing from about 1 s.
    assert len(vt.sleeps) == retries + 1
    for attempt, delay in enumerate(vt.sleeps):
        assert 2.0**attempt / 2 <= delay <= 2.0**attempt


def test_send_once_resends_after_a_gateway_refusal_then_answers(vt):
    post = Post([gateway(502), gateway(503), {"id": 802}])
    assert run_send_once(post, vt, retries=2) == {"id": 802}
    assert (post.sends, post.looks) == (3, 2)


def test_send_once_after_a_gateway_refusal_returns_what_the_look_found(vt):
    post = Post([gateway(503)], looks=[{"id": 802}])
    assert run_send_once(post, vt, retries=3) == {"id": 802}
    assert (post.sends, post.looks) == (1, 1)


@pytest.mark.parametrize(
    "error",
    [
        no_answer(),
        VpsAmbiguousError("upstream timed out", status=504, method="POST", path="snapshots/"),
        VpsAmbiguousError("the API answered HTTP 201 with a body that is not valid JSON ('Created')", status=201),
    ],
)
def test_send_once_never_resends_after_another_ambiguous_failure(vt, error):
    post = Post([error])
    with pytest.raises(VpsAmbiguousError) as info:
        run_send_once(post, vt, retries=5, grace=10)
    assert info.value is error
    assert post.sends == 1
    # Looks right away, then along the poll schedule for the whole grace period, the last one at its end.
    assert post.looks == 4
    assert vt.elapsed() == pytest.approx(10.0)


@pytest.mark.parametrize("grace, looks", [(0, 1), (1, 2), (10, 4), (40, 6)])
def test_send_once_grace_is_how_long_it_keeps_looking(vt, grace, looks):
    post = Post([no_answer()])
    with pytest.raises(VpsAmbiguousError):
        run_send_once(post, vt, grace=grace)
    assert post.looks == looks
    assert vt.elapsed() == pytest.approx(grace)


def test_send_once_after_no_answer_returns_what_a_later_look_found(vt):
    post = Post([no_answer()], looks=[None, None, {"id": 802}])
    assert run_send_once(post, vt, grace=60) == {"id": 802}
    assert (post.sends, post.looks) == (1, 3)
    assert vt.elapsed() < 10.0


def test_send_once_does_not_look_after_a_plain_error(vt):
    error = VpsApiError("Snapshot limit reached.", status=400, method="POST", path="snapshots/")
    post = Post([error])
    with pytest.raises(VpsApiError) as info:
        run_send_once(post, vt)
    assert info.value is error
    assert (post.sends, post.looks, vt.sleeps) == (1, 0, [])


def test_send_once_after_a_gateway_refusal_then_no_answer_stops_resending(vt):
    post = Post([gateway(502), no_answer()])
    with pytest.raises(VpsAmbiguousError) as info:
        run_send_once(post, vt, retries=5, grace=10)
    assert info.value.status is None
    assert post.sends == 2
