# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps_snapshot_batch: many servers in one task, one account-wide listing per poll, one server's failure isolated."""

from __future__ import annotations

import json
import threading

import pytest
import responses

from ansible_collections.vps.cloud.plugins.modules import vps_snapshot_batch
from ansible_collections.vps.cloud.tests.unit.helpers import (
    LIST_ALL,
    POST,
    add_delete,
    add_list,
    add_post,
    add_server,
    clean,
    delete_call,
    describe,
    listing,
    new_snapshot,
    request_json,
    sent,
    server_call,
    snap,
    url,
    warnings,
)

NAME = "pre-upgrade"


def made(server_id, status="in_progress", name=NAME):
    """The snapshot a batch creates on a server (id 800 + the server's id)."""
    return new_snapshot(status, name=name, snapshot_id=800 + server_id, description=None, server_id=server_id)


def batch(**args):
    return dict(dict(servers={"web-1": 101, "web-2": 102}, name=NAME, concurrency=1), **args)


def took(server_id):
    return "Took snapshot %s of server %s." % (describe(made(server_id, "completed")), server_id)


# state=present --------------------------------------------------------------------------------------------------------


def test_a_mapping_of_hosts_gets_one_listing_one_post_each_and_one_shared_wait(rsps, run):
    add_list(rsps, [snap(700, "old", server_id=101), snap(701, "other", server_id=999)], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)
    add_post(rsps, payload=made(102), for_server=102)
    add_list(rsps, [made(101), made(102)], server_id=None)
    add_list(rsps, [made(101, "completed"), made(102, "completed")], server_id=None)

    result = run(vps_snapshot_batch, batch(), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["msg"] == "Snapshots: 2 taken."
    assert [(r["host"], r["server_id"], r["changed"], r["snapshot"], r["msg"]) for r in result["results"]] == [
        ("web-1", 101, True, clean(made(101, "completed")), took(101)),
        ("web-2", 102, True, clean(made(102, "completed")), took(102)),
    ]
    assert result["by_host"] == {"web-1": result["results"][0], "web-2": result["results"][1]}
    assert result["failed_servers"] == []
    assert result["requests"] == {"sent": 5, "rate_limited": 0}
    assert result["diff"] == {"before": {"101": {}, "102": {}}, "after": {"101": clean(made(101, "completed")), "102": clean(made(102, "completed"))}}
    assert sent(rsps) == [LIST_ALL, POST, POST, LIST_ALL, LIST_ALL]
    assert [request_json(rsps, i) for i in (1, 2)] == [{"server_id": 101, "name": NAME}, {"server_id": 102, "name": NAME}]


@pytest.mark.parametrize(
    "servers, reads",
    [
        ([101], [listing(101), POST, listing(101)]),
        (["101", 102], [LIST_ALL, POST, POST, LIST_ALL]),
    ],
    ids=["one server: its own listing", "several: one account-wide listing"],
)
def test_the_listing_strategy_and_a_list_of_server_ids(rsps, run, servers, reads):
    ids = [int(server_id) for server_id in servers]
    add_list(rsps, [], server_id=ids[0] if len(ids) == 1 else None)
    for server_id in ids:
        add_post(rsps, payload=made(server_id), for_server=server_id)
    add_list(rsps, [made(server_id, "completed") for server_id in ids], server_id=ids[0] if len(ids) == 1 else None)

    result = run(vps_snapshot_batch, batch(servers=servers))

    assert result["rc"] == 0
    assert [(r["host"], r["server_id"]) for r in result["results"]] == [(None, server_id) for server_id in ids]
    assert result["by_host"] == {}
    assert sent(rsps) == reads


def test_each_server_with_its_own_name_and_description(rsps, run):
    add_list(rsps, [], server_id=None)
    add_post(rsps, payload=made(101, name="before-kernel"), for_server=101)
    add_post(rsps, payload=made(103, name="before-postgres"), for_server=103)

    result = run(
        vps_snapshot_batch,
        dict(
            concurrency=1,
            wait=False,
            snapshots=[
                {"server_id": 101, "name": "before-kernel", "host": "web-1", "description": "kernel 6.12"},
                {"server_id": 103, "name": "before-postgres"},
            ],
        ),
    )

    assert result["rc"] == 0
    assert [request_json(rsps, i) for i in (1, 2)] == [
        {"server_id": 101, "name": "before-kernel", "description": "kernel 6.12"},
        {"server_id": 103, "name": "before-postgres"},
    ]
    assert list(result["by_host"]) == ["web-1"]
    assert sent(rsps) == [LIST_ALL, POST, POST]


@pytest.mark.parametrize("release", ["completed", "accepted"])
def test_each_entry_notes_how_its_host_is_quiesced_in_the_description(rsps, run, release):
    add_list(rsps, [], server_id=None)
    for server_id in (101, 102, 103):
        add_post(rsps, payload=made(server_id), for_server=server_id)

    result = run(
        vps_snapshot_batch,
        dict(
            concurrency=1,
            wait=False,
            quiesce_release=release,
            snapshots=[
                {"server_id": 101, "name": NAME, "description": "Before the upgrade", "quiesce": "freeze"},
                {"server_id": 102, "name": NAME, "quiesce": "sync"},
                {"server_id": 103, "name": NAME},
            ],
        ),
    )

    assert result["rc"] == 0
    assert [request_json(rsps, i) for i in (1, 2, 3)] == [
        {"server_id": 101, "name": NAME, "description": "Before the upgrade [vps.cloud quiesce: freeze held until %s]" % release},
        {"server_id": 102, "name": NAME, "description": "[vps.cloud quiesce: sync]"},
        {"server_id": 103, "name": NAME},
    ]


def test_without_quiesce_release_the_note_says_held_until_completed(rsps, run):
    add_list(rsps, [], server_id=101)
    add_post(rsps, payload=made(101))

    result = run(vps_snapshot_batch, dict(wait=False, snapshots=[{"server_id": 101, "name": NAME, "quiesce": "freeze"}]))

    assert result["rc"] == 0
    assert request_json(rsps, 1) == {"server_id": 101, "name": NAME, "description": "[vps.cloud quiesce: freeze held until completed]"}


def test_quiesce_is_refused_with_state_absent_and_its_choices_are_checked(rsps, run):
    result = run(vps_snapshot_batch, dict(state="absent", snapshots=[{"server_id": 101, "name": NAME, "quiesce": "freeze"}]))
    assert result["failed"] is True
    assert "snapshots[0].quiesce is only used with state=present" in result["msg"]

    result = run(vps_snapshot_batch, dict(snapshots=[{"server_id": 101, "name": NAME, "quiesce": "pause"}]))
    assert result["failed"] is True
    assert "quiesce" in result["msg"] and "pause" in result["msg"]
    assert sent(rsps) == []


def test_wait_for_first_returns_once_one_snapshot_has_ended_and_lists_the_rest_as_pending(rsps, run):
    add_list(rsps, [], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)
    add_post(rsps, payload=made(102), for_server=102)
    add_list(rsps, [made(101), made(102)], server_id=None)
    add_list(rsps, [made(101, "completed"), made(102)], server_id=None)

    result = run(vps_snapshot_batch, batch(wait_for="first"))

    assert result["rc"] == 0
    assert result["pending_servers"] == [102]
    assert [(r["server_id"], r["snapshot"]["status"]) for r in result["results"]] == [(101, "completed"), (102, "in_progress")]
    assert not result.get("failed")
    assert sent(rsps) == [LIST_ALL, POST, POST, LIST_ALL, LIST_ALL]


def test_coming_back_to_wait_with_retake_failed_false_fails_a_failed_snapshot_and_takes_nothing(rsps, run):
    # The role's release loop: the first task took both; 101's ended failed since, 102's is still in progress.
    add_list(rsps, [made(101, "failed"), made(102)], server_id=None)
    add_list(rsps, [made(102, "completed")], server_id=102)

    result = run(vps_snapshot_batch, batch(retake_failed=False))

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["failed_servers"] == [101]
    assert "with retake_failed=false it is not taken again" in result["by_host"]["web-1"]["msg"]
    assert result["by_host"]["web-2"]["snapshot"]["status"] == "completed"
    assert sent(rsps) == [LIST_ALL, ("GET", "/snapshots/?server_id=102")]


def test_by_default_a_failed_snapshot_of_the_name_is_retaken(rsps, run):
    add_list(rsps, [made(101, "failed")], server_id=101)
    add_server(rsps, "running", server_id=101)
    add_delete(rsps, made(101)["id"])
    retaken = new_snapshot(name=NAME, snapshot_id=900, description=None, server_id=101)
    add_post(rsps, payload=retaken, for_server=101)
    add_list(rsps, [dict(retaken, status="completed")], server_id=101)

    result = run(vps_snapshot_batch, dict(servers={"web-1": 101}, name=NAME, concurrency=1))

    assert (result["rc"], result["changed"]) == (0, True)
    assert result["by_host"]["web-1"]["pruned"] == [clean(made(101, "failed"))]


def test_wait_for_all_waits_for_every_snapshot_and_leaves_none_pending(rsps, run):
    add_list(rsps, [], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)
    add_post(rsps, payload=made(102), for_server=102)
    add_list(rsps, [made(101, "completed"), made(102)], server_id=None)
    # One snapshot left to wait for: its server's own listing.
    add_list(rsps, [made(102, "completed")], server_id=102)

    result = run(vps_snapshot_batch, batch())

    assert result["pending_servers"] == []
    assert sent(rsps) == [LIST_ALL, POST, POST, LIST_ALL, ("GET", "/snapshots/?server_id=102")]


def test_without_wait_every_new_snapshot_is_pending(rsps, run):
    add_list(rsps, [made(102, "completed")], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)

    result = run(vps_snapshot_batch, batch(wait=False))

    assert result["pending_servers"] == [101]


def test_two_hosts_on_one_server_share_one_snapshot(rsps, run):
    add_list(rsps, [], server_id=101)
    add_post(rsps, payload=made(101))
    add_list(rsps, [made(101, "completed")], server_id=101)

    result = run(vps_snapshot_batch, batch(servers={"db-1": 101, "db-2": 101}))

    assert result["rc"] == 0
    assert result["msg"] == "Snapshots: 1 taken; 2 entries for 1 server."
    assert [r["snapshot"] for r in result["results"]] == [clean(made(101, "completed"))] * 2
    assert [(r["host"], r["changed"], r["created"]) for r in result["results"]] == [("db-1", True, True), ("db-2", False, False)]
    assert result["by_host"]["db-2"]["msg"] == (
        "The same snapshot as the entry for db-1 (one snapshot per server in a batch): %s." % describe(made(101, "completed"))
    )
    assert warnings(result) == []
    assert sent(rsps) == [listing(101), POST, listing(101)]


def test_one_server_failing_never_stops_the_others(rsps, run):
    add_list(rsps, [], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)
    add_post(rsps, payload={"detail": "Not your server."}, status=403, for_server=102)
    add_list(rsps, [made(101, "completed")], server_id=101)

    result = run(vps_snapshot_batch, batch())

    failure = "Could not create snapshot 'pre-upgrade' on server 102: Not your server. (HTTP 403 on POST snapshots/)"
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == "Snapshots: 1 taken, 1 failed. Failed: server 102 (web-2): %s." % failure
    assert result["failed_servers"] == [102]
    assert result["by_host"]["web-1"]["snapshot"] == clean(made(101, "completed"))
    assert "failed" not in result["by_host"]["web-1"]
    web2 = result["by_host"]["web-2"]
    assert (web2["failed"], web2["changed"], web2["msg"], web2["snapshot"]) == (True, False, failure, {})
    assert web2["failure"]["status"] == 403
    assert sent(rsps) == [LIST_ALL, POST, POST, listing(101)]


def test_a_failed_listing_fails_every_server_of_it(rsps, run):
    add_list(rsps, [], server_id=None, status=401, body={"detail": "Invalid token."})

    result = run(vps_snapshot_batch, batch(servers=[101, 102]))

    failure = "Could not list snapshots: Invalid token. (HTTP 401 on GET snapshots/)"
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == "Snapshots: 2 failed. Failed: server 101: %s; server 102: %s." % (failure, failure)
    assert result["failed_servers"] == [101, 102]
    assert sent(rsps) == [LIST_ALL]


def test_the_shared_wait_times_out_naming_each_server_still_pending(rsps, run, vtime):
    add_list(rsps, [], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)
    add_post(rsps, payload=made(102), for_server=102)
    add_list(rsps, [made(101), made(102, "snapshotting")], server_id=None)

    result = run(vps_snapshot_batch, batch(wait_timeout=10))

    head = (
        "Timed out after 10s (wait_timeout=10) waiting for 2 snapshots on 2 servers to complete; last seen status: "
        "in_progress, snapshotting. The snapshot goes on at the provider: rerun the task to resume waiting (it waits for the same snapshot "
        "and never takes another), or raise wait_timeout."
    )
    assert result["failed"] is True
    assert result["failed_servers"] == [101, 102]
    pending = ((101, "in_progress"), (102, "snapshotting"))
    assert [r["msg"] for r in result["results"]] == [
        "%s Snapshot pre-upgrade on server %s was still %s. Before this failure the task made changes: It created %s."
        % (head, server_id, status, describe(made(server_id)))
        for server_id, status in pending
    ]
    assert [r["snapshot"] for r in result["results"]] == [clean(made(101)), clean(made(102, "snapshotting"))]
    assert vtime.now == 1010


def test_retention_applies_per_server_once_its_snapshot_completed(rsps, run):
    old = snap(700, "pre-upgrade-old", created_at="2025-01-01T03:00:00Z", server_id=1)
    manual = snap(699, "manual", created_at="2024-12-01T03:00:00Z", server_id=1)
    add_list(rsps, [old, manual], server_id=1)
    add_post(rsps, payload=made(1))
    add_list(rsps, [old, manual, made(1, "completed")], server_id=1)
    add_delete(rsps, 700)

    result = run(vps_snapshot_batch, batch(servers={"web-1": 1}, retention=1, retention_match="pre-upgrade*", description="nightly"), diff=True)

    assert result["results"][0]["pruned"] == [clean(old)]
    assert result["msg"] == "Snapshots: 1 taken; 1 other deleted (see pruned)."
    assert result["results"][0]["msg"] == "%s; deleted %s." % (took(1)[:-1], describe(old, "19d 9h old"))
    assert result["diff"] == {"before": {"1": {}}, "after": {"1": clean(made(1, "completed"))}}
    assert request_json(rsps, 1) == {"server_id": 1, "name": NAME, "description": "nightly"}
    assert sent(rsps) == [listing(1), POST, listing(1), delete_call(700)]


@pytest.mark.parametrize("protect, doomed", [(True, []), (False, [699])])
def test_protect_last_completed_reaches_every_server(rsps, run, protect, doomed):
    busy = [snap(701 + i, "b%d" % i, status="in_progress", server_id=101) for i in range(4)]
    add_list(rsps, busy + [snap(699, "only", server_id=101)], server_id=101)
    if doomed:
        add_server(rsps, "running", server_id=101)
        add_delete(rsps, 699)
        add_post(rsps, payload=made(101))

    result = run(vps_snapshot_batch, batch(servers=[101], retention=1, protect_last_completed=protect, wait=False))

    assert bool(result.get("failed")) is protect
    assert [call for call in sent(rsps) if call[0] == "DELETE"] == [delete_call(i) for i in doomed]


def test_each_servers_warnings_are_shown_once_naming_it(rsps, run):
    left = snap(700, "pre-upgrade-20250101", status="in_progress", server_id=101)
    add_list(rsps, [left], server_id=101)
    note = (
        "snapshot %s matches resume_match 'pre-upgrade-*' and is still in progress (an interrupted run's?): it is reused "
        "instead of taking 'pre-upgrade'" % describe(left)
    )

    result = run(
        vps_snapshot_batch,
        dict(
            resume_match="pre-upgrade-*",
            wait=False,
            snapshots=[{"server_id": 101, "name": NAME, "host": "web-1"}, {"server_id": 101, "name": NAME, "host": "web-1"}, {"server_id": 101, "name": NAME}],
        ),
    )

    assert result["changed"] is False
    assert [r["snapshot"] for r in result["results"]] == [clean(left)] * 3
    assert [r["created"] for r in result["results"]] == [False] * 3
    assert result["results"][0]["warnings"] == [note]
    # The server's warning belongs to its first entry; the others share its snapshot and say so.
    assert warnings(result) == ["server 101 (web-1): " + note]


def test_check_mode_reads_every_server_and_posts_nothing(rsps, run):
    add_list(rsps, [snap(700, NAME, server_id=101)], server_id=None)
    add_server(rsps, "running", server_id=102)
    add_server(rsps, "running", server_id=103)

    result = run(vps_snapshot_batch, batch(servers={"a": 101, "b": 102, "c": 103}), check_mode=True, diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["msg"] == "Check mode, snapshots: 2 to take, 1 already there."
    assert [r["changed"] for r in result["results"]] == [False, True, True]
    assert [r["snapshot"]["id"] for r in result["results"]] == [700, None, None]
    assert result["diff"]["before"] == {"101": clean(snap(700, NAME, server_id=101)), "102": {}, "103": {}}
    assert sent(rsps) == [LIST_ALL, server_call(102), server_call(103)]


def test_check_mode_fails_only_the_server_that_does_not_exist(rsps, run):
    add_list(rsps, [snap(700, "other", server_id=101)], server_id=None)
    add_server(rsps, "running", server_id=101)
    add_server(rsps, http_status=404, body={"detail": "Not found."}, server_id=102)

    result = run(vps_snapshot_batch, batch(), check_mode=True)

    assert result["failed"] is True
    assert result["failed_servers"] == [102]
    assert result["by_host"]["web-2"]["msg"] == (
        "Server 102 does not exist: GET servers/102/ answered HTTP 404, while other servers of the account can be read. Check server_id."
    )
    assert "failed" not in result["by_host"]["web-1"]
    assert sent(rsps) == [LIST_ALL, server_call(101), server_call(102), LIST_ALL, server_call(101)]


def test_concurrent_creations_each_post_once(rsps, run):
    servers = [101, 102, 103, 104]
    add_list(rsps, [], server_id=None)
    for server_id in servers:
        add_post(rsps, payload=made(server_id), for_server=server_id)
    add_list(rsps, [made(server_id, "completed") for server_id in servers], server_id=None)

    result = run(vps_snapshot_batch, batch(servers=servers, concurrency=3))

    assert result["rc"] == 0
    assert [r["snapshot"]["id"] for r in result["results"]] == [901, 902, 903, 904]
    assert sorted(request_json(rsps, i)["server_id"] for i in range(1, 5)) == servers
    assert sent(rsps) == [LIST_ALL, POST, POST, POST, POST, LIST_ALL]


def test_by_default_eight_servers_are_worked_on_at_once(rsps, run):
    servers = list(range(101, 111))
    lock, enough, seen = threading.Lock(), threading.Event(), {"now": 0, "most": 0}

    def answer(request):
        server_id = json.loads(request.body)["server_id"]
        with lock:
            seen["now"] += 1
            seen["most"] = max(seen["most"], seen["now"])
            if seen["now"] > 8:
                enough.set()
        # Each POST is held until a ninth is in flight, which only a concurrency above 8 allows, or for 0.3 s.
        enough.wait(0.3)
        with lock:
            seen["now"] -= 1
        return 201, {}, json.dumps(made(server_id))

    add_list(rsps, [], server_id=None)
    rsps.add_callback(responses.POST, url("snapshots/"), callback=answer, content_type="application/json")

    result = run(vps_snapshot_batch, dict(servers=servers, name=NAME, wait=False))

    assert result["rc"] == 0
    assert seen["most"] == 8


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(state="restored", servers=[101], name=NAME), "value of state must be one of: present, absent, got: restored"),
        (dict(snapshots=[{"server": 101, "name": NAME}]), "Unsupported parameters"),
        (dict(servers=[101], name=NAME, wait_for="most"), "value of wait_for must be one of: all, first, got: most"),
        (dict(servers=[101], name=NAME, quiesce_release="never"), "value of quiesce_release must be one of: accepted, completed, got: never"),
    ],
)
def test_ansible_checks_the_choices_and_the_entries(rsps, run, args, message):
    result = run(vps_snapshot_batch, args)

    assert result["failed"] is True
    assert message in result["msg"]
    assert sent(rsps) == []


def test_the_invocation_shows_the_waiting_defaults(rsps, run):
    add_list(rsps, [snap(700, NAME, server_id=101)], server_id=101)

    result = run(vps_snapshot_batch, batch(servers=[101]))

    assert result["rc"] == 0
    args = result["invocation"]["module_args"]
    assert (args["state"], args["wait"], args["wait_for"], args["wait_timeout"]) == ("present", True, "all", 1800)


def test_ids_given_as_strings_are_taken_as_integers(rsps, run):
    add_list(rsps, [A], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [], server_id=101)
    add_list(rsps, [], server_id=102)
    add_post(rsps, payload=made(102))

    absent = run(vps_snapshot_batch, dict(state="absent", snapshot_ids=["801"]))
    created = run(vps_snapshot_batch, dict(snapshots=[{"server_id": "102", "name": NAME}], wait=False))

    assert (absent["rc"], created["rc"]) == (0, 0)
    assert request_json(rsps, 4) == {"server_id": 102, "name": NAME}


@pytest.mark.parametrize("state", ["present", "absent"])
def test_by_default_the_batch_waits_1800_seconds(rsps, run, vtime, state):
    if state == "present":
        add_list(rsps, [made(101)], server_id=101)
        args = batch(servers=[101])
    else:
        add_list(rsps, [A], server_id=None)
        add_delete(rsps, 801)
        add_list(rsps, [A], server_id=101)
        args = dict(state="absent", snapshot_ids=[801])

    result = run(vps_snapshot_batch, args)

    assert result["results"][0]["msg"].startswith("Timed out after 1800s (wait_timeout=1800)")
    assert vtime.now == 2800


def test_the_requests_counters_count_every_request_and_each_429(rsps, run):
    rsps.add(responses.GET, url("snapshots/"), json={"detail": "Slow down."}, status=429, headers={"Retry-After": "3"})
    add_list(rsps, [snap(700, NAME, server_id=101), snap(701, NAME, server_id=102)], server_id=None)

    result = run(vps_snapshot_batch, batch())

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["requests"] == {"sent": 2, "rate_limited": 1}


def test_requests_per_second_paces_every_request(rsps, run, vtime):
    add_list(rsps, [], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)
    add_post(rsps, payload=made(102), for_server=102)

    result = run(vps_snapshot_batch, batch(requests_per_second=0.5, wait=False))

    assert result["rc"] == 0
    assert vtime.sleeps == [2.0, 2.0]


def test_the_summary_counts_what_was_done_once_per_server(rsps, run):
    add_list(rsps, [snap(700, NAME, server_id=101)], server_id=None)
    add_post(rsps, payload=made(102), for_server=102)
    add_post(rsps, payload={"detail": "Not your server."}, status=403, for_server=103)
    add_list(rsps, [made(102, "completed")], server_id=102)

    result = run(vps_snapshot_batch, batch(servers={"web-1": 101, "web-2": 102, "web-3": 102, "web-4": 103}))

    failure = "Could not create snapshot 'pre-upgrade' on server 103: Not your server. (HTTP 403 on POST snapshots/)"
    assert result["failed"] is True
    assert result["msg"] == ("Snapshots: 1 taken, 1 already there, 1 failed; 4 entries for 3 servers. Failed: server 103 (web-4): %s." % failure)
    assert [r["changed"] for r in result["results"]] == [False, True, False, False]
    assert sent(rsps) == [LIST_ALL, POST, POST, listing(102)]


def test_one_server_and_name_given_twice_is_one_snapshot_taken_once_and_differing_descriptions_warn(rsps, run):
    add_list(rsps, [], server_id=101)
    add_post(rsps, payload=made(101))

    result = run(
        vps_snapshot_batch,
        dict(
            wait=False,
            snapshots=[
                {"server_id": 101, "name": NAME, "host": "web-1", "description": "first"},
                {"server_id": 101, "name": NAME, "host": "web-2", "description": "second"},
            ],
        ),
    )

    assert result["rc"] == 0
    assert request_json(rsps, 1) == {"server_id": 101, "name": NAME, "description": "first"}
    assert [(r["host"], r["changed"], r["created"]) for r in result["results"]] == [("web-1", True, True), ("web-2", False, False)]
    assert result["by_host"]["web-2"]["snapshot"] == result["by_host"]["web-1"]["snapshot"]
    assert result["msg"] == "Snapshots: 1 taken; 1 still in progress; 2 entries for 1 server."
    assert warnings(result) == [
        "server 101 (web-2): snapshot 'pre-upgrade' is asked for twice in this batch with different "
        "descriptions, 'first' for web-1 and 'second' for web-2: it is taken once, with 'first'."
    ]
    assert sent(rsps) == [listing(101), POST]


def test_a_failed_server_fails_every_entry_that_shares_it_and_counts_once(rsps, run):
    add_list(rsps, [], server_id=101)
    add_post(rsps, payload={"detail": "Not your server."}, status=403)

    result = run(vps_snapshot_batch, batch(servers={"a": 101, "b": 101}))

    failure = "Could not create snapshot 'pre-upgrade' on server 101: Not your server. (HTTP 403 on POST snapshots/)"
    assert result["failed"] is True
    assert [(r["failed"], r["changed"]) for r in result["results"]] == [(True, False), (True, False)]
    assert result["by_host"]["b"]["msg"] == ("The same snapshot as the entry for a (one snapshot per server in a batch), which failed: %s" % failure)
    assert result["msg"] == "Snapshots: 1 failed; 2 entries for 1 server. Failed: server 101 (a): %s." % failure


LONG = "The provider could not take this snapshot because " + "the storage backend is very busy right now " * 8


def test_a_batch_failing_on_many_servers_keeps_its_message_short_and_every_detail_in_results(rsps, run):
    servers = dict(("web-%02d" % i, 100 + i) for i in range(1, 56))
    add_list(rsps, [], server_id=None)
    rsps.add(responses.POST, url("snapshots/"), json={"detail": LONG}, status=403)

    result = run(vps_snapshot_batch, batch(servers=servers, api_retries=0))

    assert result["failed"] is True
    assert len(result["failed_servers"]) == 55
    assert len(result["msg"]) < 2000, len(result["msg"])
    assert result["msg"].startswith("Snapshots: 55 failed. Failed: server 101 (web-01): ")
    assert "; and 52 more: server 104 (web-04), server 105 (web-05)" in result["msg"]
    assert result["msg"].endswith("and 42 others (every message is in results and by_host).")
    assert result["results"][0]["msg"] in result["msg"]
    for entry in result["results"]:
        assert entry["msg"].startswith(
            "Could not create snapshot 'pre-upgrade' on server %s: The provider could not take this snapshot because the storage backend" % entry["server_id"]
        )
    assert ".." not in result["msg"] and ".;" not in result["msg"]


def test_failure_messages_are_joined_without_doubled_punctuation(rsps, run, vtime):
    add_list(rsps, [], server_id=None)
    add_post(rsps, payload=made(101), for_server=101)
    add_post(rsps, payload=made(102), for_server=102)
    add_list(rsps, [made(101), made(102)], server_id=None)

    result = run(vps_snapshot_batch, batch(wait_timeout=10))

    assert result["failed"] is True
    assert ".;" not in result["msg"] and ".." not in result["msg"]
    assert result["msg"].count("Timed out after 10s") == 2
    assert result["msg"].endswith("was still in_progress. Before this failure the task made changes: It created %s." % describe(made(102)))


# state=absent ---------------------------------------------------------------------------------------------------------

A = snap(801, "pre-upgrade", server_id=101)
B = snap(802, "pre-upgrade", server_id=102)


def test_absent_by_ids_reads_the_account_once_deletes_each_and_waits_once(rsps, run):
    add_list(rsps, [A, B, snap(803, "keep", server_id=102)], server_id=None)
    add_delete(rsps, 801)
    add_delete(rsps, 802)
    add_list(rsps, [snap(803, "keep", server_id=102)], server_id=None)

    result = run(vps_snapshot_batch, dict(state="absent", snapshot_ids=[801, 802, 999], concurrency=1), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["msg"] == "Deletions: 2 deleted, 1 already gone."
    assert [(r["server_id"], r["snapshot_id"], r["changed"], r["snapshot"], r["msg"]) for r in result["results"]] == [
        (101, 801, True, clean(A), "Deleted snapshot %s." % describe(A, "4d 17h old")),
        (102, 802, True, clean(B), "Deleted snapshot %s." % describe(B, "4d 17h old")),
        (None, 999, False, {}, "No such snapshot; nothing to delete."),
    ]
    assert result["diff"] == {"before": {"801": clean(A), "802": clean(B)}, "after": {}}
    assert sent(rsps) == [LIST_ALL, delete_call(801), delete_call(802), LIST_ALL]


def test_absent_counts_deleted_and_already_gone_once_per_snapshot(rsps, run):
    add_list(rsps, [A, B], server_id=None)
    add_delete(rsps, 801)
    add_delete(rsps, 802, status=404, json={"detail": "Not found."})

    result = run(vps_snapshot_batch, dict(state="absent", snapshot_ids=[801, 801, 802, 999], concurrency=1, wait=False))

    assert result["rc"] == 0
    assert result["msg"] == "Deletions: 1 deleted, 2 already gone; 4 entries for 3 snapshots."
    assert [r["changed"] for r in result["results"]] == [True, False, False, False]
    assert result["results"][1]["msg"] == ("The same snapshot as entry 0 (one deletion per snapshot in a batch): %s" % result["results"][0]["msg"])
    assert sent(rsps) == [LIST_ALL, delete_call(801), delete_call(802)]


def test_absent_waits_within_wait_timeout(rsps, run, vtime):
    add_list(rsps, [snap(1, "x", server_id=101)], server_id=None)
    add_delete(rsps, 1)
    add_list(rsps, [snap(1, "x", server_id=101)], server_id=101)

    result = run(vps_snapshot_batch, dict(state="absent", snapshot_ids=[1], wait_timeout=25))

    assert result["failed"] is True
    assert result["results"][0]["msg"].startswith("Timed out after 25s")
    assert vtime.now == 1025


def test_absent_by_servers_and_name(rsps, run):
    add_list(rsps, [A], server_id=101)
    add_delete(rsps, 801)

    result = run(vps_snapshot_batch, dict(state="absent", servers={"web-1": 101}, name=NAME, wait=False))

    assert result["by_host"]["web-1"]["snapshot"] == clean(A)
    assert sent(rsps) == [listing(101), delete_call(801)]


def test_absent_entries_by_id_or_by_name_and_one_failure(rsps, run):
    add_list(rsps, [A, B], server_id=None)
    add_delete(rsps, 801, status=409, json={"detail": "In use."})
    add_delete(rsps, 802)

    result = run(
        vps_snapshot_batch, dict(state="absent", wait=False, concurrency=1, snapshots=[{"snapshot_id": 801, "host": "web-1"}, {"server_id": 102, "name": NAME}])
    )

    failure = "Could not delete snapshot %s: In use. (HTTP 409 on DELETE snapshots/801/)" % describe(A)
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == "Deletions: 1 deleted, 1 failed. Failed: server 101 (web-1): %s." % failure
    assert result["failed_servers"] == [101]
    assert result["results"][1]["changed"] is True
    assert sent(rsps) == [LIST_ALL, delete_call(801), delete_call(802)]


def test_absent_in_check_mode_deletes_nothing(rsps, run):
    add_list(rsps, [A], server_id=None)

    result = run(vps_snapshot_batch, dict(state="absent", snapshot_ids=[801]), check_mode=True)

    assert result["changed"] is True
    assert result["msg"] == "Check mode, deletions: 1 to delete."
    assert result["results"][0]["msg"] == "Check mode: would delete snapshot %s." % describe(A, "4d 17h old")
    assert sent(rsps) == [LIST_ALL]


def test_a_failed_absent_entry_without_a_server_is_named_by_its_snapshot(rsps, run):
    add_list(rsps, [snap(801, "twin", server_id=101), snap(805, "twin", server_id=101)], server_id=101)

    result = run(vps_snapshot_batch, dict(state="absent", snapshots=[{"server_id": 101, "name": "twin", "host": "h"}]))

    assert result["msg"].startswith("Deletions: 1 failed. Failed: server 101 (h): Server 101 has 2 snapshots named 'twin'")


# Input ----------------------------------------------------------------------------------------------------------------

BAD_INPUT = [
    (dict(servers="web-1"), "servers must be a mapping of host to server id, or a list of server ids, got str"),
    (
        dict(servers={"web-1": "abc", "web-2": 0}),
        "servers[web-1] must be a positive integer server id, got 'abc'; servers[web-2] must be a positive integer server id, got 0",
    ),
    (dict(servers=[101, True, -2]), "servers[1] must be a positive integer server id, got True; servers[2] must be a positive integer server id, got -2"),
    (dict(servers=[]), "the batch is empty: give at least one server or snapshot"),
    (dict(servers=[101], name="bad name"), "name may contain only ASCII letters, digits, hyphens and underscores, got 'bad name'"),
    (dict(servers=[101, 102], concurrency=0), "concurrency must be between 1 and 64, got 0"),
    (dict(servers=[101], concurrency=65), "concurrency must be between 1 and 64, got 65"),
    (dict(servers=[101], requests_per_second=0), "requests_per_second must be a positive number, got 0.0"),
    (dict(servers=[101], wait_timeout=0), "wait_timeout must be a positive integer, got 0"),
    (dict(servers=[101], retention_match=""), "retention_match must be a non-empty shell-style pattern such as 'daily-*'"),
    (dict(servers=[101], resume_match=""), "resume_match must be a non-empty shell-style pattern such as 'daily-*'"),
    (dict(state="absent", servers=[101], description="x"), "description is only used with state=present"),
    (dict(snapshot_ids=[801]), "snapshot_ids is only used with state=absent"),
    (dict(state="absent", snapshot_ids=[801, 0, -1]), "snapshot_ids[1] must be a positive integer, got 0; snapshot_ids[2] must be a positive integer, got -1"),
    (
        dict(snapshots=[{"server_id": 101}, {"name": "x"}, {"server_id": 0, "name": "x y"}, {"server_id": 1, "name": "a", "snapshot_id": 5}]),
        "snapshots[0] needs name with state=present; snapshots[1] needs server_id with state=present; snapshots[2].server_id must "
        "be a positive integer, got 0; snapshots[2].name may contain only ASCII letters, digits, hyphens and underscores, got "
        "'x y'; snapshots[3].snapshot_id is only used with state=absent",
    ),
    (
        dict(state="absent", snapshots=[{"snapshot_id": 5, "name": "a"}, {"server_id": 101}, {"snapshot_id": 0}, {"snapshot_id": 6, "description": "d"}]),
        "snapshots[0] gives snapshot_id and name; give one of them; snapshots[1] needs snapshot_id, or server_id and name, with "
        "state=absent; snapshots[2].snapshot_id must be a positive integer, got 0; snapshots[3].description is only used with "
        "state=present",
    ),
    (
        dict(snapshots=[{"server_id": 101, "name": "a"}, {"server_id": 101, "name": "b"}]),
        "server 101 is given twice with different names (a and b); one batch takes one snapshot per server",
    ),
    ({}, "one of the following is required: servers, snapshots, snapshot_ids"),
    (dict(servers=[101], snapshot_ids=[1]), "parameters are mutually exclusive: servers|snapshots|snapshot_ids"),
    (dict(servers=[101], name=None), "missing parameter(s) required by 'servers': name"),
    (dict(servers=[101], retention=0), "retention must be between 1 and 5 (the provider's limit per server), got 0"),
    (dict(servers=[101], retention=6), "retention must be between 1 and 5 (the provider's limit per server), got 6"),
    # The options of state=present are refused with state=absent, in the words of vps_snapshot.
    (dict(state="absent", servers=[101], retention=2), "retention is only used with state=present"),
    (dict(state="absent", snapshot_ids=[801], resume_match="pre-*"), "resume_match is only used with state=present"),
    (
        dict(state="absent", snapshot_ids=[801], retention=2, resume_match="p-*", wait_for="first"),
        "resume_match is only used with state=present; retention is only used with state=present; wait_for=first is only used with state=present",
    ),
    # The shared name and description of servers are not silently dropped with snapshots or snapshot_ids.
    (dict(snapshots=[{"server_id": 101, "name": "a"}], name="b"), "name is only used with servers; each entry of snapshots gives its own"),
    (dict(snapshots=[{"server_id": 101, "name": "a"}], description="d"), "description is only used with servers; each entry of snapshots gives its own"),
    (dict(state="absent", snapshot_ids=[801], name="b"), "name is only used with servers; each entry of snapshots gives its own"),
    (dict(state="absent", snapshot_ids=[801], quiesce_release="accepted"), "quiesce_release is only used with state=present"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_fails_naming_each_problem_before_any_request(rsps, run, args, message):
    full = dict(dict(name=NAME) if "servers" in args else {}, **args)
    result = run(vps_snapshot_batch, dict((key, value) for key, value in full.items() if value is not None))

    assert result["failed"] is True
    assert result["msg"] == message
    assert sent(rsps) == []
    assert warnings(result) == []
