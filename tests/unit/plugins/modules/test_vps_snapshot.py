# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import requests
import responses

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vps.cloud.plugins.module_utils import edge
from ansible_collections.vps.cloud.plugins.modules import vps_snapshot
from ansible_collections.vps.cloud.tests.unit.plugins.modules.vps_helpers import (
    CONTRACT_FIELDS,
    SERVER_ID,
    SERVER_NAME,
    OMIT,
    TOKEN,
    add_list,
    clean,
    request_json,
    sent,
    snap,
    url,
    warnings,
)

LIST = ("GET", "/snapshots/?server_id=12345")
LIST_ALL = ("GET", "/snapshots/")
POST = ("POST", "/snapshots/")
SERVER = ("GET", "/servers/12345/")
NEW_NAME = "before-update"
TIMEOUT_TAIL = "The operation goes on at the provider: rerun the task to resume waiting, or raise wait_timeout."


def delete(snapshot_id):
    return ("DELETE", "/snapshots/%s/" % snapshot_id)


def new_snapshot(status="in_progress", name=NEW_NAME, snapshot_id=802, description="Snapshot before system update"):
    raw = snap(snapshot_id, name, status=status, created_at="2025-01-16T16:15:00Z", description=description)
    raw["message"] = "Snapshot is being created. This may take 3-10 minutes depending on server size."
    return raw


def add_post(mock, payload=None, status=201, **kwargs):
    if payload is not None:
        kwargs["json"] = payload
    elif "body" not in kwargs and "json" not in kwargs:
        kwargs["json"] = new_snapshot()
    mock.add(responses.POST, url("snapshots/"), status=status, **kwargs)


def add_delete(mock, snapshot_id, status=204, **kwargs):
    mock.add(responses.DELETE, url("snapshots/%s/" % snapshot_id), status=status, **kwargs)


def add_server(mock, status="running", http_status=200, body=None):
    if body is None:
        body = {"id": SERVER_ID, "name": SERVER_NAME, "status": status, "ipv4": "192.0.2.10", "plan": "s-2"}
    mock.add(responses.GET, url("servers/%s/" % SERVER_ID), json=body, status=http_status)


def add_restore(mock, snapshot_id=801, status=200, **kwargs):
    if status == 200 and "body" not in kwargs and "json" not in kwargs:
        kwargs["json"] = {"status": "success", "message": "Server is being restored from snapshot. This may take 5-15 minutes.",
                          "snapshot": {"id": snapshot_id, "name": "pre-migration", "created_at": "2025-01-15T18:30:00Z"},
                          "server": {"id": SERVER_ID, "name": SERVER_NAME, "status": "restoring"}}
    mock.add(responses.POST, url("snapshots/%s/restore/" % snapshot_id), status=status, **kwargs)


def present(**args):
    return dict(dict(server_id=SERVER_ID, name=NEW_NAME), **args)


def describe(raw):
    return "%s (id %s, %s, created %s)" % (raw["name"], raw["id"], raw["status"], raw["created_at"])


def pruned_diff(*raws):
    return {"before_header": "snapshots pruned by retention", "after_header": "snapshots pruned by retention",
            "before": "".join("%s\n" % describe(raw) for raw in raws), "after": ""}


def assert_contract(snapshot):
    assert set(snapshot) == CONTRACT_FIELDS
    assert set(snapshot["server"]) == {"id", "name"}


# Snapshots of server 12345, oldest to newest. manual is the oldest of all and never matches "daily-*".
MANUAL = snap(690, "manual-keep", created_at="2024-12-01T00:00:00Z")
D1 = snap(701, "daily-20250101", created_at="2025-01-01T03:00:00Z")
D2 = snap(702, "daily-20250102", created_at="2025-01-02T03:00:00Z")
D3 = snap(703, "daily-20250103", created_at="2025-01-03T03:00:00Z")
D4 = snap(704, "daily-20250104", created_at="2025-01-04T03:00:00Z")
EXISTING = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z", description="Before major migration")


# ---------------------------------------------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------------------------------------------


def test_present_existing_completed_is_unchanged_after_one_request(rsps, run):
    add_list(rsps, [D1, EXISTING])

    result = run(vps_snapshot, present(name="pre-migration"), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == clean(EXISTING)
    assert_contract(result["snapshot"])
    assert result["diff"] == {"before": clean(EXISTING), "after": clean(EXISTING)}
    assert warnings(result) == []
    assert sent(rsps) == [LIST]


def test_present_existing_in_progress_is_waited_for_never_posted(rsps, run):
    running = snap(801, "pre-migration", status="in_progress")
    done = snap(801, "pre-migration")
    add_list(rsps, [running])
    add_list(rsps, [running])
    add_list(rsps, [done])

    result = run(vps_snapshot, present(name="pre-migration"))

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshot"] == clean(done)
    assert sent(rsps) == [LIST, LIST, LIST]


def test_present_existing_in_progress_without_wait_returns_at_once(rsps, run):
    running = snap(801, "pre-migration", status="in_progress")
    add_list(rsps, [running])

    result = run(vps_snapshot, present(name="pre-migration", wait=False))

    assert result["changed"] is False
    assert result["snapshot"] == clean(running)
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize("status", ["failed", "error"])
def test_present_existing_failed_is_a_clear_error(rsps, run, status):
    broken = snap(801, "pre-migration", status=status)
    add_list(rsps, [broken])

    result = run(vps_snapshot, present(name="pre-migration"))

    assert result["failed"] is True
    assert result["msg"] == (
        "Snapshot pre-migration (id 801, %s, created 2025-01-15T18:30:00Z) on server 12345 ended %s. "
        "Delete it (state: absent, snapshot_id: 801) or choose another name, then rerun." % (status, status))
    assert result["snapshot"] == clean(broken)
    assert sent(rsps) == [LIST]


def test_present_different_description_warns_and_keeps_the_snapshot(rsps, run):
    add_list(rsps, [EXISTING])

    result = run(vps_snapshot, present(name="pre-migration", description="Something else"))

    assert result["changed"] is False
    assert result["snapshot"] == clean(EXISTING)
    assert warnings(result) == [
        "Snapshot 'pre-migration' already exists with description 'Before major migration'; "
        "the API cannot change a description, so it is left as it is."]
    assert sent(rsps) == [LIST]


def test_present_same_description_does_not_warn(rsps, run):
    add_list(rsps, [EXISTING])

    result = run(vps_snapshot, present(name="pre-migration", description="Before major migration"))

    assert result["changed"] is False
    assert warnings(result) == []


def test_present_creates_and_polls_until_completed(rsps, run, vtime):
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
    assert "pruned" not in result
    assert sent(rsps) == [LIST, POST, LIST, LIST, LIST]
    assert request_json(rsps, 1) == {"server_id": SERVER_ID, "name": NEW_NAME, "description": "Snapshot before system update"}
    assert rsps.calls[1].request.headers["Authorization"] == "Bearer %s" % TOKEN
    # Three polls with backoff from 2 s, each jittered down by at most 10 %.
    assert len(vtime.sleeps) == 3
    assert 1.8 <= vtime.sleeps[0] <= 2.0 and 3.6 <= vtime.sleeps[1] <= 4.0 and 7.2 <= vtime.sleeps[2] <= 8.0


def test_present_without_description_posts_none(rsps, run):
    add_list(rsps, [])
    add_post(rsps)

    result = run(vps_snapshot, present(wait=False))

    assert result["changed"] is True
    assert request_json(rsps, 1) == {"server_id": SERVER_ID, "name": NEW_NAME}
    # The POST's answer, cleaned: the provider's "message" and other extras are dropped.
    assert result["snapshot"] == clean(new_snapshot())
    assert "message" not in result["snapshot"]
    assert sent(rsps) == [LIST, POST]


def test_present_created_snapshot_ending_failed_is_a_clear_error(rsps, run):
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [new_snapshot("failed")])

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["msg"] == (
        "Snapshot before-update (id 802, failed, created 2025-01-16T16:15:00Z) on server 12345 ended failed. "
        "Delete it (state: absent, snapshot_id: 802) and try again.")
    assert result["snapshot"] == clean(new_snapshot("failed"))
    assert sent(rsps) == [LIST, POST, LIST]


def test_present_created_snapshot_disappearing_is_a_clear_error(rsps, run):
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [])

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["msg"] == "Snapshot before-update (id 802) disappeared from server 12345 while waiting for it to complete."
    assert sent(rsps) == [LIST, POST, LIST]


def test_present_wait_times_out_with_a_resumable_message(rsps, run, vtime):
    add_list(rsps, [])
    add_post(rsps)
    add_list(rsps, [new_snapshot()])
    add_list(rsps, [new_snapshot()])
    start = vtime.now

    result = run(vps_snapshot, present(wait_timeout=3))

    assert result["failed"] is True
    assert result["msg"] == (
        "Timed out after 3s (wait_timeout=3) waiting for snapshot before-update (id 802) on server 12345 to complete; "
        "last seen status: in_progress. " + TIMEOUT_TAIL)
    assert vtime.now - start == 3
    assert sent(rsps) == [LIST, POST, LIST, LIST]


def test_present_at_the_limit_without_retention_fails_before_any_post(rsps, run):
    add_list(rsps, [D1, D2, D3, D4, MANUAL])

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["msg"] == (
        "Server 12345 already has 5 snapshots, the provider's limit of 5 per server: %s. "
        "Delete one (state: absent) or set retention to prune the oldest." % "; ".join(describe(s) for s in (D4, D3, D2, D1, MANUAL)))
    assert result["snapshots"] == [clean(s) for s in (D4, D3, D2, D1, MANUAL)]
    assert sent(rsps) == [LIST]


def test_present_below_the_limit_creates(rsps, run):
    add_list(rsps, [D1, D2, D3, D4])
    add_post(rsps)

    result = run(vps_snapshot, present(wait=False))

    assert result["changed"] is True
    assert sent(rsps) == [LIST, POST]


@pytest.mark.parametrize("status, body, words", [
    (400, {"non_field_errors": ["Snapshot limit reached for this server."]}, "Snapshot limit reached for this server."),
    (404, {"detail": "Server not found."}, "Server not found."),
    (400, {"name": ["Enter a valid name."]}, "name: Enter a valid name."),
])
def test_present_post_rejected_is_a_clear_error(rsps, run, status, body, words):
    add_list(rsps, [])
    add_post(rsps, payload=body, status=status)

    result = run(vps_snapshot, present())

    assert result["failed"] is True
    assert result["msg"] == "Could not create snapshot 'before-update' on server 12345: %s (HTTP %s on POST snapshots/)" % (words, status)
    assert result["failure"]["status"] == status
    assert sent(rsps) == [LIST, POST]


def test_present_duplicate_names_fail_without_picking_one(rsps, run):
    first = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z")
    second = snap(805, "pre-migration", created_at="2025-01-17T18:30:00Z")
    add_list(rsps, [first, second])

    result = run(vps_snapshot, present(name="pre-migration"))

    assert result["failed"] is True
    assert result["msg"] == ("Server 12345 has 2 snapshots named 'pre-migration' (ids 805, 801); "
                             "refer to one of them with snapshot_id (state absent or restored), "
                             "or delete the extra one, rather than let the module pick.")
    assert result["snapshots"] == [clean(second), clean(first)]
    assert sent(rsps) == [LIST]


def test_present_check_mode_sends_nothing_and_plans_the_snapshot(rsps, run):
    add_list(rsps, [D1])

    result = run(vps_snapshot, present(description="Snapshot before system update"), check_mode=True, diff=True)

    planned = {"id": None, "server": {"id": SERVER_ID, "name": SERVER_NAME}, "name": NEW_NAME, "status": "in_progress",
               "size_mb": None, "created_at": None, "description": "Snapshot before system update"}
    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == planned
    assert result["diff"] == {"before": {}, "after": planned}
    assert sent(rsps) == [LIST]


def test_present_check_mode_existing_is_unchanged(rsps, run):
    add_list(rsps, [EXISTING])

    result = run(vps_snapshot, present(name="pre-migration"), check_mode=True)

    assert result["changed"] is False
    assert result["snapshot"] == clean(EXISTING)
    assert sent(rsps) == [LIST]


# Retention ------------------------------------------------------------------------------------------------------


def test_retention_deletes_only_what_the_limit_forces_before_the_post_and_the_rest_after(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_delete(rsps, 701)
    add_post(rsps, payload=new_snapshot(name="daily-20250105"))
    add_list(rsps, [MANUAL, D2, D3, D4, new_snapshot("completed", name="daily-20250105")])
    add_delete(rsps, 702)
    add_delete(rsps, 703)

    result = run(vps_snapshot, present(name="daily-20250105", retention=2, retention_match="daily-*"), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["pruned"] == [clean(D1), clean(D2), clean(D3)]
    assert result["snapshot"] == clean(new_snapshot("completed", name="daily-20250105"))
    assert result["diff"] == [{"before": {}, "after": result["snapshot"]}, pruned_diff(D1, D2, D3)]
    assert sent(rsps) == [LIST, delete(701), POST, LIST, delete(702), delete(703)]


def test_retention_check_mode_reports_what_would_be_pruned(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])

    result = run(vps_snapshot, present(name="daily-20250105", retention=2, retention_match="daily-*"), check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["pruned"] == [clean(D1), clean(D2), clean(D3)]
    assert result["diff"][1] == pruned_diff(D1, D2, D3)
    assert result["diff"][0]["before"] == {}
    assert result["diff"][0]["after"]["name"] == "daily-20250105"
    assert sent(rsps) == [LIST]


def test_retention_never_deletes_in_progress_snapshots_nor_the_new_one(rsps, run):
    busy = snap(700, "daily-20241231", status="in_progress", created_at="2024-12-31T03:00:00Z")
    add_list(rsps, [MANUAL, busy, D2, D3, D4])
    add_delete(rsps, 702)
    add_post(rsps, payload=new_snapshot(name="daily-20250105"))
    add_list(rsps, [MANUAL, busy, D3, D4, new_snapshot("completed", name="daily-20250105")])
    add_delete(rsps, 703)
    add_delete(rsps, 704)

    result = run(vps_snapshot, present(name="daily-20250105", retention=1, retention_match="daily-*"))

    assert result["changed"] is True
    assert result["pruned"] == [clean(D2), clean(D3), clean(D4)]
    assert sent(rsps) == [LIST, delete(702), POST, LIST, delete(703), delete(704)]


def test_retention_below_the_limit_deletes_only_after_completion(rsps, run):
    add_list(rsps, [D1, D2])
    add_post(rsps, payload=new_snapshot(name="daily-20250105"))
    add_list(rsps, [D1, D2, new_snapshot("completed", name="daily-20250105")])
    add_delete(rsps, 701)

    result = run(vps_snapshot, present(name="daily-20250105", retention=2))

    assert result["pruned"] == [clean(D1)]
    assert sent(rsps) == [LIST, POST, LIST, delete(701)]


def test_retention_within_its_count_deletes_nothing(rsps, run):
    add_list(rsps, [D1, D2])
    add_post(rsps, payload=new_snapshot(name="daily-20250105"))
    add_list(rsps, [D1, D2, new_snapshot("completed", name="daily-20250105")])

    result = run(vps_snapshot, present(name="daily-20250105", retention=3), diff=True)

    assert result["pruned"] == []
    assert isinstance(result["diff"], dict)
    assert sent(rsps) == [LIST, POST, LIST]


def test_retention_without_wait_prunes_only_what_the_limit_forces_and_warns(rsps, run):
    add_list(rsps, [MANUAL, D1, D2, D3, D4])
    add_delete(rsps, 701)
    add_post(rsps, payload=new_snapshot(name="daily-20250105"))

    result = run(vps_snapshot, present(name="daily-20250105", retention=2, retention_match="daily-*", wait=False))

    assert result["changed"] is True
    assert result["pruned"] == [clean(D1)]
    assert warnings(result) == ["wait is false, so the 2 snapshot(s) over retention are kept until a run that waits."]
    assert sent(rsps) == [LIST, delete(701), POST]


def test_retention_that_cannot_make_room_fails_without_deleting(rsps, run):
    busy = [snap(700 + i, "daily-2025010%s" % i, status="in_progress", created_at="2025-01-0%sT03:00:00Z" % i) for i in range(1, 5)]
    add_list(rsps, [MANUAL] + busy)

    result = run(vps_snapshot, present(name="daily-20250105", retention=2, retention_match="daily-*"))

    assert result["failed"] is True
    assert result["msg"] == (
        "Server 12345 has 5 snapshots, the provider's limit of 5, and only 0 of them are completed and match "
        "retention_match 'daily-*', so retention cannot make room for a new one: %s."
        % "; ".join(describe(s) for s in list(reversed(busy)) + [MANUAL]))
    assert sent(rsps) == [LIST]


def test_retention_on_an_existing_snapshot_prunes_the_oldest(rsps, run):
    add_list(rsps, [D1, D2, D3, D4])
    add_delete(rsps, 701)
    add_delete(rsps, 702)

    result = run(vps_snapshot, present(name="daily-20250104", retention=2), diff=True)

    assert result["changed"] is True
    assert result["snapshot"] == clean(D4)
    assert result["pruned"] == [clean(D1), clean(D2)]
    assert result["diff"] == [{"before": clean(D4), "after": clean(D4)}, pruned_diff(D1, D2)]
    assert sent(rsps) == [LIST, delete(701), delete(702)]


def test_retention_on_an_existing_snapshot_in_check_mode_deletes_nothing(rsps, run):
    add_list(rsps, [D1, D2, D3, D4])

    result = run(vps_snapshot, present(name="daily-20250104", retention=2), check_mode=True)

    assert result["changed"] is True
    assert result["pruned"] == [clean(D1), clean(D2)]
    assert sent(rsps) == [LIST]


def test_retention_on_an_existing_snapshot_within_count_is_unchanged(rsps, run):
    add_list(rsps, [D3, D4])

    result = run(vps_snapshot, present(name="daily-20250104", retention=2))

    assert result["changed"] is False
    assert result["pruned"] == []
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize("check_mode", [False, True])
def test_retention_does_not_count_a_new_name_outside_retention_match(rsps, run, check_mode):
    add_list(rsps, [D1, D2, D3])
    if not check_mode:
        add_post(rsps, payload=new_snapshot(name="manual-new"))
        add_list(rsps, [D1, D2, D3, new_snapshot("completed", name="manual-new")])

    result = run(vps_snapshot, present(name="manual-new", retention=3, retention_match="daily-*"), check_mode=check_mode)

    assert result["changed"] is True
    assert result["pruned"] == []
    assert sent(rsps) == ([LIST] if check_mode else [LIST, POST, LIST])


# Ambiguous creation -----------------------------------------------------------------------------------------------

AMBIGUOUS = {
    "502": dict(status=502, json={"detail": "Bad gateway"}),
    "read timeout": dict(body=requests.exceptions.ReadTimeout("Read timed out. (read timeout=30)")),
    "connection error": dict(body=requests.exceptions.ConnectionError("Connection aborted.")),
    "non-JSON 201": dict(status=201, body="<html><body>Created</body></html>", content_type="text/html"),
    "empty 201": dict(status=201, body=""),
}


@pytest.mark.parametrize("kind", sorted(AMBIGUOUS))
def test_ambiguous_post_found_by_name_is_not_posted_again(rsps, run, kind):
    add_list(rsps, [])
    add_post(rsps, **AMBIGUOUS[kind])
    add_list(rsps, [new_snapshot()])
    add_list(rsps, [new_snapshot("completed")])

    result = run(vps_snapshot, present())

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot("completed"))
    assert sent(rsps) == [LIST, POST, LIST, LIST]


EDGE_REFUSALS = {
    "502": dict(status=502, json={"detail": "Bad gateway"}),
    "503": dict(status=503, body="<html><body><h1>503 Service Unavailable</h1></body></html>", content_type="text/html"),
}


@pytest.mark.parametrize("kind", sorted(EDGE_REFUSALS))
def test_post_refused_at_the_edge_and_not_found_is_posted_again(rsps, run, kind):
    add_list(rsps, [])
    add_post(rsps, **EDGE_REFUSALS[kind])
    add_list(rsps, [])
    add_post(rsps)

    result = run(vps_snapshot, present(wait=False))

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(new_snapshot())
    assert sent(rsps) == [LIST, POST, LIST, POST]


NO_ANSWER = dict((kind, AMBIGUOUS[kind]) for kind in ("read timeout", "connection error", "non-JSON 201", "empty 201"))
NO_ANSWER["504"] = dict(status=504, json={"detail": "Gateway timeout"})


@pytest.mark.parametrize("kind", sorted(NO_ANSWER))
def test_post_without_an_answer_is_never_sent_again(rsps, run, kind):
    # It may be applied late: the module keeps looking for twice the request timeout, then gives up without a second POST.
    add_list(rsps, [])
    add_post(rsps, **NO_ANSWER[kind])
    add_list(rsps, [])

    result = run(vps_snapshot, present(wait=False))

    assert result["failed"] is True
    assert result["msg"].startswith("Could not confirm whether snapshot 'before-update' was created on server 12345: ")
    assert result["msg"].endswith("rerun the task: it finds the snapshot if the API created it late, and creates it otherwise.")
    methods = [method for method, dummy in sent(rsps)]
    assert methods.count("POST") == 1
    # Looked at once right away, then on the poll schedule up to the 60 s grace (2 x api_timeout 30).
    assert sent(rsps)[:2] == [LIST, POST] and len(methods) == 2 + 8


def test_post_without_an_answer_found_late_is_not_sent_again(rsps, run):
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


def test_ambiguous_post_retries_are_bounded(rsps, run):
    add_list(rsps, [])
    add_post(rsps, status=502, json={"detail": "Bad gateway"})
    add_list(rsps, [])
    add_post(rsps, status=502, json={"detail": "Bad gateway"})
    add_list(rsps, [])

    result = run(vps_snapshot, present(api_retries=1))

    assert result["failed"] is True
    assert result["msg"] == ("Could not create snapshot 'before-update' on server 12345: Bad gateway (HTTP 502 on POST snapshots/). "
                             "It does not exist on the server; rerun the task.")
    assert sent(rsps) == [LIST, POST, LIST, POST, LIST]


# ---------------------------------------------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------------------------------------------


def test_absent_by_id_deletes_and_confirms_it_is_gone(rsps, run):
    add_list(rsps, [EXISTING, D1], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [D1])

    result = run(vps_snapshot, {"state": "absent", "snapshot_id": 801}, diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["snapshot"] == clean(EXISTING)
    assert_contract(result["snapshot"])
    assert result["diff"] == {"before": clean(EXISTING), "after": {}}
    assert sent(rsps) == [LIST_ALL, delete(801), LIST]


def test_absent_by_id_narrowed_by_server(rsps, run):
    add_list(rsps, [EXISTING])
    add_delete(rsps, 801)

    result = run(vps_snapshot, {"state": "absent", "snapshot_id": 801, "server_id": SERVER_ID, "wait": False})

    assert result["changed"] is True
    assert sent(rsps) == [LIST, delete(801)]


def test_absent_by_name_without_wait(rsps, run):
    add_list(rsps, [EXISTING, D1])
    add_delete(rsps, 801)

    result = run(vps_snapshot, {"state": "absent", "server_id": SERVER_ID, "name": "pre-migration", "wait": False})

    assert result["changed"] is True
    assert result["snapshot"] == clean(EXISTING)
    assert sent(rsps) == [LIST, delete(801)]


@pytest.mark.parametrize("args, first", [
    ({"snapshot_id": 999}, LIST_ALL),
    ({"server_id": SERVER_ID, "name": "nope"}, LIST),
])
def test_absent_missing_is_unchanged_after_one_request(rsps, run, args, first):
    add_list(rsps, [EXISTING], server_id=None if first == LIST_ALL else SERVER_ID)

    result = run(vps_snapshot, dict(args, state="absent"), diff=True)

    assert result["changed"] is False
    assert result["snapshot"] == {}
    assert result["diff"] == {"before": {}, "after": {}}
    assert sent(rsps) == [first]


def test_absent_already_gone_on_delete_is_handled(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, status=404, json={"detail": "Not found."})
    add_list(rsps, [])

    result = run(vps_snapshot, {"state": "absent", "snapshot_id": 801})

    assert result["rc"] == 0
    assert result["snapshot"] == clean(EXISTING)
    assert sent(rsps) == [LIST_ALL, delete(801), LIST]


def test_absent_delete_error_is_reported(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801, status=409, json={"detail": "Snapshot is in use."})

    result = run(vps_snapshot, {"state": "absent", "snapshot_id": 801})

    assert result["failed"] is True
    assert result["msg"] == ("Could not delete snapshot pre-migration (id 801, completed, created 2025-01-15T18:30:00Z): "
                             "Snapshot is in use. (HTTP 409 on DELETE snapshots/801/)")
    assert sent(rsps) == [LIST_ALL, delete(801)]


def test_absent_check_mode_deletes_nothing(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)

    result = run(vps_snapshot, {"state": "absent", "snapshot_id": 801}, check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["diff"] == {"before": clean(EXISTING), "after": {}}
    assert sent(rsps) == [LIST_ALL]


def test_absent_wait_times_out_with_a_resumable_message(rsps, run, vtime):
    add_list(rsps, [EXISTING], server_id=None)
    add_delete(rsps, 801)
    add_list(rsps, [EXISTING])
    add_list(rsps, [EXISTING])
    start = vtime.now

    result = run(vps_snapshot, {"state": "absent", "snapshot_id": 801, "wait_timeout": 1})

    assert result["failed"] is True
    assert result["msg"] == (
        "Timed out after 1s (wait_timeout=1) waiting for snapshot pre-migration (id 801, completed, created 2025-01-15T18:30:00Z) "
        "to disappear; last seen status: still listed. " + TIMEOUT_TAIL)
    assert vtime.now - start == 1
    assert sent(rsps) == [LIST_ALL, delete(801), LIST, LIST]


def test_absent_duplicate_names_fail(rsps, run):
    add_list(rsps, [snap(801, "twin"), snap(802, "twin", created_at="2025-01-16T00:00:00Z")])

    result = run(vps_snapshot, {"state": "absent", "server_id": SERVER_ID, "name": "twin"})

    assert result["failed"] is True
    assert result["msg"] == ("Server 12345 has 2 snapshots named 'twin' (ids 802, 801); refer to one of them with snapshot_id (state absent or restored), "
                             "or delete the extra one, rather than let the module pick.")
    assert sent(rsps) == [LIST]


# ---------------------------------------------------------------------------------------------------------------
# state=restored
# ---------------------------------------------------------------------------------------------------------------

SERVER_RUNNING = {"id": SERVER_ID, "name": SERVER_NAME, "status": "running"}
SERVER_RESTORING = {"id": SERVER_ID, "name": SERVER_NAME, "status": "restoring"}
RESTORED_FROM = {"id": 801, "name": "pre-migration", "created_at": "2025-01-15T18:30:00Z"}


def restore_call(snapshot_id=801):
    return ("POST", "/snapshots/%s/restore/" % snapshot_id)


def test_restored_by_id_restores_and_waits_for_the_server(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "restoring")
    add_server(rsps, "running")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801}, diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["server"] == SERVER_RUNNING
    assert result["snapshot"] == clean(EXISTING)
    assert result["diff"] == {"before": {"server": SERVER_RUNNING},
                              "after": {"server": SERVER_RUNNING, "restored_from": RESTORED_FROM}}
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER, SERVER]
    assert rsps.calls[2].request.body is None


def test_restored_by_name_without_wait(rsps, run):
    add_list(rsps, [EXISTING, D1])
    add_server(rsps, "stopped")
    add_restore(rsps)

    result = run(vps_snapshot, {"state": "restored", "server_id": SERVER_ID, "name": "pre-migration", "wait": False})

    assert result["changed"] is True
    assert result["server"] == SERVER_RESTORING
    assert sent(rsps) == [LIST, SERVER, restore_call()]


@pytest.mark.parametrize("args, message", [
    ({"snapshot_id": 999}, "No snapshot id 999 exists, so there is nothing to restore from."),
    ({"server_id": SERVER_ID, "name": "nope"}, "No snapshot named 'nope' on server 12345 exists, so there is nothing to restore from."),
])
def test_restored_missing_snapshot_is_a_clear_error(rsps, run, args, message):
    add_list(rsps, [EXISTING], server_id=args.get("server_id"))

    result = run(vps_snapshot, dict(args, state="restored"))

    assert result["failed"] is True
    assert result["msg"] == message
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", ["in_progress", "failed"])
def test_restored_from_an_unfinished_snapshot_is_a_clear_error(rsps, run, status):
    raw = snap(801, "pre-migration", status=status)
    add_list(rsps, [raw], server_id=None)

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801})

    assert result["failed"] is True
    assert result["msg"] == ("Snapshot pre-migration (id 801, %s, created 2025-01-15T18:30:00Z) is %s; "
                             "only a completed snapshot can be restored." % (status, status))
    assert result["snapshot"] == clean(raw)
    assert sent(rsps) == [LIST_ALL]


@pytest.mark.parametrize("http_status", [404, 405])
def test_restored_without_a_server_endpoint_suggests_wait_false(rsps, run, http_status):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, http_status=http_status, body={"detail": "Not found." if http_status == 404 else "Method not allowed."})

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801})

    assert result["failed"] is True
    assert result["msg"].startswith("The API has no usable GET /servers/12345/ (HTTP %s: " % http_status)
    assert result["msg"].endswith("so the server's restore cannot be watched. Set wait: false to start the restore without waiting for it.")
    assert sent(rsps) == [LIST_ALL, SERVER]


def test_restored_without_a_server_endpoint_and_without_wait_still_restores(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, http_status=404, body={"detail": "Not found."})
    add_restore(rsps)

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait": False})

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["server"] == SERVER_RESTORING
    assert warnings(result) == ["The API has no usable GET /servers/12345/ (HTTP 404), so the restore starts without checking whether one is "
                                "already under way."]
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call()]


def test_restored_server_error_is_reported(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, http_status=403, body={"detail": "Forbidden."})

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait": False})

    assert result["failed"] is True
    assert result["msg"] == "Could not read server 12345: Forbidden. (HTTP 403 on GET servers/12345/)"
    assert sent(rsps) == [LIST_ALL, SERVER]


def test_restored_server_endpoint_vanishing_while_waiting_fails_clearly(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, http_status=405, body={"detail": "Method not allowed."})

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801})

    assert result["failed"] is True
    assert "Set wait: false" in result["msg"]
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER]


def test_restored_server_already_restoring_is_waited_for_not_restarted(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "restoring")
    add_server(rsps, "restoring")
    add_server(rsps, "running")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801}, diff=True)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["server"] == SERVER_RUNNING
    assert result["diff"] == {"before": {"server": SERVER_RESTORING}, "after": {"server": SERVER_RESTORING}}
    assert sent(rsps) == [LIST_ALL, SERVER, SERVER, SERVER]


def test_restored_server_already_restoring_without_wait(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "restoring")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait": False})

    assert result["changed"] is False
    assert result["server"] == SERVER_RESTORING
    assert sent(rsps) == [LIST_ALL, SERVER]


def test_restored_400_is_a_clear_error(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "migrating")
    add_restore(rsps, status=400, json={"detail": "Server is busy."})

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801})

    assert result["failed"] is True
    assert result["msg"] == (
        "Could not restore server 12345 from snapshot pre-migration (id 801, completed, created 2025-01-15T18:30:00Z): "
        "Server is busy. (HTTP 400 on POST snapshots/801/restore/). "
        "The server must be running or stopped, not in the middle of another operation.")
    assert result["failure"]["status"] == 400
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call()]


def test_restored_check_mode_sends_no_post(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801}, check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["server"] == SERVER_RUNNING
    assert result["snapshot"] == clean(EXISTING)
    assert result["diff"] == {"before": {"server": SERVER_RUNNING},
                              "after": {"server": SERVER_RUNNING, "restored_from": RESTORED_FROM}}
    assert sent(rsps) == [LIST_ALL, SERVER]


def test_restored_wait_times_out_with_a_resumable_message(rsps, run, vtime):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps)
    add_server(rsps, "restoring")
    start = vtime.now

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait_timeout": 1})

    assert result["failed"] is True
    assert result["msg"] == ("Timed out after 1s (wait_timeout=1) waiting for server web-server-01 (id 12345) to finish restoring; "
                             "last seen status: restoring. " + TIMEOUT_TAIL)
    assert vtime.now - start == 1
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER]


def test_restored_ambiguous_post_that_started_is_not_sent_again(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, status=502, json={"detail": "Bad gateway"})
    add_server(rsps, "restoring")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait": False})

    assert result["changed"] is True
    assert result["server"] == SERVER_RESTORING
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER]


def test_restored_post_refused_at_the_edge_is_sent_again(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, status=503, json={"detail": "Service unavailable"})
    add_server(rsps, "running")
    add_restore(rsps)

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait": False})

    assert result["changed"] is True
    assert result["server"] == SERVER_RESTORING
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER, restore_call()]


def test_restored_post_refused_at_the_edge_retries_are_bounded(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, status=502, json={"detail": "Bad gateway"})
    add_server(rsps, "running")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "api_retries": 0})

    assert result["failed"] is True
    assert result["msg"] == ("Could not start the restore of server 12345 from snapshot pre-migration (id 801, completed, "
                             "created 2025-01-15T18:30:00Z): Bad gateway (HTTP 502 on POST snapshots/801/restore/)")
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER]


@pytest.mark.parametrize("failure", [
    dict(body=requests.exceptions.ReadTimeout("Read timed out.")),
    dict(status=504, json={"detail": "Gateway timeout"}),
], ids=["read timeout", "504"])
def test_restored_post_without_an_answer_is_never_sent_again(rsps, run, failure):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, **failure)
    add_server(rsps, "running")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait": False})

    assert result["failed"] is True
    assert result["msg"].startswith("Could not confirm whether the restore of server 12345 from snapshot pre-migration (id 801, ")
    assert result["msg"].endswith("The server does not show 'restoring'; check its state before you rerun the task, which would start a restore.")
    methods = [method for method, dummy in sent(rsps)]
    assert methods.count("POST") == 1
    assert sent(rsps)[:3] == [LIST_ALL, SERVER, restore_call()] and len(methods) == 3 + 8


def test_restored_post_without_an_answer_that_started_is_waited_for(rsps, run):
    add_list(rsps, [EXISTING], server_id=None)
    add_server(rsps, "running")
    add_restore(rsps, body=requests.exceptions.ConnectionError("Connection aborted."))
    add_server(rsps, "restoring")

    result = run(vps_snapshot, {"state": "restored", "snapshot_id": 801, "wait": False})

    assert result["changed"] is True
    assert result["server"] == SERVER_RESTORING
    assert sent(rsps) == [LIST_ALL, SERVER, restore_call(), SERVER]


# ---------------------------------------------------------------------------------------------------------------
# Input checks: each names the option and sends nothing
# ---------------------------------------------------------------------------------------------------------------

BAD_INPUT = [
    (present(server_id=0), "server_id must be a positive integer, got 0"),
    (present(server_id=-3), "server_id must be a positive integer, got -3"),
    (present(server_id=True), "server_id must be a positive integer, got True"),
    ({"state": "absent", "snapshot_id": 0}, "snapshot_id must be a positive integer, got 0"),
    ({"state": "restored", "snapshot_id": -1}, "snapshot_id must be a positive integer, got -1"),
    (present(name="has space"), "name may contain only ASCII letters, digits, hyphens and underscores, got 'has space'"),
    (present(name="snapshot-\u00e9t\u00e9"), "name may contain only ASCII letters, digits, hyphens and underscores, got 'snapshot-\u00e9t\u00e9'"),
    (present(name="trailing-newline\n"), "name may contain only ASCII letters, digits, hyphens and underscores, got 'trailing-newline\\n'"),
    (present(name=""), "name must be a non-empty string"),
    (present(name="a" * 300), "name is 300 characters long; at most 255 are allowed"),
    (present(wait_timeout=0), "wait_timeout must be a positive integer, got 0"),
    (present(wait_timeout=-5), "wait_timeout must be a positive integer, got -5"),
    (present(retention=0), "retention must be between 1 and 5 (the provider's limit per server), got 0"),
    (present(retention=6), "retention must be between 1 and 5 (the provider's limit per server), got 6"),
    ({"state": "absent", "snapshot_id": 801, "retention": 2}, "retention is only used with state=present"),
    (present(retention=2, retention_match=""), "retention_match must be a non-empty pattern"),
    (present(api_timeout=0), "api_timeout must be a positive number of seconds, got 0"),
    (present(api_retries=-1), "api_retries must be between 0 and 20, got -1"),
    (present(api_url="ftp://x"), "api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got 'ftp://x'"),
    (present(api_url="not a url"), "api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got 'not a url'"),
    # Identity rules.
    ({"server_id": SERVER_ID}, "state=present needs name"),
    ({"name": NEW_NAME}, "state=present needs server_id"),
    ({}, "state=present needs server_id and name"),
    (present(snapshot_id=801), "snapshot_id is not used with state=present, which identifies the snapshot by server_id and name"),
    ({"state": "absent", "snapshot_id": 801, "name": "x"}, "give snapshot_id alone or server_id with name, not both snapshot_id and name"),
    ({"state": "restored", "snapshot_id": 801, "server_id": SERVER_ID, "name": "x"},
     "give snapshot_id alone or server_id with name, not both snapshot_id and name"),
    ({"state": "absent", "server_id": SERVER_ID}, "state=absent needs snapshot_id, or server_id and name"),
    ({"state": "restored", "name": "x"}, "state=restored needs snapshot_id, or server_id and name"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_fails_naming_the_option_before_any_request(rsps, run, args, message):
    result = run(vps_snapshot, args)

    assert result["failed"] is True
    assert result["msg"] == message
    assert sent(rsps) == []


def test_several_problems_are_reported_together(rsps, run):
    result = run(vps_snapshot, {"state": "absent", "server_id": 0, "retention": 3})

    assert result["failed"] is True
    assert result["msg"] == ("server_id must be a positive integer, got 0; state=absent needs snapshot_id, or server_id and name; "
                             "retention is only used with state=present")
    assert sent(rsps) == []


def test_unknown_state_is_refused_by_ansible(rsps, run):
    result = run(vps_snapshot, present(state="gone"))

    assert result["failed"] is True
    assert "state" in result["msg"] and "present, absent, restored" in result["msg"]
    assert sent(rsps) == []


# ---------------------------------------------------------------------------------------------------------------
# The token, the edge
# ---------------------------------------------------------------------------------------------------------------


def test_token_echoed_by_the_provider_is_masked_on_failure(rsps, run):
    add_list(rsps, [], status=401, body={"detail": "Invalid token %s." % TOKEN})

    result = run(vps_snapshot, present())

    # run() already asserted the token is nowhere in the output.
    assert result["failed"] is True
    assert result["msg"].startswith("Could not list snapshots: Invalid token ")
    assert result["failure"]["status"] == 401
    assert result["invocation"]["module_args"]["api_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert sent(rsps) == [LIST]


def test_token_from_the_environment_is_masked(rsps, run, monkeypatch):
    monkeypatch.setenv("VPS_API_TOKEN", TOKEN)
    add_list(rsps, [EXISTING])

    result = run(vps_snapshot, dict(present(name="pre-migration"), api_token=OMIT))

    assert result["changed"] is False
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer %s" % TOKEN
    assert result["invocation"]["module_args"]["api_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_plain_http_to_a_remote_host_warns(rsps, run):
    rsps.add(responses.GET, "http://api.vps.test/api/v1/snapshots/?server_id=12345", json={"count": 1, "results": [EXISTING]})

    result = run(vps_snapshot, present(name="pre-migration", api_url="http://api.vps.test/api/v1"))

    assert result["changed"] is False
    assert warnings(result) == ["api_url uses plain http:// to api.vps.test, which is not loopback: the API token travels unencrypted. "
                                "Use https://."]
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("state_args", [present(), {"state": "absent", "snapshot_id": 801}, {"state": "restored", "snapshot_id": 801}])
def test_requests_missing_gives_the_standard_message(rsps, run, monkeypatch, state_args):
    monkeypatch.setattr(edge, "HAS_REQUESTS", False)

    result = run(vps_snapshot, state_args)

    assert result["failed"] is True
    assert result["msg"] == missing_required_lib("requests")
    assert sent(rsps) == []
