# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps_snapshot state=restored, run as Ansible runs it: a restore is never started twice by accident."""

from __future__ import annotations

import functools

import pytest
import requests

from ansible_collections.vps.cloud.plugins.modules import vps_snapshot
from ansible_collections.vps.cloud.tests.unit.helpers import (
    LIST,
    LIST_ALL,
    POST,
    SERVER,
    SERVER_ID,
    add_delete,
    add_list,
    add_post,
    add_restore,
    add_server,
    clean,
    delete_call,
    describe,
    new_snapshot,
    request_json,
    restore_call,
    sent,
    server_body,
    server_view,
    snap,
    warnings,
)

EXISTING = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z", description="Before major migration")
RUNNING = server_view("running")
RESTORING = server_view("restoring")
STOPPED = server_view("stopped")
RESTORED_FROM = {"id": 801, "name": "pre-migration", "created_at": "2025-01-15T18:30:00Z"}
RESTORE = restore_call()
FROM = "server 12345 from snapshot %s" % describe(EXISTING)
STARTED_IT = " Before this failure the task made changes: It started the restore of %s." % FROM
SAFETY = "before-restore"


def restored(**args):
    return dict(dict(state="restored", snapshot_id=801), **args)


def safety_snapshot(status="in_progress"):
    return new_snapshot(status, name=SAFETY, snapshot_id=850, description=None)


# Restores -------------------------------------------------------------------------------------------------------------


def test_by_id_restores_and_waits_for_the_server(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "restoring")
    add_server(rsps, "running")

    result = run(vps_snapshot, restored(), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["server"] == RUNNING
    assert result["snapshot"] == clean(EXISTING)
    assert result["diff"] == {"before": {"server": RUNNING}, "after": {"server": RUNNING, "restored_from": RESTORED_FROM}}
    assert result["msg"] == "Restored %s." % FROM
    assert "safety_snapshot" not in result and "pruned" not in result
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER, SERVER]
    assert rsps.calls[2].request.body is None


def test_without_wait_the_result_and_the_diff_agree_the_server_is_restoring(rsps, run):
    add_list(rsps, [EXISTING, snap(700, "older")])
    add_server(rsps, "stopped")
    add_restore(rsps, json={"status": "success"})

    result = run(vps_snapshot, dict(state="restored", server_id=SERVER_ID, name="pre-migration", wait=False), diff=True)

    assert result["changed"] is True
    assert result["server"] == RESTORING
    assert result["diff"] == {"before": {"server": STOPPED}, "after": {"server": RESTORING, "restored_from": RESTORED_FROM}}
    assert result["msg"] == (
        "Started the restore of server 12345 from snapshot %s; it goes on at the provider, and wait is false, "
        "so this task did not wait for it to end. Follow it with vps.cloud.vps_server_info (server_id: "
        "12345, wait: true)." % describe(EXISTING)
    )
    assert sent(rsps) == [LIST, SERVER, RESTORE]


def test_name_match_restores_the_newest_completed_match_never_a_failed_or_unfinished_one(rsps, run):
    good = snap(781, "pre-upgrade-20250110", created_at="2025-01-10T00:00:00Z")
    listing = [
        snap(790, "manual", created_at="2025-01-19T00:00:00Z"),
        snap(784, "pre-upgrade-20250114", status="in_progress", created_at="2025-01-14T00:00:00Z"),
        snap(783, "pre-upgrade-20250113", status="failed", created_at="2025-01-13T00:00:00Z"),
        good,
        snap(780, "pre-upgrade-20250109", created_at="2025-01-09T00:00:00Z"),
    ]
    add_list(rsps, listing)
    add_server(rsps, "running")
    add_restore(rsps, snapshot_id=781)

    result = run(vps_snapshot, dict(state="restored", server_id=SERVER_ID, name_match="pre-upgrade-*", wait=False))

    assert result["changed"] is True
    assert result["snapshot"] == clean(good)
    assert sent(rsps) == [LIST, SERVER, restore_call(781)]


@pytest.mark.parametrize("prefer, restored", [(True, 781), (False, 782)])
def test_prefer_quiesced_restores_the_newest_quiesced_match(rsps, run, prefer, restored):
    frozen = snap(781, "pre-upgrade-1", created_at="2025-01-10T00:00:00Z", description="x [vps.cloud quiesce: freeze held until completed]")
    synced = snap(782, "pre-upgrade-2", created_at="2025-01-11T00:00:00Z", description="x [vps.cloud quiesce: sync]")
    add_list(rsps, [synced, frozen])
    add_server(rsps, "running")
    add_restore(rsps, snapshot_id=restored)

    result = run(vps_snapshot, dict(state="restored", server_id=SERVER_ID, name_match="pre-upgrade-*", prefer_quiesced=prefer, wait=False))

    assert result["changed"] is True
    assert result["snapshot"]["id"] == restored
    assert sent(rsps) == [LIST, SERVER, restore_call(restored)]


def test_prefer_quiesced_needs_name_match(rsps, run):
    result = run(vps_snapshot, dict(state="restored", server_id=SERVER_ID, name="pre-upgrade-1", prefer_quiesced=True))

    assert result["failed"] is True
    assert "prefer_quiesced is only used with name_match" in result["msg"]
    assert sent(rsps) == []


@pytest.mark.parametrize(
    "listing, tail",
    [
        (
            [snap(790, "manual"), snap(784, "pre-upgrade-2", status="in_progress"), snap(783, "pre-upgrade-1", status="failed")],
            " (matching, none completed: pre-upgrade-2 (id 784, in_progress, created 2025-01-15T18:30:00Z); pre-upgrade-1 (id 783, "
            "failed, created 2025-01-15T18:30:00Z))",
        ),
        ([snap(790, "manual")], ""),
    ],
    ids=["none completed", "none matching"],
)
def test_name_match_without_a_completed_match_fails_listing_the_matches(rsps, run, listing, tail):
    add_list(rsps, listing)

    result = run(vps_snapshot, dict(state="restored", server_id=SERVER_ID, name_match="pre-upgrade-*"))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == "No completed snapshot of server 12345 matches 'pre-upgrade-*', so there is nothing to restore from%s." % tail
    assert result["snapshots"] == [clean(s) for s in listing if s["name"].startswith("pre-upgrade")]
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(snapshot_id=999), "No snapshot id 999 exists, so there is nothing to restore from."),
        (dict(snapshot_id=999, server_id=SERVER_ID), "No snapshot id 999 exists on server 12345, so there is nothing to restore from."),
        (dict(server_id=SERVER_ID, name="nope"), "No snapshot named 'nope' exists on server 12345, so there is nothing to restore from."),
    ],
)
def test_a_missing_snapshot_is_a_clear_error(rsps, run, args, message):
    add_list(rsps, [EXISTING], server_id=args.get("server_id"))
    if "snapshot_id" in args and "server_id" in args:
        add_list(rsps, [EXISTING], server_id=None)

    result = run(vps_snapshot, dict(args, state="restored"))

    assert result["failed"] is True
    assert result["msg"] == message
    assert all(method == "GET" for method, dummy in sent(rsps))


def test_namesakes_are_refused_rather_than_picked(rsps, run):
    add_list(rsps, [snap(801, "twin"), snap(802, "twin")])

    result = run(vps_snapshot, dict(state="restored", server_id=SERVER_ID, name="twin"))

    assert result["failed"] is True
    assert result["msg"].startswith("Server 12345 has 2 snapshots named 'twin' (ids 801, 802)")
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize("status", ["in_progress", "failed"])
def test_an_unfinished_snapshot_is_never_restored(rsps, run, status):
    raw = snap(801, "pre-migration", status=status)
    add_list(rsps, [raw], server_id=None)

    result = run(vps_snapshot, restored())

    assert result["failed"] is True
    assert result["msg"] == (
        "Snapshot pre-migration (id 801, %s, created 2025-01-15T18:30:00Z) is %s; only a completed snapshot can be restored." % (status, status)
    )
    assert result["snapshot"] == clean(raw)
    assert sent(rsps) == [LIST_ALL]


# Flows: the provider's answers after the listing, in order, and what the task does with them -------------------------


def server(status="running", **kwargs):
    return functools.partial(add_server, status=status, **kwargs)


def restore(**kwargs):
    return functools.partial(add_restore, **kwargs)


NOT_HERE = dict(http_status=404, body={"detail": "Not found."})
BUSY_400 = restore(status=400, json={"detail": "Server is busy."})
BAD_GATEWAY = restore(status=502, json={"detail": "Bad gateway"})
READ_TIMEOUT = restore(body=requests.exceptions.ReadTimeout("Read timed out."))

# name: (answers, options, the server returned, requests after the listing)
STARTED = {
    "waits for the end": ([server(), restore(), server("restoring"), server()], {}, RUNNING, [SERVER, RESTORE, SERVER, SERVER]),
    "waits out a restore from another snapshot first": (
        [server("restoring", restoring_from={"id": 799}), server(), restore()],
        {},
        RUNNING,
        [SERVER, SERVER, RESTORE, SERVER],
    ),
    "waits until a stopping server is idle": ([server("stopping"), server(), restore()], {}, RUNNING, [SERVER, SERVER, RESTORE, SERVER]),
    "waits out a refusal while busy, then sends again": (
        [server(), BUSY_400, server("snapshotting"), server(), restore()],
        {},
        RUNNING,
        [SERVER, RESTORE, SERVER, SERVER, RESTORE, SERVER],
    ),
    "no endpoint, no wait": ([server(**NOT_HERE), restore()], dict(wait=False), RESTORING, [SERVER, RESTORE]),
    "no endpoint, accepted with an unreadable answer": (
        [server(**NOT_HERE), restore(body="<html>OK</html>", content_type="text/html")],
        dict(wait=False),
        RESTORING,
        [SERVER, RESTORE],
    ),
    "502 but seen restoring: not sent again": ([server(), BAD_GATEWAY, server("restoring")], dict(wait=False), RESTORING, [SERVER, RESTORE, SERVER]),
    "dropped but seen restoring: not sent again": (
        [server(), restore(body=requests.exceptions.ConnectionError("Connection aborted.")), server("restoring")],
        dict(wait=False),
        RESTORING,
        [SERVER, RESTORE, SERVER],
    ),
    "accepted with an unreadable answer: not sent again": (
        [server(), restore(body="<html>OK</html>", content_type="text/html")],
        dict(wait=False),
        RESTORING,
        [SERVER, RESTORE],
    ),
    "refused at the edge and not started: sent again": (
        [server(), restore(status=503, json={"detail": "Service unavailable"}), restore()],
        dict(wait=False),
        RESTORING,
        [SERVER, RESTORE, SERVER, RESTORE],
    ),
    "no answer but seen restoring: followed": ([server(), READ_TIMEOUT, server("restoring"), server()], {}, RUNNING, [SERVER, RESTORE, SERVER, SERVER]),
}


@pytest.mark.parametrize("flow", sorted(STARTED))
def test_a_restore_is_started_once_and_followed(rsps, run, flow):
    answers, options, returned, requests_after = STARTED[flow]
    add_list(rsps, [EXISTING], server_id=None)
    for register in answers:
        register(rsps)

    result = run(vps_snapshot, restored(**options))

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["server"] == returned
    assert sent(rsps) == [LIST_ALL] + requests_after


NO_ENDPOINT = (
    "The API has no usable GET /servers/12345/ (HTTP %s), so the server's restore cannot be watched. Set wait: false "
    "to start the restore without waiting for it."
)
REFUSED = "The provider refused the restore of %s: Snapshot is from an older plan." % FROM

# name: (answers, options, message, whether the task reports the restore as a change, requests after the listing)
FAILED = {
    "no endpoint to wait with (404)": ([server(**NOT_HERE)], {}, NO_ENDPOINT % 404, False, [SERVER]),
    "no endpoint to wait with (405)": ([server(http_status=405, body={"detail": "No."})], {}, NO_ENDPOINT % 405, False, [SERVER]),
    "the server cannot be read": (
        [server(http_status=403, body={"detail": "Forbidden."})],
        dict(wait=False),
        "Could not read server 12345: Forbidden. (HTTP 403 on GET servers/12345/)",
        False,
        [SERVER],
    ),
    "the server has no status": (
        [server(body={"id": SERVER_ID})],
        {},
        "Could not read server 12345: the API answered GET servers/12345/ without a status ({'id': 12345})",
        False,
        [SERVER],
    ),
    "the endpoint vanishes while waiting": (
        [server(), restore(), server(http_status=405, body={"detail": "Method not allowed."})],
        {},
        "Could not read server 12345: Method not allowed. (HTTP 405 on GET servers/12345/)" + STARTED_IT,
        True,
        [SERVER, RESTORE, SERVER],
    ),
    "busy beyond wait_timeout": (
        [server("stopping")],
        dict(wait_timeout=5),
        (
            "Timed out after 5s (wait_timeout=5) waiting for server 12345 to be running or stopped; last seen status: stopping. No "
            "restore was started. The server stayed busy."
        ),
        False,
        [SERVER] * 3,
    ),
    "refused while busy beyond wait_timeout": (
        [server(), BUSY_400, server("snapshotting")],
        dict(wait_timeout=4),
        (
            "Timed out after 4s (wait_timeout=4) waiting for server 12345 to be running or stopped; last seen status: snapshotting. "
            "No restore was started. The provider refused the restore while the server was snapshotting."
        ),
        False,
        [SERVER, RESTORE, SERVER, SERVER, SERVER],
    ),
    "refused for another reason, the server idle": (
        [server(), restore(status=400, json={"detail": "Snapshot is from an older plan."}), server()],
        {},
        REFUSED,
        False,
        [SERVER, RESTORE, SERVER],
    ),
    "refused for another reason, the server unreadable": (
        [server(), restore(status=400, json={"detail": "Snapshot is from an older plan."}), server(**NOT_HERE)],
        {},
        REFUSED,
        False,
        [SERVER, RESTORE, SERVER],
    ),
    "answered 404": (
        [server(), restore(status=404, json={"detail": "Not found."})],
        {},
        "Could not restore %s: Not found. (HTTP 404 on POST snapshots/801/restore/)" % FROM,
        False,
        [SERVER, RESTORE],
    ),
    "answered 409": (
        [server(), restore(status=409, json={"detail": "Conflict."})],
        {},
        "Could not restore %s: Conflict. (HTTP 409 on POST snapshots/801/restore/)" % FROM,
        False,
        [SERVER, RESTORE],
    ),
    "refused at the edge more than api_retries times": (
        [server(), BAD_GATEWAY],
        dict(api_retries=1),
        "Could not start the restore of %s: Bad gateway (HTTP 502 on POST snapshots/801/restore/)" % FROM,
        False,
        [SERVER, RESTORE, SERVER, RESTORE, SERVER],
    ),
}


@pytest.mark.parametrize("flow", sorted(FAILED))
def test_a_restore_that_cannot_go_on_fails_saying_why(rsps, run, flow):
    answers, options, message, changed, requests_after = FAILED[flow]
    add_list(rsps, [EXISTING], server_id=None)
    for register in answers:
        register(rsps)

    result = run(vps_snapshot, restored(**options))

    assert result["failed"] is True
    assert result["changed"] is changed
    assert result["msg"] == message
    assert sent(rsps)[: len(requests_after) + 1] == [LIST_ALL] + requests_after


@pytest.mark.parametrize(
    "answers, failure",
    [
        (
            [server(), restore(status=400, json={"detail": "Nope."}), server()],
            {
                "status": 400,
                "message": "Nope.",
                "method": "POST",
                "path": "snapshots/801/restore/",
                "url": "https://api.vps.test/api/v1/snapshots/801/restore/",
            },
        ),
        (
            [server(http_status=405, body={"detail": "Nope."})],
            {"status": 405, "message": "Nope.", "method": "GET", "path": "servers/12345/", "url": "https://api.vps.test/api/v1/servers/12345/"},
        ),
    ],
    ids=["refused", "no endpoint to wait with"],
)
def test_a_failure_payload_carries_the_status(rsps, run, answers, failure):
    add_list(rsps, [EXISTING], server_id=None)
    for register in answers:
        register(rsps)

    result = run(vps_snapshot, restored())

    assert result["failure"] == failure


def test_without_a_server_endpoint_and_without_wait_the_restore_warns(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, http_status=404, body={"detail": "Not found."})
    add_restore(rsps)

    result = run(vps_snapshot, restored(wait=False), diff=True)

    assert result["diff"]["before"] == {"server": {"id": SERVER_ID, "name": "web-server-01", "status": None}}
    assert warnings(result) == [
        "The API has no usable GET /servers/12345/ (HTTP 404), so the restore starts without checking whether one is already under way."
    ]


@pytest.mark.parametrize("source, warned", [(None, True), ({"id": 801, "name": "pre-migration"}, False)], ids=["source not named", "same source"])
def test_a_restore_under_way_is_followed_never_started_again(rsps, run, source, warned):
    extra = {"restoring_from": source} if source else {}
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "restoring", **extra)
    add_server(rsps, "restoring", **extra)
    add_server(rsps, "running")

    result = run(vps_snapshot, restored(safety_snapshot={"name": SAFETY}), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["server"] == RUNNING
    assert result["diff"] == {"before": {"server": RESTORING}, "after": {"server": RUNNING}}
    assert result["msg"] == "Server 12345 was already restoring; this task followed that restore and started none."
    assert "safety_snapshot" not in result
    assert warnings(result) == (
        [
            "Server 12345 was already restoring, from a snapshot the API does not name. This task started no second restore and "
            "followed that one; if it was not from snapshot %s, restore again once it has ended." % describe(EXISTING)
        ]
        if warned
        else []
    )
    assert sent(rsps) == [LIST_ALL, SERVER, SERVER, SERVER]


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_restore_under_way_without_wait_or_in_check_mode_is_left_alone(rsps, run, check_mode):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "restoring")

    result = run(vps_snapshot, restored(wait=False), check_mode=check_mode)

    assert result["changed"] is False
    assert result["server"] == RESTORING
    assert sent(rsps) == [LIST_ALL, SERVER]


@pytest.mark.parametrize(
    "wait, after, requests_after",
    [(True, RUNNING, [SERVER]), (False, RESTORING, [])],
    ids=["followed to its end", "left to go on"],
)
def test_a_restore_another_run_started_just_before_this_ones_post_is_joined_never_sent_again(rsps, run, wait, after, requests_after):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, status=400, json={"detail": "Server is being restored."})
    add_server(rsps, "restoring", restoring_from={"id": 801, "name": "pre-migration"})
    if wait:
        add_server(rsps, "running")

    result = run(vps_snapshot, restored(wait=wait), diff=True)

    assert (result["rc"], result["changed"]) == (0, False)
    assert result["msg"] == (
        "Server 12345 was already restoring when this task asked (another run's restore?); this task followed that restore and started none."
    )
    assert result["server"] == after
    assert result["diff"] == {"before": {"server": RUNNING}, "after": {"server": after}}
    assert warnings(result) == []
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER] + requests_after


# Check mode and timeouts ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status, tail", [("running", ""), ("stopping", ", after waiting until it is idle")])
def test_check_mode_sends_no_post_and_shows_the_server_restoring(rsps, run, status, tail):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, status)

    result = run(vps_snapshot, restored(), check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["server"] == RESTORING
    assert result["snapshot"] == clean(EXISTING)
    assert result["diff"] == {"before": {"server": server_view(status)}, "after": {"server": RESTORING, "restored_from": RESTORED_FROM}}
    assert result["msg"] == "Check mode: would restore %s%s." % (FROM, tail)
    assert sent(rsps) == [LIST_ALL, SERVER]


def test_the_restore_timeout_points_to_vps_server_info_never_to_a_rerun(rsps, run, vtime):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "restoring")
    start = vtime.now

    result = run(vps_snapshot, restored(wait_timeout=1))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == (
        "Timed out after 1s (wait_timeout=1) waiting for server 12345 to finish restoring from snapshot %s; last seen status: "
        "restoring. The restore goes on at the provider. Do not rerun this task to keep waiting: once the restore has ended, a "
        "rerun would start another one. Follow it with vps.cloud.vps_server_info (server_id: 12345, wait: true), which only "
        "reads.%s" % (describe(EXISTING), STARTED_IT)
    )
    assert result["server"] == RESTORING
    assert vtime.now - start == 1
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER]


@pytest.mark.parametrize(
    "failure",
    [
        dict(body=requests.exceptions.ReadTimeout("Read timed out.")),
        dict(status=504, json={"detail": "Gateway timeout"}),
    ],
    ids=["read timeout", "504"],
)
def test_a_restore_without_an_answer_is_never_sent_again(rsps, run, failure):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, **failure)

    result = run(vps_snapshot, restored(wait=False))

    assert result["failed"] is True
    assert result["msg"].startswith("Could not confirm whether the restore of %s started: " % FROM)
    assert result["msg"].endswith(
        "The server does not show 'restoring'. Look at the server before restoring again (vps.cloud.vps_server_info), so that it is not restored twice."
    )
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE] + [SERVER] * 8


# The safety snapshot --------------------------------------------------------------------------------------------------


def test_the_safety_snapshot_is_taken_and_completed_before_the_restore_starts(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [EXISTING])
    add_post(rsps, payload=safety_snapshot())
    add_list(rsps, [safety_snapshot(), EXISTING])
    add_list(rsps, [safety_snapshot("completed"), EXISTING])
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "running")

    result = run(vps_snapshot, restored(safety_snapshot={"name": SAFETY, "description": "before the rollback"}), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["safety_snapshot"] == clean(safety_snapshot("completed"))
    assert result["msg"] == "Restored %s. Safety snapshot taken first: %s." % (FROM, describe(safety_snapshot("completed")))
    assert "pruned" not in result
    assert result["diff"]["after"] == {"server": RUNNING, "restored_from": RESTORED_FROM, "safety_snapshot": clean(safety_snapshot("completed"))}
    assert sent(rsps) == [LIST_ALL, SERVER, LIST, POST, LIST, LIST, SERVER, RESTORE, SERVER]
    assert request_json(rsps, 3) == {"server_id": SERVER_ID, "name": SAFETY, "description": "before the rollback"}


def test_a_safety_snapshot_name_taken_by_a_completed_snapshot_is_refused(rsps, run):
    taken = snap(790, SAFETY, created_at="2025-01-10T00:00:00Z")
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [EXISTING, taken])

    result = run(vps_snapshot, restored(safety_snapshot={"name": SAFETY}))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (
        "No restore was started: the safety snapshot could not be taken. The safety snapshot name 'before-restore' is taken by "
        "snapshot %s, which holds an older state of the server, not its state now. Give the safety snapshot a new name (a "
        "timestamp in it, say) so that this restore can be undone." % describe(taken)
    )
    assert sent(rsps) == [LIST_ALL, SERVER, LIST]


def test_a_safety_snapshot_left_in_progress_by_an_interrupted_run_is_waited_for_and_used(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [EXISTING, safety_snapshot()])
    add_list(rsps, [EXISTING, safety_snapshot("completed")])
    add_server(rsps, "running")
    add_restore(rsps)

    result = run(vps_snapshot, restored(safety_snapshot={"name": SAFETY}, wait=False))

    assert result["rc"] == 0
    assert result["safety_snapshot"] == clean(safety_snapshot("completed"))
    assert sent(rsps) == [LIST_ALL, SERVER, LIST, LIST, SERVER, RESTORE]


FULL = [snap(780 + i, "daily-%d" % i, created_at="2025-01-0%dT00:00:00Z" % (i + 1)) for i in range(5)]
FULL_AGED = "; ".join(describe(raw, "%dd 12h old" % (19 - i)) for i, raw in enumerate(FULL) if i)


@pytest.mark.parametrize(
    "safety, reason",
    [
        ({"name": SAFETY}, "the server already has 5 snapshots, the provider's limit of 5 per server, and without retention nothing is deleted to make room"),
        (
            {"name": SAFETY, "retention": 1, "retention_match": "weekly-*"},
            "the server has 5 snapshots, the provider's limit of 5, and retention cannot make room: only 0 match retention_match 'weekly-*' and may be deleted",
        ),
    ],
    ids=["no retention", "nothing matches"],
)
def test_a_safety_snapshot_without_room_fails_before_any_deletion_or_restore(rsps, run, safety, reason):
    add_list(rsps, FULL, server_id=None)
    add_server(rsps, "running")
    add_list(rsps, FULL)

    result = run(vps_snapshot, restored(snapshot_id=780, safety_snapshot=safety))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"].startswith(
        "No restore was started: the safety snapshot could not be taken. Cannot take snapshot 'before-restore' of server 12345: %s" % reason
    )
    assert result["snapshots"] == [clean(s) for s in reversed(FULL)]
    assert sent(rsps) == [LIST_ALL, SERVER, LIST]


@pytest.mark.parametrize("protect", [True, False])
def test_the_safety_snapshot_keeps_the_last_completed_snapshot_unless_allowed(rsps, run, protect):
    newest = snap(790, "newest", created_at="2025-01-19T00:00:00Z")
    listing = [newest] + [snap(791 + i, "w%d" % i, status="in_progress") for i in range(3)] + [EXISTING]
    add_list(rsps, listing, server_id=None)
    add_server(rsps, "running")
    add_list(rsps, listing)
    if not protect:
        add_server(rsps, "running")
        add_delete(rsps, 790)
        add_post(rsps, payload=safety_snapshot("completed"))
        add_server(rsps, "running")
        add_restore(rsps)

    result = run(vps_snapshot, restored(wait=False, protect_last_completed=protect, safety_snapshot={"name": SAFETY, "retention": 1}))

    assert bool(result.get("failed")) is protect
    assert result["pruned"] == ([] if protect else [clean(newest)])
    if protect:
        assert "(protect_last_completed)" in result["msg"]
        assert sent(rsps) == [LIST_ALL, SERVER, LIST]


@pytest.mark.parametrize(
    "busy, message",
    [
        (
            "snapshotting",
            "Timed out after 5s (wait_timeout=5) waiting for server 12345 to be running or stopped; last seen status: "
            "snapshotting. No restore was started. The server stayed busy after the safety snapshot.",
        ),
        (
            "running",
            "Timed out after 5s (wait_timeout=5) waiting for server 12345 to finish restoring from snapshot %s; last seen "
            "status: restoring." % describe(EXISTING),
        ),
    ],
    ids=["busy after the safety snapshot", "the restore outlasts wait_timeout"],
)
def test_a_restore_that_fails_after_its_safety_snapshot_reports_both(rsps, run, busy, message):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [EXISTING])
    add_post(rsps, payload=safety_snapshot("completed"))
    add_server(rsps, busy)
    if busy == "running":
        add_restore(rsps)
        add_server(rsps, "restoring")

    result = run(vps_snapshot, restored(wait_timeout=5, safety_snapshot={"name": SAFETY, "retention": 3}))

    assert (result["failed"], result["changed"]) == (True, True)
    assert result["msg"].startswith(message)
    tail = "Before this failure the task made changes: It created %s." % describe(safety_snapshot("completed"))
    if busy == "running":
        tail += " It started the restore of %s." % FROM
    assert result["msg"].endswith(tail)
    assert result["pruned"] == []
    assert result["safety_snapshot"] == clean(safety_snapshot("completed"))


def room_made_for_a_safety_snapshot(rsps, status):
    """Server 12345 at the limit; 781 goes to make room for the safety snapshot, which ends `status`."""
    add_list(rsps, FULL, server_id=None)
    add_server(rsps, "running")
    add_list(rsps, FULL)
    add_server(rsps, "running")
    add_delete(rsps, 781)
    add_post(rsps, payload=safety_snapshot())
    add_list(rsps, [FULL[0]] + FULL[2:] + [safety_snapshot(status)])


def test_the_safety_snapshot_retention_never_deletes_the_snapshot_being_restored(rsps, run):
    room_made_for_a_safety_snapshot(rsps, "completed")
    for snapshot_id in (782, 783, 784):
        add_delete(rsps, snapshot_id)
    add_restore(rsps, snapshot_id=780)

    result = run(vps_snapshot, restored(snapshot_id=780, wait=False, safety_snapshot={"name": SAFETY, "retention": 1}))

    assert result["rc"] == 0
    assert result["snapshot"] == clean(FULL[0])
    assert result["pruned"] == [clean(s) for s in FULL[1:]]
    assert result["msg"] == (
        "Started the restore of server 12345 from snapshot %s; it goes on at the provider, and wait is false, "
        "so this task did not wait for it to end. Follow it with vps.cloud.vps_server_info (server_id: "
        "12345, wait: true). Safety snapshot taken first: %s. Its retention deleted %s."
        % (describe(FULL[0]), describe(safety_snapshot("completed")), FULL_AGED)
    )
    assert sent(rsps) == [
        LIST_ALL,
        SERVER,
        LIST,
        SERVER,
        delete_call(781),
        POST,
        LIST,
        delete_call(782),
        delete_call(783),
        delete_call(784),
        SERVER,
        restore_call(780),
    ]


def test_a_safety_snapshot_that_fails_stops_the_restore_and_reports_what_was_done(rsps, run):
    room_made_for_a_safety_snapshot(rsps, "failed")

    result = run(vps_snapshot, restored(snapshot_id=780, safety_snapshot={"name": SAFETY, "retention": 1}))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == (
        "No restore was started: the safety snapshot could not be taken. Snapshot %s on server 12345 ended failed, so it is no "
        "restore point. Run the task again: it deletes that snapshot and takes it again. Before this failure the task made "
        "changes: "
        "It created %s, and deleted %s." % (describe(safety_snapshot("failed")), describe(safety_snapshot()), describe(FULL[1], "18d 12h old"))
    )
    assert result["safety_snapshot"] == clean(safety_snapshot("failed"))
    assert RESTORE not in sent(rsps) and restore_call(780) not in sent(rsps)


def test_check_mode_previews_the_safety_snapshot_and_the_restore(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [EXISTING])
    add_server(rsps, "running")

    result = run(vps_snapshot, restored(safety_snapshot={"name": SAFETY}), check_mode=True, diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["safety_snapshot"]["id"] is None
    assert result["safety_snapshot"]["name"] == SAFETY
    assert result["diff"]["after"]["safety_snapshot"] == result["safety_snapshot"]
    assert result["server"] == RESTORING
    assert result["msg"] == "Check mode: would restore %s. Would first take safety snapshot 'before-restore'." % FROM
    assert sent(rsps) == [LIST_ALL, SERVER, LIST, SERVER]


def test_check_mode_previews_what_the_safety_snapshot_would_prune(rsps, run):
    add_list(rsps, FULL, server_id=None)
    add_server(rsps, "running")
    add_list(rsps, FULL)
    add_server(rsps, "running")

    result = run(vps_snapshot, restored(snapshot_id=780, safety_snapshot={"name": SAFETY, "retention": 1}), check_mode=True)

    assert result["changed"] is True
    assert result["pruned"] == [clean(s) for s in FULL[1:]]
    would_delete = "".join("; would delete " + one for one in FULL_AGED.split("; "))
    assert result["msg"] == (
        "Check mode: would restore server 12345 from snapshot %s. Would first take safety snapshot 'before-restore'%s." % (describe(FULL[0]), would_delete)
    )
    assert sent(rsps) == [LIST_ALL, SERVER, LIST, SERVER]


def test_a_safety_snapshot_timeout_names_the_users_wait_timeout(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_list(rsps, [EXISTING])
    add_post(rsps, payload=safety_snapshot())
    add_list(rsps, [EXISTING, safety_snapshot()])

    result = run(vps_snapshot, restored(wait_timeout=10, safety_snapshot={"name": SAFETY}))

    assert result["msg"].startswith(
        "No restore was started: the safety snapshot could not be taken. Timed out after 10s "
        "(wait_timeout=10) waiting for snapshot before-restore (id 850) on server 12345 to complete"
    )


def test_check_mode_refuses_a_safety_snapshot_the_run_would_refuse(rsps, run):
    add_list(rsps, FULL, server_id=None)
    add_server(rsps, "running")
    add_list(rsps, FULL)

    result = run(vps_snapshot, restored(snapshot_id=780, safety_snapshot={"name": SAFETY}), check_mode=True)

    assert result["failed"] is True
    assert result["msg"].startswith("No restore was started: the safety snapshot could not be taken. Cannot take snapshot")
    assert sent(rsps) == [LIST_ALL, SERVER, LIST]


def test_without_a_server_endpoint_the_safety_snapshot_is_taken_and_the_server_not_read_again(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, http_status=404, body={"detail": "Not found."})
    add_list(rsps, [EXISTING])
    add_post(rsps, payload=safety_snapshot("completed"))
    add_restore(rsps)

    result = run(vps_snapshot, restored(safety_snapshot={"name": SAFETY}, wait=False))

    assert result["rc"] == 0
    assert result["safety_snapshot"] == clean(safety_snapshot("completed"))
    assert sent(rsps) == [LIST_ALL, SERVER, LIST, POST, RESTORE]


# A server in a failure status ------------------------------------------------------------------------------------------

NOT_VALID = "Server is not in a valid state for restoration (status: error)."


def test_a_restore_of_a_server_in_a_failure_status_is_asked_for_at_once_and_its_refusal_fails_at_once(rsps, run, vtime):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "error")
    add_restore(rsps, status=400, json={"error": NOT_VALID})
    add_server(rsps, "error")

    result = run(vps_snapshot, restored())

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"] == (
        "The provider refused the restore of server 12345 from snapshot %s: %s Server 12345 is in status 'error', a failure "
        "status that no wait would end, so this task stops at once; no restore was started. Look at the server at the "
        "provider." % (describe(EXISTING), NOT_VALID)
    )
    assert result["server"] == server_view("error")
    assert result["failure"]["status"] == 400
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER]
    assert vtime.sleeps == []


def test_a_restore_the_provider_accepts_for_a_server_in_a_failure_status_says_what_it_did(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "error")
    add_restore(rsps)
    add_server(rsps, "running")

    result = run(vps_snapshot, restored())

    assert (result["rc"], result["changed"], result["server"]) == (0, True, RUNNING)
    assert warnings(result) == [
        "Server 12345 was in status 'error', a failure status that no wait would end: the restore from snapshot %s was asked "
        "for at once, since restoring is the way out of a broken server and only the provider knows whether it allows it." % describe(EXISTING)
    ]
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER]


def test_a_restore_that_leaves_the_server_in_a_failure_status_fails_at_once_reporting_the_restore(rsps, run, vtime):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "restoring")
    add_server(rsps, "error")

    result = run(vps_snapshot, restored())

    assert (result["failed"], result["changed"]) == (True, True)
    assert result["msg"].startswith(
        "The restore of server 12345 from snapshot %s was started, and the server is now in status 'error', a failure status "
        "that no wait would end, so this task stops at once. Look at the server at the provider. Before this failure the task "
        "made changes: " % describe(EXISTING)
    )
    assert result["server"] == server_view("error")
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER, SERVER]
    assert len(vtime.sleeps) == 2


def test_a_restore_waiting_for_a_server_in_an_unrecognised_status_warns_at_once(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "maintenance")
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "running")

    result = run(vps_snapshot, restored(wait_timeout=600))

    assert (result["rc"], result["changed"]) == (0, True)
    assert warnings(result) == [
        "Server 12345 reads status 'maintenance', which this collection does not know: it is taken for a transitional status "
        "and waited for (up to wait_timeout=600) until the server is running or stopped."
    ]
    assert sent(rsps) == [LIST_ALL, SERVER, SERVER, RESTORE, SERVER]


BLOCKED = "Restores are blocked, see KB-FIX"


@pytest.mark.parametrize(
    "answer, refusal, named, server",
    [
        (server_body("error"), NOT_VALID, SERVER_ID, server_view("error")),
        (server_body("error"), BLOCKED, SERVER_ID, server_view("error")),
        ({"name": "web-server-01", "status": "error"}, NOT_VALID, SERVER_ID, {"id": None, "name": "web-server-01", "status": "error"}),
        (server_body("error", server_id=12346), NOT_VALID, 12346, server_view("error", server_id=12346)),
    ],
    ids=["as read", "refusal without a final period", "answer without an id", "answer naming its id"],
)
def test_a_refusal_from_a_server_that_turned_to_a_failure_status_names_it_as_read_now(rsps, run, vtime, answer, refusal, named, server):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, status=400, json={"error": refusal})
    add_server(rsps, body=answer)

    result = run(vps_snapshot, restored())

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"] == (
        "The provider refused the restore of server 12345 from snapshot %s: %s. Server %s is in status 'error', a failure "
        "status that no wait would end, so this task stops at once; no restore was started. Look at the server at the "
        "provider." % (describe(EXISTING), refusal.rstrip("."), named)
    )
    assert result["server"] == server
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER]
    assert vtime.sleeps == []


def test_a_restore_followed_through_an_unrecognised_status_warns_at_once(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "maintenance")
    add_server(rsps, "running")

    result = run(vps_snapshot, restored(wait_timeout=900))

    assert (result["rc"], result["changed"], result["server"]) == (0, True, RUNNING)
    assert result["msg"] == "Restored %s." % FROM
    assert warnings(result) == [
        "Server 12345 reads status 'maintenance', which this collection does not know: it is taken for a transitional status "
        "and waited for (up to wait_timeout=900) until the server is running or stopped."
    ]
    assert sent(rsps) == [LIST_ALL, SERVER, RESTORE, SERVER, SERVER]
