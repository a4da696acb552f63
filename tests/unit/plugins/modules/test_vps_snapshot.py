# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps_snapshot state=present, run as Ansible runs it, against the provider's answers (responses) on a virtual clock."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.vps.cloud.plugins.modules import vps_snapshot
from ansible_collections.vps.cloud.tests.unit.helpers import (
    CONTRACT_FIELDS,
    LIST,
    LIST_ALL,
    NEW_NAME,
    OMIT,
    POST,
    SERVER,
    SERVER_ID,
    SERVER_NAME,
    TOKEN,
    add_delete,
    add_list,
    add_post,
    add_server,
    clean,
    delete_call,
    describe,
    new_snapshot,
    request_json,
    sent,
    server_call,
    snap,
    warnings,
)

RESUME = (
    "The snapshot goes on at the provider: rerun the task to resume waiting (it waits for the same snapshot and never takes another), or raise wait_timeout."
)
CHANGES = " Before this failure the task made changes: It "

# Snapshots of server 12345, oldest to newest, and their age at NOW. MANUAL never matches "daily-*".
MANUAL = snap(690, "manual-keep", created_at="2024-12-01T00:00:00Z")
D1 = snap(701, "daily-20250101", created_at="2025-01-01T03:00:00Z")
D2 = snap(702, "daily-20250102", created_at="2025-01-02T03:00:00Z")
D3 = snap(703, "daily-20250103", created_at="2025-01-03T03:00:00Z")
D4 = snap(704, "daily-20250104", created_at="2025-01-04T03:00:00Z")
EXISTING = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z", description="Before major migration")
AGE = {690: "50d 12h old", 701: "19d 9h old", 702: "18d 9h old", 703: "17d 9h old", 704: "16d 9h old", 801: "4d 17h old", 802: "3d 19h old"}
DAILY = "daily-20250105"
WITHOUT_ENDPOINT = "The API has no usable GET /servers/12345/ (HTTP %s), so whether server 12345 exists and is idle could not be checked beforehand."


def present(**args):
    return dict(dict(server_id=SERVER_ID, name=NEW_NAME), **args)


def aged(*raws):
    return "; ".join(describe(raw, AGE[raw["id"]]) for raw in raws)


def pruned_diff(*raws):
    return {
        "before_header": "snapshots pruned by retention",
        "after_header": "snapshots pruned by retention",
        "before": "".join("%s\n" % describe(raw, AGE[raw["id"]]) for raw in raws),
        "after": "",
    }


def assert_contract(snapshot):
    assert set(snapshot) == CONTRACT_FIELDS
    assert set(snapshot["server"]) == {"id", "name"}


def took(raw, *deleted):
    return "Took snapshot %s of server 12345%s." % (describe(raw), "; deleted " + aged(*deleted) if deleted else "")


# An existing snapshot ---------------------------------------------------------------------------------------------


def test_existing_completed_is_unchanged_after_one_request(rsps, run):
    add_list(rsps, [D1, EXISTING])

    result = run(vps_snapshot, present(name="pre-migration"), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == clean(EXISTING)
    assert_contract(result["snapshot"])
    assert result["diff"] == {"before": clean(EXISTING), "after": clean(EXISTING)}
    assert result["msg"] == "Ensured snapshot %s of server 12345." % describe(EXISTING)
    assert result["created"] is False
    assert "pruned" not in result and "server_id" not in result
    assert warnings(result) == []
    assert sent(rsps) == [LIST]


def test_existing_in_progress_is_waited_for_never_posted(rsps, run):
    running = snap(801, "pre-migration", status="in_progress")
    done = snap(801, "pre-migration")
    add_list(rsps, [running])
    add_list(rsps, [running])
    add_list(rsps, [done])

    result = run(vps_snapshot, present(name="pre-migration"), diff=True)

    assert result["changed"] is False
    assert result["snapshot"] == clean(done)
    assert result["diff"] == {"before": clean(running), "after": clean(done)}
    assert sent(rsps) == [LIST, LIST, LIST]


def test_existing_in_progress_without_wait_returns_at_once(rsps, run):
    running = snap(801, "pre-migration", status="in_progress")
    add_list(rsps, [running])

    result = run(vps_snapshot, present(name="pre-migration", wait=False))

    assert result["changed"] is False
    assert result["snapshot"] == clean(running)
    assert sent(rsps) == [LIST]


def retaken_note(broken, name="pre-migration"):
    return "Snapshot %s on server 12345 ended %s, so it is no restore point: this task deletes it and takes snapshot %r again." % (
        describe(broken),
        broken["status"],
        name,
    )


@pytest.mark.parametrize("status", ["failed", "error"])
def test_existing_failed_is_retaken_its_deletion_reported(rsps, run, status):
    broken = snap(801, "pre-migration", status=status)
    retaken = new_snapshot(name="pre-migration", snapshot_id=803)
    add_list(rsps, [broken, D1])
    add_server(rsps, "running")
    add_delete(rsps, 801)
    add_post(rsps, payload=retaken)
    add_list(rsps, [new_snapshot("completed", name="pre-migration", snapshot_id=803), D1])

    result = run(vps_snapshot, present(name="pre-migration"), diff=True)

    assert (result["rc"], result["changed"], result["created"]) == (0, True, True)
    assert result["snapshot"]["id"] == 803 and result["snapshot"]["status"] == "completed"
    assert result["pruned"] == [clean(broken)]
    assert result["msg"] == "Took snapshot %s of server 12345; deleted %s." % (
        describe(new_snapshot("completed", name="pre-migration", snapshot_id=803)),
        aged(broken),
    )
    assert warnings(result) == [retaken_note(broken)]
    assert result["diff"][1]["before"] == "%s\n" % aged(broken)
    # The server is read before anything is deleted; the failed snapshot goes before the POST.
    assert sent(rsps) == [LIST, SERVER, delete_call(801), POST, LIST]


def test_with_retake_failed_false_a_failed_namesake_fails_the_task_and_nothing_is_sent(rsps, run):
    broken = snap(801, "pre-migration", status="failed")
    add_list(rsps, [broken, D1])

    result = run(vps_snapshot, present(name="pre-migration", retake_failed=False))

    assert (result["rc"], result["changed"]) == (1, False)
    assert result["msg"] == (
        "Snapshot %s on server 12345 ended failed, so it is no restore point; with retake_failed=false it is not taken again." % describe(broken)
    )
    assert result["snapshot"] == clean(broken)
    assert sent(rsps) == [LIST]


def test_existing_failed_is_retaken_in_check_mode_as_a_preview(rsps, run):
    broken = snap(801, "pre-migration", status="failed")
    add_list(rsps, [broken])
    add_server(rsps, "running")

    result = run(vps_snapshot, present(name="pre-migration"), check_mode=True)

    assert (result["rc"], result["changed"]) == (0, True)
    assert result["pruned"] == [clean(broken)]
    assert result["msg"] == "Check mode: Would take snapshot 'pre-migration' of server 12345; would delete %s." % aged(broken)
    assert warnings(result) == [retaken_note(broken)]
    assert sent(rsps) == [LIST, SERVER]


def test_a_retake_that_fails_after_deleting_the_failed_snapshot_reports_the_deletion(rsps, run):
    broken = snap(801, "pre-migration", status="failed")
    add_list(rsps, [broken])
    add_server(rsps, "running")
    add_delete(rsps, 801)
    add_post(rsps, payload={"detail": "Quota exceeded."}, status=403)

    result = run(vps_snapshot, present(name="pre-migration"))

    assert (result["failed"], result["changed"]) == (True, True)
    assert result["pruned"] == [clean(broken)]
    assert result["msg"] == (
        "Could not create snapshot 'pre-migration' on server 12345: Quota exceeded. (HTTP 403 on POST snapshots/)" + CHANGES + "deleted %s." % aged(broken)
    )


def test_a_failed_namesake_does_not_hide_a_completed_one(rsps, run):
    broken = snap(805, "pre-migration", status="failed", created_at="2025-01-17T00:00:00Z")
    add_list(rsps, [broken, EXISTING])

    result = run(vps_snapshot, present(name="pre-migration"))

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == clean(EXISTING)
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize(
    "existing, description, expected",
    [
        (
            EXISTING,
            "Something else",
            ["Snapshot 'pre-migration' already exists with description 'Before major migration'; the API cannot change a description, so it is left as it is."],
        ),
        (EXISTING, "Before major migration", []),
        (dict(EXISTING, description=None), "", []),
        (
            dict(EXISTING, description=None),
            "x",
            ["Snapshot 'pre-migration' already exists with description ''; the API cannot change a description, so it is left as it is."],
        ),
    ],
)
def test_a_different_description_warns_and_keeps_the_snapshot(rsps, run, existing, description, expected):
    add_list(rsps, [existing])

    result = run(vps_snapshot, present(name="pre-migration", description=description))

    assert result["changed"] is False
    assert result["snapshot"] == clean(existing)
    assert warnings(result) == expected
    assert sent(rsps) == [LIST]


def test_namesakes_from_racing_runs_settle_on_the_oldest_with_a_warning(rsps, run):
    first = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z")
    second = snap(805, "pre-migration", created_at="2025-01-17T18:30:00Z")
    add_list(rsps, [second, first])

    result = run(vps_snapshot, present(name="pre-migration"))

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == clean(first)
    assert warnings(result) == ["server 12345 has 2 snapshots named 'pre-migration' (ids 801, 805); the oldest, id 801, is the one this task ensures"]
    assert sent(rsps) == [LIST]


# A new snapshot ---------------------------------------------------------------------------------------------------


def test_creates_and_polls_until_completed(rsps, run, vtime):
    add_list(rsps, [D1])
    add_post(rsps)
    add_list(rsps, [new_snapshot(), D1])
    add_list(rsps, [new_snapshot(), D1])
    add_list(rsps, [new_snapshot("completed"), D1])

    result = run(vps_snapshot, present(description="Snapshot before system update"), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot("completed"))
    assert_contract(result["snapshot"])
    assert result["diff"] == {"before": {}, "after": clean(new_snapshot("completed"))}
    assert result["msg"] == took(new_snapshot("completed"))
    assert result["created"] is True
    assert "pruned" not in result
    assert sent(rsps) == [LIST, POST, LIST, LIST, LIST]
    assert request_json(rsps, 1) == {"server_id": SERVER_ID, "name": NEW_NAME, "description": "Snapshot before system update"}
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer %s" % TOKEN
    # Three polls with backoff from 2 s, each jittered down by at most 10 %.
    assert len(vtime.sleeps) == 3
    assert 1.8 <= vtime.sleeps[0] <= 2.0 and 3.6 <= vtime.sleeps[1] <= 4.0 and 7.2 <= vtime.sleeps[2] <= 8.0


def test_without_description_posts_none_and_returns_the_answer_cleaned(rsps, run):
    add_list(rsps, [])
    add_post(rsps)

    result = run(vps_snapshot, present(wait=False), diff=True)

    assert result["changed"] is True
    assert request_json(rsps, 1) == {"server_id": SERVER_ID, "name": NEW_NAME}
    # The POST's answer, cleaned: the provider's "message" and other extras are dropped.
    assert result["snapshot"] == clean(new_snapshot())
    assert result["diff"] == {"before": {}, "after": clean(new_snapshot())}
    assert result["msg"] == took(new_snapshot())
    assert sent(rsps) == [LIST, POST]


@pytest.mark.parametrize(
    "later, message",
    [
        (
            [new_snapshot("failed")],
            "Snapshot before-update (id 802, failed, created 2025-01-16T16:15:00Z) on server 12345 ended "
            "failed, so it is no restore point. Run the task again: it deletes that snapshot and takes it "
            "again.",
        ),
        ([], "Snapshot before-update (id 802) disappeared from server 12345 while waiting for it to complete."),
    ],
    ids=["ends failed", "disappears"],
)
def test_a_created_snapshot_that_does_not_complete_fails_naming_the_creation(rsps, run, later, message):
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, later)

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == message + CHANGES + "created %s." % describe(new_snapshot())
    assert result["snapshot"] == clean(later[0] if later else new_snapshot())
    assert sent(rsps) == [LIST, POST, LIST]


@pytest.mark.parametrize("args, waited", [({"wait_timeout": 3}, 3), ({}, 1800)], ids=["wait_timeout", "default"])
def test_the_wait_times_out_with_a_resumable_message(rsps, run, vtime, args, waited):
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [new_snapshot()])
    start = vtime.now

    result = run(vps_snapshot, present(**args))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == (
        "Timed out after %ds (wait_timeout=%d) waiting for snapshot before-update (id 802) on server 12345 to complete; last "
        "seen status: in_progress. %s%screated %s." % (waited, waited, RESUME, CHANGES, describe(new_snapshot()))
    )
    assert result["snapshot"] == clean(new_snapshot())
    assert vtime.now - start == waited
    assert sent(rsps)[:3] == [LIST, POST, LIST]


def test_a_rerun_after_a_timeout_waits_for_the_same_snapshot(rsps, run):
    add_list(rsps, [new_snapshot()])
    add_list(rsps, [new_snapshot("completed")])

    result = run(vps_snapshot, present())

    assert result["changed"] is False
    assert result["snapshot"] == clean(new_snapshot("completed"))
    assert result["msg"] == "Ensured snapshot %s of server 12345." % describe(new_snapshot("completed"))
    assert sent(rsps) == [LIST, LIST]


def test_at_the_limit_without_retention_fails_before_any_post(rsps, run):
    add_list(rsps, [D1, D2, D3, D4, MANUAL])

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (
        "Cannot take snapshot 'before-update' of server 12345: the server already has 5 snapshots, the provider's limit of 5 "
        "per server, and without retention nothing is deleted to make room. Its snapshots: %s." % "; ".join(describe(s) for s in (D4, D3, D2, D1, MANUAL))
    )
    assert result["snapshots"] == [clean(s) for s in (D4, D3, D2, D1, MANUAL)]
    assert sent(rsps) == [LIST]


def test_below_the_limit_creates_without_looking_at_the_server(rsps, run):
    add_list(rsps, [D1, D2, D3, D4])
    add_post(rsps)

    result = run(vps_snapshot, present(wait=False))

    assert result["changed"] is True
    assert sent(rsps) == [LIST, POST]


AGAIN = " It had been refused before: HTTP 400 (%s) %s, so this task sent it again once; this was the last try."


@pytest.mark.parametrize(
    "status, body, words, server, before",
    [
        (
            400,
            {"non_field_errors": ["Snapshot limit reached for this server."]},
            "Snapshot limit reached for this server.",
            dict(status="running"),
            AGAIN % ("Snapshot limit reached for this server.", "although the server then read running"),
        ),
        (
            400,
            {"name": ["Enter a valid name."]},
            "name: Enter a valid name.",
            dict(status="stopped"),
            AGAIN % ("name: Enter a valid name.", "although the server then read stopped"),
        ),
        (
            400,
            {"detail": "Bad request."},
            "Bad request.",
            dict(http_status=404, body={"detail": "Not found."}),
            " It had been refused before: HTTP 400 (Bad request.), and the server's state could not be read, so this task sent it "
            "again once; this was the last try.",
        ),
        (401, {"detail": "Invalid token."}, "Invalid token.", None, ""),
    ],
)
def test_a_refused_creation_fails_with_the_provider_words(rsps, run, status, body, words, server, before):
    add_list(rsps, [D1])
    add_post(rsps, payload=body, status=status)
    if server:
        add_server(rsps, **server)

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["changed"] is False
    # A 400 from a server seen idle (or unreadable) may have come while it was busy: one more try after a fresh look, and
    # the message says both refusals.
    assert result["msg"] == "Could not create snapshot 'before-update' on server 12345: %s (HTTP %s on POST snapshots/)%s" % (words, status, before)
    assert result["failure"] == {"status": status, "message": words, "method": "POST", "path": "snapshots/", "url": "https://api.vps.test/api/v1/snapshots/"}
    assert sent(rsps) == [LIST, POST] + ([SERVER, LIST, POST, SERVER, LIST] if server else [])


def test_a_refusal_sent_again_and_accepted_is_in_the_warnings_in_the_providers_words(rsps, run):
    words = "Server is busy (status: snapshotting); a snapshot can be taken when it is running or stopped."
    add_list(rsps, [])
    add_post(rsps, payload={"error": words}, status=400)
    add_server(rsps, "running")
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [new_snapshot("completed")])

    result = run(vps_snapshot, present())

    assert (result["rc"], result["changed"], result["created"]) == (0, True, True)
    assert warnings(result) == [
        "The provider refused snapshot 'before-update' on server 12345 before it accepted it: HTTP 400 "
        "(%s) although the server then read running, so this task sent it again once." % words
    ]
    assert sent(rsps) == [LIST, POST, SERVER, LIST, POST, LIST]


def test_after_a_busy_wait_a_refusal_seen_idle_is_still_tried_once_more(rsps, run):
    add_list(rsps, [])
    add_post(rsps, payload={"detail": "Busy."}, status=400)
    add_server(rsps, "snapshotting")
    add_server(rsps, "running")

    result = run(vps_snapshot, present())

    assert result["msg"] == (
        "Could not create snapshot 'before-update' on server 12345: Busy. (HTTP 400 on POST snapshots/) It had been refused "
        "before: HTTP 400 (Busy.) while the server was snapshotting, so this task waited until it was idle and sent it again; "
        "then HTTP 400 (Busy.) although the server then read running, so this task sent it again once; this was the last try."
    )
    assert sent(rsps) == [LIST, POST, SERVER, SERVER, LIST, POST, SERVER, LIST, POST, SERVER, LIST]


def test_a_refusal_once_another_run_took_the_last_slot_is_not_tried_again(rsps, run):
    add_list(rsps, [D1, D2, D3, D4])
    add_post(rsps, payload={"detail": "Snapshot limit reached."}, status=400)
    add_server(rsps, "running")
    add_list(rsps, [D1, D2, D3, D4, snap(805, "someone-elses")])

    result = run(vps_snapshot, present())

    assert result["msg"] == ("Could not create snapshot 'before-update' on server 12345: Snapshot limit reached. (HTTP 400 on POST snapshots/)")
    assert sent(rsps) == [LIST, POST, SERVER, LIST]


def test_a_refusal_after_another_run_took_the_same_snapshot_settles_on_it(rsps, run):
    theirs = new_snapshot(snapshot_id=803)
    add_list(rsps, [D1, D2, D3, D4])
    add_post(rsps, payload={"detail": "Snapshot limit reached."}, status=400)
    add_server(rsps, "running")
    add_list(rsps, [D1, D2, D3, D4, theirs])
    add_list(rsps, [D1, D2, D3, D4, new_snapshot("completed", snapshot_id=803)])

    result = run(vps_snapshot, present())

    assert (result["rc"], result["changed"], result["created"]) == (0, False, False)
    assert result["snapshot"] == clean(new_snapshot("completed", snapshot_id=803))
    assert warnings(result) == [
        "The provider refused the creation (Snapshot limit reached.), but another run had just created "
        "snapshot 'before-update' on server 12345 (id 803): this task settles on it."
    ]
    assert sent(rsps) == [LIST, POST, SERVER, LIST, LIST]


def test_a_creation_answered_404_says_the_server_does_not_exist(rsps, run):
    add_list(rsps, [])
    add_post(rsps, payload={"detail": "Server not found."}, status=404)

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["msg"] == ("Server 12345 does not exist: the API answered the creation of snapshot 'before-update' with HTTP 404 (Server not found.).")
    assert result["failure"]["status"] == 404
    assert sent(rsps) == [LIST, POST]


# A busy server ----------------------------------------------------------------------------------------------------


def test_a_refusal_while_busy_is_waited_out_and_the_snapshot_taken_once(rsps, run, vtime):
    add_list(rsps, [])
    add_post(rsps, payload={"detail": "Server is busy."}, status=400)
    add_server(rsps, "snapshotting")
    add_server(rsps, "running")
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [new_snapshot("completed")])

    result = run(vps_snapshot, present())

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot("completed"))
    assert warnings(result) == [
        "The provider refused snapshot 'before-update' on server 12345 before it accepted it: HTTP 400 "
        "(Server is busy.) while the server was snapshotting, so this task waited until it was idle and "
        "sent it again."
    ]
    assert sent(rsps) == [LIST, POST, SERVER, SERVER, LIST, POST, LIST]
    # It read the server, saw it busy, and waited before reading it again.
    assert len(vtime.sleeps) == 2


def test_a_refusal_while_busy_finds_the_snapshot_another_run_took_meanwhile(rsps, run):
    theirs = new_snapshot(snapshot_id=803)
    add_list(rsps, [])
    add_post(rsps, payload={"detail": "Server is busy."}, status=400)
    add_server(rsps, "snapshotting")
    add_server(rsps, "running")
    add_list(rsps, [theirs])
    add_list(rsps, [new_snapshot("completed", snapshot_id=803)])

    result = run(vps_snapshot, present())

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == clean(new_snapshot("completed", snapshot_id=803))
    assert result["msg"].startswith("Ensured snapshot before-update (id 803, completed")
    assert sent(rsps) == [LIST, POST, SERVER, SERVER, LIST, LIST]


def test_a_refusal_while_busy_that_outlasts_wait_timeout_fails_having_created_nothing(rsps, run):
    add_list(rsps, [])
    add_post(rsps, payload={"detail": "Server is busy."}, status=400)
    add_server(rsps, "snapshotting")

    result = run(vps_snapshot, present(wait_timeout=5))

    waited = "Timed out after 5s (wait_timeout=5) waiting for server 12345 to be running or stopped; last seen status: snapshotting."
    assert (result["failed"], result["changed"], result["failure"]["status"]) == (True, False, 400)
    assert result["msg"] == (
        "Server 12345 refused snapshot 'before-update' while snapshotting (Server is busy.), and was still "
        "busy when wait_timeout ran out: %s Nothing was created." % waited
    )
    assert [call for call in sent(rsps) if call[0] == "POST"] == [POST]


def test_deletions_wait_until_a_busy_server_is_idle_and_plan_again(rsps, run, vtime):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "starting")
    add_server(rsps, "running")
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_delete(rsps, 701)
    add_post(rsps, payload=new_snapshot(name=DAILY))

    result = run(vps_snapshot, present(name=DAILY, retention=4, retention_match="daily-*", wait=False))

    assert result["changed"] is True
    assert result["pruned"] == [clean(D1)]
    assert sent(rsps) == [LIST, SERVER, SERVER, LIST, delete_call(701), POST]
    assert len(vtime.sleeps) == 1


def test_deletions_never_happen_on_a_server_busy_beyond_wait_timeout(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "starting")

    result = run(vps_snapshot, present(name=DAILY, retention=4, wait_timeout=5))

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"] == ("Timed out after 5s (wait_timeout=5) waiting for server 12345 to be running or stopped; last seen status: starting.")
    assert all(method == "GET" for method, dummy in sent(rsps))


def test_a_busy_server_whose_snapshot_another_run_took_meanwhile_loses_nothing(rsps, run):
    theirs = new_snapshot(name=DAILY, snapshot_id=803)
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "snapshotting")
    add_server(rsps, "running")
    add_list(rsps, [MANUAL, D1, D2, D3, D4, theirs])

    result = run(vps_snapshot, present(name=DAILY, retention=4, retention_match="daily-*", wait=False))

    assert result["changed"] is False
    assert result["snapshot"] == clean(theirs)
    assert sent(rsps) == [LIST, SERVER, SERVER, LIST]


FAILED_SERVER = (
    "Server 12345 is in status 'error', a failure status: waiting for it to be running or stopped would not end "
    "it, so this task stops at once. Look at the server at the provider."
)


@pytest.mark.parametrize("status", ["error", "failed", "restore_failed"])
def test_deletions_never_wait_for_a_server_in_a_failure_status_and_fail_at_once(rsps, run, vtime, status):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, status)

    result = run(vps_snapshot, present(name=DAILY, retention=4, retention_match="daily-*"))

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"] == FAILED_SERVER.replace("'error'", repr(status)) + " Nothing was deleted or created."
    assert result["server"] == {"id": SERVER_ID, "name": SERVER_NAME, "status": status}
    assert sent(rsps) == [LIST, SERVER]
    assert vtime.sleeps == []


def test_a_creation_refused_by_a_server_in_a_failure_status_fails_at_once_in_the_providers_words(rsps, run, vtime):
    add_list(rsps, [])
    add_post(rsps, payload={"error": "Server is busy (status: error)."}, status=400)
    add_server(rsps, "error")

    result = run(vps_snapshot, present())

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"] == (
        "The provider refused snapshot 'before-update' on server 12345 with HTTP 400 (Server is busy (status: error).). %s Nothing was created." % FAILED_SERVER
    )
    assert result["failure"]["status"] == 400
    assert sent(rsps) == [LIST, POST, SERVER]
    assert vtime.sleeps == []


def test_a_server_turning_to_a_failure_status_while_waited_for_fails_at_once(rsps, run, vtime):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "starting")
    add_server(rsps, "error")

    result = run(vps_snapshot, present(name=DAILY, retention=4, retention_match="daily-*"))

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"] == FAILED_SERVER + " Nothing was deleted or created."
    assert sent(rsps) == [LIST, SERVER, SERVER]
    assert len(vtime.sleeps) == 1


UNRECOGNISED = (
    "Server 12345 reads status 'maintenance', which this collection does not know: it is taken for a transitional "
    "status and waited for (up to wait_timeout=%s) until the server is running or stopped."
)


def test_an_unrecognised_server_status_is_waited_for_with_a_warning(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "maintenance")
    add_server(rsps, "running")
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_delete(rsps, 701)
    add_post(rsps, payload=new_snapshot(name=DAILY))

    result = run(vps_snapshot, present(name=DAILY, retention=4, retention_match="daily-*", wait=False))

    assert (result["rc"], result["changed"]) == (0, True)
    assert warnings(result) == [UNRECOGNISED % 1800]
    assert sent(rsps) == [LIST, SERVER, SERVER, LIST, delete_call(701), POST]


def test_an_unrecognised_server_status_that_outlasts_wait_timeout_was_warned_of_from_the_start(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "maintenance")

    result = run(vps_snapshot, present(name=DAILY, retention=4, wait_timeout=5))

    assert (result["failed"], result["changed"]) == (True, False)
    assert result["msg"].startswith("Timed out after 5s (wait_timeout=5)")
    assert warnings(result) == [UNRECOGNISED % 5]
    assert all(method == "GET" for method, dummy in sent(rsps))


@pytest.mark.parametrize("http_status, words", [(403, "Forbidden."), (500, "Internal error.")])
def test_nothing_is_deleted_on_a_server_that_cannot_be_read(rsps, run, http_status, words):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, http_status=http_status, body={"detail": words})

    result = run(vps_snapshot, present(name=DAILY, retention=2, retention_match="daily-*", api_retries=0))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == "Could not read server 12345: %s (HTTP %s on GET servers/12345/)" % (words, http_status)
    assert sent(rsps) == [LIST, SERVER]


def test_a_404_server_whose_account_answers_does_not_exist_and_loses_nothing(rsps, run):
    # Snapshots can outlive their server: the ones listed prove nothing, another server of the account is read.
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, http_status=404, body={"detail": "Not found."})
    add_list(rsps, [snap(900, "x", server_id=777)], server_id=None)
    add_server(rsps, server_id=777)

    result = run(vps_snapshot, present(name=DAILY, retention=4, retention_match="daily-*"))

    assert result["msg"] == (
        "Server 12345 does not exist: GET servers/12345/ answered HTTP 404, while other servers of the account can be read. Check server_id."
    )
    assert sent(rsps) == [LIST, SERVER, LIST_ALL, server_call(777)]


LIMIT_REACHED = dict(payload={"detail": "Snapshot limit reached."}, status=400)

# Without a usable GET /servers/{id}/, a POST at the limit asks the provider whether the server exists before any deletion.
# name: (the answers to the POSTs, what is returned or the message, the requests after reading the server)
UNREADABLE = {
    "refused at the limit: the server exists": ([LIMIT_REACHED, dict(payload=new_snapshot(name=DAILY))], [clean(D1)], [POST, delete_call(701), POST, LIST]),
    "accepted: a slot was just freed": ([dict(payload=new_snapshot(name=DAILY))], [], [POST, LIST]),
    "404: the server does not exist": (
        [dict(payload={"detail": "Not found."}, status=404)],
        "Server 12345 does not exist: the API answered the creation of snapshot 'daily-20250105' with HTTP 404 (Not found.). Nothing was deleted.",
        [POST],
    ),
    "another refusal": (
        [dict(payload={"detail": "No."}, status=403)],
        "Could not create snapshot 'daily-20250105' on server 12345: No. (HTTP 403 on POST snapshots/)",
        [POST],
    ),
}


@pytest.mark.parametrize("case", sorted(UNREADABLE))
def test_a_server_that_cannot_be_read_is_asked_through_a_post_before_anything_is_deleted(rsps, run, case):
    posts, outcome, requests_after = UNREADABLE[case]
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, http_status=404, body={"detail": "Not found."})
    add_list(rsps, [snap(900, "x", server_id=777)], server_id=None)
    add_server(rsps, server_id=777, http_status=404, body={"detail": "Not found."})
    for answer in posts:
        add_post(rsps, **answer)
    if outcome and isinstance(outcome, list):
        add_delete(rsps, 701)
    if isinstance(outcome, list):
        add_list(rsps, [raw for raw in (MANUAL, D1, D2, D3, D4) if clean(raw) not in outcome] + [new_snapshot("completed", name=DAILY)])

    result = run(vps_snapshot, present(name=DAILY, retention=5, retention_match="daily-*", description="d"))

    if isinstance(outcome, list):
        assert (result["rc"], result["changed"], result["created"]) == (0, True, True)
        assert result["pruned"] == outcome
        assert warnings(result) == [WITHOUT_ENDPOINT % 404] + (
            [
                "Server 12345 could not be read, so snapshot 'daily-20250105' was first requested without making room, to learn "
                "whether the server exists: the provider refused it with HTTP 400 (Snapshot limit reached.), so the server exists, "
                "and room is made before it is requested again."
            ]
            if outcome
            else []
        )
    else:
        assert (result["failed"], result["changed"]) == (True, False)
        assert result["msg"] == outcome
        assert result["failure"]["status"] == posts[0]["status"]
    assert sent(rsps) == [LIST, SERVER, LIST_ALL, server_call(777)] + requests_after
    assert request_json(rsps, 4) == {"server_id": SERVER_ID, "name": DAILY, "description": "d"}


def test_a_creation_accepted_by_the_probe_without_wait_is_returned_in_progress(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, http_status=405, body={"detail": "No."})
    add_post(rsps, payload=new_snapshot(name=DAILY))

    result = run(vps_snapshot, present(name=DAILY, retention=5, retention_match="daily-*", wait=False))

    assert (result["rc"], result["changed"], result["pruned"]) == (0, True, [])
    assert result["snapshot"] == clean(new_snapshot(name=DAILY))
    assert sent(rsps) == [LIST, SERVER, POST]


# Check mode -------------------------------------------------------------------------------------------------------


def test_check_mode_reads_the_server_and_plans_the_snapshot(rsps, run):
    add_list(rsps, [D1])
    add_server(rsps, "running")

    result = run(vps_snapshot, present(description="Snapshot before system update"), check_mode=True, diff=True)

    planned = {
        "id": None,
        "server": {"id": SERVER_ID, "name": SERVER_NAME},
        "name": NEW_NAME,
        "status": "in_progress",
        "size_mb": None,
        "created_at": None,
        "description": "Snapshot before system update",
    }
    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == planned
    assert result["diff"] == {"before": {}, "after": planned}
    assert result["msg"] == "Check mode: Would take snapshot 'before-update' of server 12345."
    assert result["created"] is False
    assert sent(rsps) == [LIST, SERVER]


def test_check_mode_existing_is_unchanged_without_reading_the_server(rsps, run):
    add_list(rsps, [EXISTING])

    result = run(vps_snapshot, present(name="pre-migration"), check_mode=True)

    assert result["changed"] is False
    assert result["snapshot"] == clean(EXISTING)
    assert result["msg"] == "Check mode: Snapshot %s of server 12345 exists." % describe(EXISTING)
    assert sent(rsps) == [LIST]


def test_check_mode_fails_like_the_run_for_a_server_that_does_not_exist(rsps, run):
    add_list(rsps, [])
    add_server(rsps, http_status=404, body={"detail": "Not found."})
    add_list(rsps, [snap(900, "other", server_id=777), snap(901, "mine", server_id=SERVER_ID)], server_id=None)
    add_server(rsps, server_id=777)

    result = run(vps_snapshot, present(), check_mode=True)

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (
        "Server 12345 does not exist: GET servers/12345/ answered HTTP 404, while other servers of the account can be read. Check server_id."
    )
    assert result["failure"]["status"] == 404
    assert sent(rsps) == [LIST, SERVER, LIST_ALL, server_call(777)]


@pytest.mark.parametrize(
    "http_status, known, account, other",
    [
        (404, [], [snap(900, "other", server_id=777)], 404),
        (404, [], [snap(901, "mine")], None),
        (404, [], None, None),
        (405, [D1], False, None),
    ],
    ids=["no endpoint for any server", "no other server", "account listing fails", "405"],
)
def test_check_mode_without_a_server_endpoint_warns_and_goes_on(rsps, run, http_status, known, account, other):
    add_list(rsps, known)
    add_server(rsps, http_status=http_status, body={"detail": "nope"})
    expected = [LIST, SERVER]
    if account is None:
        add_list(rsps, [], server_id=None, status=401, body={"detail": "no"})
        expected.append(LIST_ALL)
    elif account:
        add_list(rsps, account, server_id=None)
        expected.append(LIST_ALL)
    if other:
        add_server(rsps, http_status=other, body={"detail": "nope"}, server_id=777)
        expected.append(server_call(777))

    result = run(vps_snapshot, present(), check_mode=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert warnings(result) == [WITHOUT_ENDPOINT % http_status]
    assert sent(rsps) == expected


# Retention --------------------------------------------------------------------------------------------------------


BUSY_700 = snap(700, "daily-20241231", status="in_progress", created_at="2024-12-31T03:00:00Z")


@pytest.mark.parametrize(
    "listed, retention, before, after",
    [
        ([MANUAL, D1, D2, D3, D4], 2, [D1], [D2, D3]),
        ([MANUAL, BUSY_700, D2, D3, D4], 1, [D2], [D3, D4]),
    ],
    ids=["oldest first", "never one in progress nor the new one"],
)
def test_retention_deletes_only_what_the_limit_forces_before_the_post_and_the_rest_after(rsps, run, listed, retention, before, after):
    add_list(rsps, listed)
    add_server(rsps, "running")
    add_delete(rsps, before[0]["id"])
    add_post(rsps, payload=new_snapshot(name=DAILY))
    add_list(rsps, [raw for raw in listed if raw not in before] + [new_snapshot("completed", name=DAILY)])
    for raw in after:
        add_delete(rsps, raw["id"])

    result = run(vps_snapshot, present(name=DAILY, retention=retention, retention_match="daily-*"), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["pruned"] == [clean(raw) for raw in before + after]
    assert result["snapshot"] == clean(new_snapshot("completed", name=DAILY))
    assert result["diff"] == [{"before": {}, "after": result["snapshot"]}, pruned_diff(*(before + after))]
    assert result["msg"] == took(new_snapshot("completed", name=DAILY), *(before + after))
    assert sent(rsps) == [LIST, SERVER, delete_call(before[0]["id"]), POST, LIST] + [delete_call(raw["id"]) for raw in after]


def test_retention_check_mode_reports_what_would_be_pruned(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "running")

    result = run(vps_snapshot, present(name=DAILY, retention=2, retention_match="daily-*"), check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["pruned"] == [clean(D1), clean(D2), clean(D3)]
    assert result["diff"][1] == pruned_diff(D1, D2, D3)
    assert result["diff"][0]["before"] == {}
    assert result["diff"][0]["after"]["name"] == DAILY
    assert result["msg"] == "Check mode: Would take snapshot 'daily-20250105' of server 12345; would delete %s." % aged(D1, D2, D3)
    assert sent(rsps) == [LIST, SERVER]


@pytest.mark.parametrize("check_mode", [False, True])
def test_check_mode_previews_every_deletion_the_run_makes(rsps, run, check_mode):
    add_list(rsps, [D1, D2])
    if check_mode:
        add_server(rsps, "running")
    else:
        add_post(rsps, payload=new_snapshot(name=DAILY))
        add_list(rsps, [D1, D2, new_snapshot("completed", name=DAILY)])
        add_delete(rsps, 701)
        add_delete(rsps, 702)

    result = run(vps_snapshot, present(name=DAILY, retention=1, retention_match="daily-*"), check_mode=check_mode)

    assert result["pruned"] == [clean(D1), clean(D2)]


def test_retention_deletes_failed_snapshots_first_and_never_counts_them(rsps, run):
    broken = snap(705, "daily-20250105-try", status="failed", created_at="2025-01-05T03:00:00Z")
    add_list(rsps, [broken, D1, D2, D3, D4])
    add_server(rsps, "running")
    add_delete(rsps, 705)
    add_post(rsps, payload=new_snapshot(name="daily-20250106"))
    add_list(rsps, [D1, D2, D3, D4, new_snapshot("completed", name="daily-20250106")])
    for snapshot_id in (701, 702, 703):
        add_delete(rsps, snapshot_id)

    result = run(vps_snapshot, present(name="daily-20250106", retention=2, retention_match="daily-*"))

    assert result["rc"] == 0
    assert result["pruned"] == [clean(broken), clean(D1), clean(D2), clean(D3)]
    assert sent(rsps) == [LIST, SERVER, delete_call(705), POST, LIST, delete_call(701), delete_call(702), delete_call(703)]


@pytest.mark.parametrize("retention, doomed", [(2, [D1]), (3, [])], ids=["over", "within"])
def test_retention_below_the_limit_deletes_only_after_completion(rsps, run, retention, doomed):
    add_list(rsps, [D1, D2])
    add_post(rsps, payload=new_snapshot(name=DAILY))
    add_list(rsps, [D1, D2, new_snapshot("completed", name=DAILY)])
    for raw in doomed:
        add_delete(rsps, raw["id"])

    result = run(vps_snapshot, present(name=DAILY, retention=retention), diff=True)

    assert result["pruned"] == [clean(raw) for raw in doomed]
    assert isinstance(result["diff"], list) == bool(doomed)
    assert sent(rsps) == [LIST, POST, LIST] + [delete_call(raw["id"]) for raw in doomed]


def test_retention_without_wait_prunes_only_what_the_limit_forces_and_warns(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "running")
    add_delete(rsps, 701)
    add_post(rsps, payload=new_snapshot(name=DAILY))

    result = run(vps_snapshot, present(name=DAILY, retention=2, retention_match="daily-*", wait=False))

    assert result["changed"] is True
    assert result["pruned"] == [clean(D1)]
    assert warnings(result) == ["wait is false, so the 2 snapshot(s) over retention are kept until a run that waits."]
    assert sent(rsps) == [LIST, SERVER, delete_call(701), POST]


def test_a_creation_answered_completed_deletes_each_snapshot_once(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "running")
    add_delete(rsps, 701)
    add_post(rsps, payload=new_snapshot("completed", name=DAILY))
    add_delete(rsps, 702)
    add_delete(rsps, 703)

    result = run(vps_snapshot, present(name=DAILY, retention=2, retention_match="daily-*"))

    assert result["pruned"] == [clean(D1), clean(D2), clean(D3)]
    assert sent(rsps) == [LIST, SERVER, delete_call(701), POST, delete_call(702), delete_call(703)]


def test_retention_without_wait_keeps_what_goes_once_the_snapshot_completed(rsps, run):
    add_list(rsps, [D1, D2])
    add_post(rsps, payload=new_snapshot(name=DAILY))

    result = run(vps_snapshot, present(name=DAILY, retention=1, wait=False))

    assert result["pruned"] == []
    assert warnings(result) == ["wait is false, so the 1 snapshot(s) over retention are kept until a run that waits."]
    assert sent(rsps) == [LIST, POST]


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize("protect, doomed", [(True, [D2]), (False, [D2, D3])])
def test_retention_on_an_existing_snapshot_protects_the_last_completed_unless_allowed(rsps, run, check_mode, protect, doomed):
    add_list(rsps, [D1, D2, D3])
    for raw in [] if check_mode else doomed:
        add_delete(rsps, raw["id"])

    result = run(vps_snapshot, present(name="daily-20250101", retention=1, protect_last_completed=protect), check_mode=check_mode)

    assert result["snapshot"] == clean(D1)
    assert result["pruned"] == [clean(raw) for raw in doomed]


def test_retention_that_cannot_make_room_fails_without_deleting(rsps, run):
    busy = [snap(700 + i, "daily-2025010%s" % i, status="in_progress", created_at="2025-01-0%sT03:00:00Z" % i) for i in range(1, 5)]
    add_list(rsps, [MANUAL] + busy)

    result = run(vps_snapshot, present(name=DAILY, retention=2, retention_match="daily-*"))

    assert result["failed"] is True
    assert result["msg"] == (
        "Cannot take snapshot 'daily-20250105' of server 12345: the server has 5 snapshots, the provider's limit of 5, and "
        "retention cannot make room: only 0 match retention_match 'daily-*' and may be deleted; snapshots in progress are "
        "never deleted. Its snapshots: %s." % "; ".join(describe(s) for s in list(reversed(busy)) + [MANUAL])
    )
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize("protect", [True, False])
def test_the_last_completed_snapshot_is_not_deleted_to_make_room_unless_allowed(rsps, run, protect):
    busy = [snap(700 + i, "daily-2025010%s" % i, status="in_progress", created_at="2025-01-0%sT03:00:00Z" % i) for i in range(1, 5)]
    add_list(rsps, [MANUAL] + busy)
    if not protect:
        add_server(rsps, "running")
        add_delete(rsps, 690)
        add_post(rsps, payload=new_snapshot(name=DAILY))

    result = run(vps_snapshot, present(name=DAILY, retention=1, protect_last_completed=protect, wait=False))

    if protect:
        assert result["failed"] is True
        assert (
            "only 0 match retention_match '*' and may be deleted; the server's last completed snapshot is kept until the "
            "new one has completed (protect_last_completed); snapshots in progress are never deleted."
        ) in result["msg"]
        assert sent(rsps) == [LIST]
    else:
        assert result["pruned"] == [clean(MANUAL)]
        assert sent(rsps) == [LIST, SERVER, delete_call(690), POST]


def test_retention_keeps_the_last_completed_snapshot_whatever_its_name(rsps, run):
    # The new snapshot failed to complete in time on an earlier run; the newest completed is D2.
    add_list(rsps, [D1, D2])
    add_post(rsps, payload=new_snapshot(name=DAILY))
    add_list(rsps, [D1, D2, new_snapshot("completed", name=DAILY)])
    add_delete(rsps, 701)

    result = run(vps_snapshot, present(name=DAILY, retention=1, retention_match="daily-2025010[12]"))

    assert result["pruned"] == [clean(D1)]
    assert sent(rsps) == [LIST, POST, LIST, delete_call(701)]


@pytest.mark.parametrize(
    "check_mode, doomed, changed", [(False, [D1, D2], True), (True, [D1, D2], True), (False, [], False)], ids=["run", "check mode", "within count"]
)
def test_retention_on_an_existing_snapshot(rsps, run, check_mode, doomed, changed):
    add_list(rsps, [D1, D2, D3, D4] if doomed else [D3, D4])
    if not check_mode:
        for raw in doomed:
            add_delete(rsps, raw["id"])

    result = run(vps_snapshot, present(name="daily-20250104", retention=2), check_mode=check_mode, diff=True)

    assert result["changed"] is changed
    assert result["snapshot"] == clean(D4)
    assert result["pruned"] == [clean(raw) for raw in doomed]
    if doomed:
        assert result["diff"] == [{"before": clean(D4), "after": clean(D4)}, pruned_diff(*doomed)]
    sends = [] if check_mode else [delete_call(raw["id"]) for raw in doomed]
    assert sent(rsps) == [LIST] + sends


@pytest.mark.parametrize("check_mode", [False, True])
def test_retention_does_not_count_a_new_name_outside_retention_match(rsps, run, check_mode):
    add_list(rsps, [D1, D2, D3])
    if check_mode:
        add_server(rsps, "running")
    else:
        add_post(rsps, payload=new_snapshot(name="manual-new"))
        add_list(rsps, [D1, D2, D3, new_snapshot("completed", name="manual-new")])

    result = run(vps_snapshot, present(name="manual-new", retention=3, retention_match="daily-*"), check_mode=check_mode)

    assert result["changed"] is True
    assert result["pruned"] == []
    assert sent(rsps) == ([LIST, SERVER] if check_mode else [LIST, POST, LIST])


# Every deletion is reported, also when the task fails -----------------------------------------------------------------


def test_a_failure_after_room_was_made_reports_the_deletion(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_server(rsps, "running")
    add_delete(rsps, 701)
    add_post(rsps, payload={"detail": "Quota exceeded."}, status=400)
    add_server(rsps, "running")
    add_list(rsps, [MANUAL, D2, D3, D4, snap(805, "someone-elses")])

    result = run(vps_snapshot, present(name=DAILY, retention=2, retention_match="daily-*"))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["pruned"] == [clean(D1)]
    assert result["msg"] == (
        "Could not create snapshot 'daily-20250105' on server 12345: Quota exceeded. (HTTP 400 on POST snapshots/)" + CHANGES + "deleted %s." % aged(D1)
    )
    assert sent(rsps) == [LIST, SERVER, delete_call(701), POST, SERVER, LIST]


def test_a_failed_deletion_after_completion_reports_the_creation_and_the_deletions_before(rsps, run):
    add_list(rsps, [D1, D2, D3])
    add_post(rsps, payload=new_snapshot(name=DAILY))
    add_list(rsps, [D1, D2, D3, new_snapshot("completed", name=DAILY)])
    add_delete(rsps, 701)
    add_delete(rsps, 702, status=409, json={"detail": "Snapshot is in use."})

    result = run(vps_snapshot, present(name=DAILY, retention=1))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["pruned"] == [clean(D1)]
    assert result["snapshot"] == clean(new_snapshot("completed", name=DAILY))
    assert result["msg"] == (
        "Could not delete snapshot %s: Snapshot is in use. (HTTP 409 on DELETE snapshots/702/)%screated %s, "
        "and deleted %s." % (describe(D2), CHANGES, describe(new_snapshot(name=DAILY)), aged(D1))
    )
    assert result["failure"]["status"] == 409


# Racing runs and resumes --------------------------------------------------------------------------------------------


def test_a_racing_run_with_a_lower_id_wins_and_ours_is_deleted(rsps, run):
    theirs = new_snapshot(snapshot_id=801)
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [theirs, new_snapshot()])
    add_delete(rsps, 802)
    add_list(rsps, [new_snapshot("completed", snapshot_id=801)])

    result = run(vps_snapshot, present())

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot("completed", snapshot_id=801))
    assert result["pruned"] == [clean(new_snapshot())]
    assert result["created"] is False
    assert result["msg"] == "Ensured snapshot %s of server 12345; deleted %s." % (describe(new_snapshot("completed", snapshot_id=801)), aged(new_snapshot()))
    assert warnings(result) == [
        "Another run created snapshot 'before-update' on server 12345 at the same moment; both settle on "
        "the older one (id 801), and this task deleted its own (id 802)."
    ]
    assert sent(rsps) == [LIST, POST, LIST, delete_call(802), LIST]


def test_a_racing_run_with_a_higher_id_loses_and_ours_is_kept(rsps, run):
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [new_snapshot("completed", snapshot_id=803), new_snapshot("completed")])

    result = run(vps_snapshot, present())

    assert result["snapshot"] == clean(new_snapshot("completed"))
    assert result["msg"] == took(new_snapshot("completed"))
    assert sent(rsps) == [LIST, POST, LIST]


@pytest.mark.parametrize("resume_match, reused", [("before-*", True), ("daily-*", False), (None, False)])
def test_resume_match_waits_for_an_interrupted_run_instead_of_taking_another(rsps, run, resume_match, reused):
    left = snap(790, "before-20250115", status="in_progress", created_at="2025-01-15T00:00:00Z")
    add_list(rsps, [left, D1])
    if not reused:
        add_post(rsps)

    result = run(vps_snapshot, present(resume_match=resume_match, wait=False) if resume_match else present(wait=False))

    assert result["rc"] == 0
    if reused:
        assert result["changed"] is False
        assert result["snapshot"] == clean(left)
        assert warnings(result) == [
            "snapshot %s matches resume_match 'before-*' and is still in progress (an interrupted run's?): it is reused instead of "
            "taking 'before-update'" % describe(left)
        ]
    else:
        assert result["changed"] is True
    assert sent(rsps) == [LIST] + ([] if reused else [POST])


# Ambiguous creations ------------------------------------------------------------------------------------------------

AMBIGUOUS = {
    "502": dict(status=502, json={"detail": "Bad gateway"}),
    "read timeout": dict(body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)")),
    "connection error": dict(body=requests.exceptions.ConnectionError("Connection aborted.")),
    "non-JSON 201": dict(status=201, body="<html><body>Created</body></html>", content_type="text/html"),
    "empty 201": dict(status=201, body=""),
    "201 without an id": dict(status=201, json={"status": "in_progress"}),
}


@pytest.mark.parametrize("kind", sorted(AMBIGUOUS))
def test_an_ambiguous_post_found_by_name_is_not_posted_again(rsps, run, kind):
    add_list(rsps, [])
    add_post(rsps, **AMBIGUOUS[kind])
    add_list(rsps, [new_snapshot()])
    add_list(rsps, [new_snapshot("completed")])

    result = run(vps_snapshot, present())

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot("completed"))
    assert result["msg"] == took(new_snapshot("completed"))
    assert sent(rsps) == [LIST, POST, LIST, LIST]


EDGE_REFUSALS = {
    "502": dict(status=502, json={"detail": "Bad gateway"}),
    "503": dict(status=503, body="<html><body><h1>503 Service Unavailable</h1></body></html>", content_type="text/html"),
}


@pytest.mark.parametrize("kind", sorted(EDGE_REFUSALS))
def test_a_post_refused_at_the_edge_and_not_found_is_posted_again(rsps, run, kind):
    add_list(rsps, [])
    add_post(rsps, **EDGE_REFUSALS[kind])
    add_list(rsps, [])
    add_post(rsps)

    result = run(vps_snapshot, present(wait=False))

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot())
    assert sent(rsps) == [LIST, POST, LIST, POST]


@pytest.mark.parametrize("retries", [1, 2, None], ids=["api_retries=1", "api_retries=2", "default"])
def test_posts_refused_at_the_edge_are_sent_again_at_most_api_retries_times(rsps, run, retries):
    add_list(rsps, [])
    add_post(rsps, status=502, json={"detail": "Bad gateway"})
    args = present() if retries is None else present(api_retries=retries)

    result = run(vps_snapshot, args)

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == (
        "Could not create snapshot 'before-update' on server 12345: Bad gateway (HTTP 502 on POST snapshots/). It does not exist on the server; rerun the task."
    )
    assert result["failure"]["status"] == 502
    attempts = 1 + (5 if retries is None else retries)
    assert sent(rsps) == [LIST] + [POST, LIST] * attempts


def test_the_third_post_after_two_edge_refusals_succeeds_with_api_retries_2(rsps, run):
    add_list(rsps, [])
    add_post(rsps, status=502, json={"detail": "Bad gateway"})
    add_post(rsps, status=503, json={"detail": "Unavailable"})
    add_post(rsps)

    result = run(vps_snapshot, present(api_retries=2, wait=False))

    assert result["rc"] == 0
    assert result["snapshot"] == clean(new_snapshot())
    assert sent(rsps) == [LIST, POST, LIST, POST, LIST, POST]


NO_ANSWER = dict((kind, AMBIGUOUS[kind]) for kind in ("read timeout", "connection error", "non-JSON 201", "empty 201"))
NO_ANSWER["504"] = dict(status=504, json={"detail": "Gateway timeout"})


@pytest.mark.parametrize("kind", sorted(NO_ANSWER))
def test_a_post_without_an_answer_is_never_sent_again(rsps, run, kind):
    # It may be applied late: the module keeps looking for twice api_timeout (30 s by default), never POSTing again.
    add_list(rsps, [])
    add_post(rsps, **NO_ANSWER[kind])

    result = run(vps_snapshot, present(wait=False))

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"].startswith("Could not confirm whether snapshot 'before-update' was created on server 12345: ")
    assert result["msg"].endswith(
        "It is not listed even after waiting; rerun the task: it finds the snapshot if the API created it late, and creates it otherwise."
    )
    # Looked at once right away, then on the poll schedule up to the 60 s grace.
    assert sent(rsps) == [LIST, POST] + [LIST] * 8


def test_a_post_without_an_answer_is_looked_for_twice_api_timeout(rsps, run, vtime):
    add_list(rsps, [])
    add_post(rsps, **NO_ANSWER["504"])
    start = vtime.now

    result = run(vps_snapshot, present(wait=False, api_timeout=50))

    assert result["failed"] is True
    assert vtime.now - start == 100


def test_a_post_without_an_answer_found_late_is_not_sent_again(rsps, run):
    add_list(rsps, [])
    add_post(rsps, **NO_ANSWER["read timeout"])
    add_list(rsps, [])
    add_list(rsps, [])
    add_list(rsps, [new_snapshot()])

    result = run(vps_snapshot, present(wait=False))

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot())
    assert sent(rsps) == [LIST, POST, LIST, LIST, LIST]


# The listing --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, tail",
    [
        (401, {"detail": "Invalid token."}, "Invalid token. (HTTP 401 on GET snapshots/)"),
        (404, {"detail": "Not found."}, "Not found. (HTTP 404 on GET snapshots/). The API answered 404 for https://api.vps.test/api/v1/snapshots/"),
    ],
)
def test_a_listing_that_fails_fails_the_task_before_anything_changes(rsps, run, status, body, tail):
    add_list(rsps, [], status=status, body=body)

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"] == "Could not list snapshots: " + tail
    assert result["failure"]["status"] == status
    assert result["snapshot"] == {}
    assert sent(rsps) == [LIST]


def test_the_wait_goes_on_through_two_failed_listings_in_a_row(rsps, run):
    add_list(rsps, [])
    add_post(rsps)
    for dummy in range(2):
        add_list(rsps, [], status=500, body={"detail": "down"})
        add_list(rsps, [new_snapshot()])
    add_list(rsps, [], status=500, body={"detail": "down"})
    add_list(rsps, [], status=500, body={"detail": "down"})
    add_list(rsps, [new_snapshot("completed")])

    result = run(vps_snapshot, present(api_retries=0))

    assert result["rc"] == 0
    assert result["snapshot"] == clean(new_snapshot("completed"))
    assert sent(rsps) == [LIST, POST] + [LIST] * 7


def test_three_failed_listings_in_a_row_fail_the_wait_naming_the_creation(rsps, run):
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [], status=500, body={"detail": "down"})

    result = run(vps_snapshot, present(api_retries=0))

    assert (result["failed"], result["changed"]) == (True, True)
    assert result["msg"] == (
        "Could not list snapshots: down (HTTP 500 on GET snapshots/) (3 polls in a row failed). %s Before "
        "this failure the task made changes: It created %s." % (RESUME, describe(new_snapshot()))
    )
    assert result["failure"]["status"] == 500
    assert result["snapshot"] == clean(new_snapshot())
    assert sent(rsps) == [LIST, POST, LIST, LIST, LIST]


# Input: each problem names its option, and nothing is sent ----------------------------------------------------------

NAME_CHARACTERS = "may contain only ASCII letters, digits, hyphens and underscores, got %r"
BAD_INPUT = [
    (present(server_id=0), "server_id must be a positive integer, got 0"),
    (present(server_id=-3), "server_id must be a positive integer, got -3"),
    (present(server_id=True), "server_id must be a positive integer, got True"),
    ({"state": "absent", "snapshot_id": 0}, "snapshot_id must be a positive integer, got 0"),
    ({"state": "restored", "snapshot_id": -1}, "snapshot_id must be a positive integer, got -1"),
    (present(name="has space"), "name " + NAME_CHARACTERS % "has space"),
    (present(name="snapshot-\u00e9t\u00e9"), "name " + NAME_CHARACTERS % "snapshot-\u00e9t\u00e9"),
    (present(name="trailing-newline\n"), "name " + NAME_CHARACTERS % "trailing-newline\n"),
    (present(name=""), "name must be a non-empty string"),
    (present(name="a" * 300), "name is 300 characters long; at most 255 are allowed"),
    (present(wait_timeout=0), "wait_timeout must be a positive integer, got 0"),
    (present(wait_timeout=-5), "wait_timeout must be a positive integer, got -5"),
    (present(retention=0), "retention must be between 1 and 5 (the provider's limit per server), got 0"),
    (present(retention=6), "retention must be between 1 and 5 (the provider's limit per server), got 6"),
    (present(retention=2, retention_match=""), "retention_match must be a non-empty shell-style pattern such as 'daily-*'"),
    (present(resume_match=""), "resume_match must be a non-empty shell-style pattern such as 'daily-*'"),
    ({"state": "restored", "server_id": SERVER_ID, "name_match": ""}, "name_match must be a non-empty shell-style pattern such as 'daily-*'"),
    ({"state": "absent", "snapshot_id": 801, "retention": 2}, "retention is only used with state=present"),
    ({"state": "absent", "snapshot_id": 801, "resume_match": "x"}, "resume_match is only used with state=present"),
    ({"state": "restored", "snapshot_id": 801, "description": "x"}, "description is only used with state=present"),
    (present(safety_snapshot={"name": "x"}), "safety_snapshot is only used with state=restored"),
    ({"state": "restored", "snapshot_id": 801, "safety_snapshot": {"name": "a b"}}, "safety_snapshot.name " + NAME_CHARACTERS % "a b"),
    ({"state": "restored", "snapshot_id": 801, "safety_snapshot": {"name": "s", "retention": 0}}, "safety_snapshot.retention must be between 1 and 5, got 0"),
    ({"state": "restored", "snapshot_id": 801, "safety_snapshot": {"name": "s", "retention": 6}}, "safety_snapshot.retention must be between 1 and 5, got 6"),
    (present(snapshot_id=801), "parameters are mutually exclusive: snapshot_id|name|name_match"),
    (present(name_match="x"), "parameters are mutually exclusive: snapshot_id|name|name_match"),
    (
        {"state": "absent", "server_id": 0, "snapshot_id": 801, "retention": 3, "description": "d"},
        "server_id must be a positive integer, got 0; description is only used with state=present; retention is only used with state=present",
    ),
    # AnsibleModule's own rules.
    ({"server_id": SERVER_ID}, "state is present but all of the following are missing: name"),
    ({"state": "present"}, "state is present but all of the following are missing: server_id, name"),
    ({"state": "absent", "server_id": SERVER_ID}, "state is absent but any of the following are missing: snapshot_id, name"),
    ({"state": "restored", "server_id": SERVER_ID}, "state is restored but any of the following are missing: snapshot_id, name, name_match"),
    ({"state": "restored", "name": "x"}, "missing parameter(s) required by 'name': server_id"),
    ({"state": "absent", "snapshot_id": 801, "name": "x", "server_id": SERVER_ID}, "parameters are mutually exclusive: snapshot_id|name|name_match"),
    (present(state="gone"), "value of state must be one of: present, absent, restored, got: gone"),
    ({"state": "restored", "name_match": "x"}, "missing parameter(s) required by 'name_match': server_id"),
    ({"state": "restored", "snapshot_id": 801, "safety_snapshot": {"retention": 1}}, "missing required arguments: name found in safety_snapshot"),
    (present(api_token=OMIT), "missing required arguments: api_token"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_fails_naming_the_option_before_any_request(rsps, run, monkeypatch, args, message):
    monkeypatch.delenv("VPS_API_TOKEN", raising=False)
    result = run(vps_snapshot, args)

    assert result["failed"] is True
    assert result["msg"] == message
    assert sent(rsps) == []


@pytest.mark.parametrize(
    "args",
    [
        present(name="a" * 255),
        present(retention=1),
        present(retention=5, retention_match="d*"),
        {"state": "restored", "snapshot_id": 801, "safety_snapshot": {"name": "s", "retention": 5}},
    ],
)
def test_the_edges_of_each_range_are_accepted(rsps, run, args):
    add_list(rsps, [], status=401, body={"detail": "stop here"}, server_id=None if "snapshot_id" in args else SERVER_ID)

    result = run(vps_snapshot, args)

    assert result["msg"] == "Could not list snapshots: stop here (HTTP 401 on GET snapshots/)"


def test_a_failed_namesake_on_a_server_that_cannot_be_read_is_deleted_once_the_retake_is_accepted(rsps, run):
    broken = snap(801, "pre-migration", status="failed")
    retaken = new_snapshot(name="pre-migration", snapshot_id=803)
    add_list(rsps, [broken])
    add_server(rsps, http_status=405, body={"detail": "Method not allowed."})
    add_post(rsps, payload=retaken)
    add_delete(rsps, 801)
    add_list(rsps, [new_snapshot("completed", name="pre-migration", snapshot_id=803)])

    result = run(vps_snapshot, present(name="pre-migration"))

    assert (result["rc"], result["changed"], result["created"]) == (0, True, True)
    assert result["pruned"] == [clean(broken)]
    assert sorted(warnings(result)) == sorted([retaken_note(broken), WITHOUT_ENDPOINT % 405])
    assert sent(rsps) == [LIST, SERVER, POST, delete_call(801), LIST]
