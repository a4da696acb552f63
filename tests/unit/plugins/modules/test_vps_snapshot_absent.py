# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps_snapshot state=absent, run as Ansible runs it."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.vps.cloud.plugins.modules import vps_snapshot
from ansible_collections.vps.cloud.tests.unit.helpers import (
    CONTRACT_FIELDS,
    LIST,
    LIST_ALL,
    SERVER_ID,
    add_delete,
    add_list,
    clean,
    delete_call,
    describe,
    listing,
    sent,
    snap,
    warnings,
)

EXISTING = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z", description="Before major migration")
OTHER = snap(799, "daily-20250101", created_at="2025-01-01T03:00:00Z")
AGED = describe(EXISTING, "4d 17h old")
PREVIEW = ["id 801  pre-migration  completed  4d 17h old"]


def absent(**args):
    return dict(dict(state="absent"), **args)


def test_by_id_deletes_and_confirms_it_is_gone(rsps, run):
    add_list(rsps, [EXISTING, OTHER], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [OTHER])

    result = run(vps_snapshot, absent(snapshot_id=801), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(EXISTING)
    assert set(result["snapshot"]) == CONTRACT_FIELDS
    assert result["diff"] == {"before": clean(EXISTING), "after": {}}
    assert result["msg"] == "Deleted snapshot %s." % AGED
    assert result["preview"] == PREVIEW
    assert sent(rsps) == [LIST_ALL, delete_call(801), LIST]


def test_the_wait_polls_until_the_snapshot_has_left_the_listing(rsps, run, vtime):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [EXISTING])
    add_list(rsps, [EXISTING])
    add_list(rsps, [])

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert result["rc"] == 0
    assert sent(rsps) == [LIST_ALL, delete_call(801), LIST, LIST, LIST]
    assert len(vtime.sleeps) == 2


@pytest.mark.parametrize(
    "args", [dict(snapshot_id=801, server_id=SERVER_ID), dict(server_id=SERVER_ID, name="pre-migration")], ids=["id narrowed by server", "name"]
)
def test_without_wait_deletes_after_one_listing(rsps, run, args):
    add_list(rsps, [EXISTING, OTHER])
    add_delete(rsps, 801)

    result = run(vps_snapshot, absent(wait=False, **args))

    assert result["changed"] is True
    assert result["snapshot"] == clean(EXISTING)
    assert sent(rsps) == [LIST, delete_call(801)]


@pytest.mark.parametrize(
    "args, server_id",
    [
        (dict(snapshot_id=999), None),
        (dict(server_id=SERVER_ID, name="nope"), SERVER_ID),
    ],
)
def test_a_missing_snapshot_is_unchanged_after_one_request(rsps, run, args, server_id):
    add_list(rsps, [EXISTING], server_id=server_id)

    result = run(vps_snapshot, absent(**args), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == {}
    assert result["diff"] == {"before": {}, "after": {}}
    assert result["msg"] == "No such snapshot; nothing to delete."
    assert result["preview"] == []
    assert sent(rsps) == [listing(server_id)]


@pytest.mark.parametrize("state", ["absent", "restored"])
def test_a_snapshot_id_of_another_server_is_an_error_naming_its_server(rsps, run, state):
    theirs = snap(900, "golden", server_id=777)
    add_list(rsps, [EXISTING])
    add_list(rsps, [EXISTING, theirs], server_id=None)

    result = run(vps_snapshot, dict(state=state, snapshot_id=900, server_id=SERVER_ID))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (
        "Snapshot %s belongs to server 777 (web-server-01), not to server 12345. Give the server_id it belongs to, or leave server_id out." % describe(theirs)
    )
    assert result["snapshot"] == clean(theirs)
    assert sent(rsps) == [LIST, LIST_ALL]


def test_a_snapshot_deleted_by_someone_else_meanwhile_is_no_change(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, status=404, json={"detail": "Not found."})

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == clean(EXISTING)
    assert result["preview"] == []
    assert sent(rsps) == [LIST_ALL, delete_call(801)]


def test_a_refused_deletion_fails_with_the_provider_words(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, status=409, json={"detail": "Snapshot is in use."})

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (
        "Could not delete snapshot pre-migration (id 801, completed, created 2025-01-15T18:30:00Z): Snapshot is in use. (HTTP 409 on DELETE snapshots/801/)"
    )
    assert result["failure"] == {
        "status": 409,
        "message": "Snapshot is in use.",
        "method": "DELETE",
        "path": "snapshots/801/",
        "url": "https://api.vps.test/api/v1/snapshots/801/",
    }
    assert sent(rsps) == [LIST_ALL, delete_call(801)]


def test_check_mode_deletes_nothing_and_previews(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)

    result = run(vps_snapshot, absent(snapshot_id=801), check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["diff"] == {"before": clean(EXISTING), "after": {}}
    assert result["msg"] == "Check mode: would delete snapshot %s." % AGED
    assert result["preview"] == PREVIEW
    assert sent(rsps) == [LIST_ALL]


def test_the_wait_times_out_saying_a_rerun_is_safe_and_reporting_the_deletion(rsps, run, vtime):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [EXISTING])
    start = vtime.now

    result = run(vps_snapshot, absent(snapshot_id=801, wait_timeout=1))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == (
        "Timed out after 1s (wait_timeout=1) waiting for 1 deleted snapshot(s) to disappear; last seen status: still listed: "
        "801. The deletion goes on at the provider; rerunning the task is safe. Before this failure the task made changes: It "
        "deleted %s." % AGED
    )
    assert vtime.now - start == 1
    assert sent(rsps) == [LIST_ALL, delete_call(801), LIST, LIST]


def test_the_deletion_timeout_names_the_users_wait_timeout(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, status=503, json={"detail": "Unavailable"})
    add_delete(rsps, 801)
    add_list(rsps, [EXISTING])

    result = run(vps_snapshot, absent(snapshot_id=801, wait_timeout=5))

    # The wait began after the DELETE was retried, within the same wait_timeout.
    assert result["msg"].startswith("Timed out after 4s (wait_timeout=5) waiting for 1 deleted snapshot(s) to disappear")


def test_namesakes_are_refused_rather_than_picked(rsps, run):
    add_list(rsps, [snap(802, "twin", created_at="2025-01-16T00:00:00Z"), snap(801, "twin")])

    result = run(vps_snapshot, absent(server_id=SERVER_ID, name="twin"))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == ("Server 12345 has 2 snapshots named 'twin' (ids 801, 802); refer to one of them with snapshot_id rather than let the module pick.")
    assert result["snapshots"] == [clean(snap(801, "twin")), clean(snap(802, "twin", created_at="2025-01-16T00:00:00Z"))]
    assert sent(rsps) == [LIST]


def test_a_listing_that_fails_is_reported(rsps, run):
    add_list(rsps, [], server_id=None, status=401, body={"detail": "Invalid token."})

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert result["failed"] is True
    assert result["msg"] == "Could not list snapshots: Invalid token. (HTTP 401 on GET snapshots/)"
    assert result["failure"]["status"] == 401
    assert sent(rsps) == [LIST_ALL]


def test_a_listing_failing_while_waiting_still_reports_the_deletion(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [], status=500, body={"detail": "down"})

    result = run(vps_snapshot, absent(snapshot_id=801, api_retries=0))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == ("Could not list snapshots: down (HTTP 500 on GET snapshots/) Before this failure the task made changes: It deleted %s." % AGED)
    assert result["preview"] == PREVIEW
    assert sent(rsps) == [LIST_ALL, delete_call(801), LIST]


# Issue 22: what happened at the provider is what the task reports ----------------------------------------------------------


def test_a_delete_answered_200_with_a_text_body_is_this_tasks_deletion(rsps, run):
    """A proxy's 200 text/plain: deleted, never sent again (a second DELETE would get 404 and pass for someone else's)."""
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, status=200, body="upstream: OK <garbage> \x00{not json", content_type="text/plain")
    add_list(rsps, [])

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert (result["rc"], result["changed"]) == (0, True)
    assert result["msg"] == "Deleted snapshot %s." % AGED
    assert result["preview"] == PREVIEW
    assert sent(rsps) == [LIST_ALL, delete_call(801), LIST]


def test_a_404_after_this_tasks_unanswered_delete_is_reported_as_its_deletion(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, body=requests.exceptions.ReadTimeout("Read timed out."))
    add_delete(rsps, 801, status=404, json={"detail": "Not found."})
    add_list(rsps, [])

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert (result["rc"], result["changed"]) == (0, True)
    lost = "no answer within api_timeout=30s talking to api.vps.test: Read timed out."
    assert result["msg"] == "Deleted snapshot %s. The answer to its DELETE was lost (%s); sent again, it was answered 404." % (AGED, lost)
    assert result["preview"] == PREVIEW
    assert warnings(result) == [
        "Snapshot %s on server %s was deleted by this task, but the answer to its DELETE was lost (%s); "
        "sent again, it was answered 404, so the deletion is reported as this task's." % (describe(EXISTING), SERVER_ID, lost)
    ]


def test_an_unanswered_delete_whose_snapshot_left_the_listing_is_reported_as_its_deletion(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, body=requests.exceptions.ReadTimeout("Read timed out."))
    add_list(rsps, [])

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert (result["rc"], result["changed"]) == (0, True)
    assert result["msg"].startswith("Deleted snapshot %s. The answer to its DELETE was lost (no answer within" % AGED)
    assert sent(rsps) == [LIST_ALL, delete_call(801), delete_call(801), LIST, LIST]


def test_a_snapshot_gone_before_the_first_delete_says_so_not_deleted(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, status=404, json={"detail": "Not found."})

    result = run(vps_snapshot, absent(snapshot_id=801))

    assert result["changed"] is False
    assert result["msg"] == (
        "Snapshot %s was already gone: the API answered this task's first DELETE with 404, so someone else deleted it first. This task deleted nothing." % AGED
    )
