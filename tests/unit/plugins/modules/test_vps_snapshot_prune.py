# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps_snapshot_prune: old snapshots go by count and/or age, every server keeps a way back, check mode previews."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.vps.cloud.plugins.modules import vps_snapshot_prune
from ansible_collections.vps.cloud.tests.unit.helpers import (
    LIST_ALL,
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

# Server 101's snapshots, oldest first, with their age at NOW (2025-01-20T12:00:00Z).
M = snap(690, "manual", created_at="2024-12-01T00:00:00Z", server_id=101)
P1 = snap(701, "pre-upgrade-1", created_at="2025-01-01T03:00:00Z", server_id=101)
P2 = snap(702, "pre-upgrade-2", created_at="2025-01-05T03:00:00Z", server_id=101)
P3 = snap(703, "pre-upgrade-3", created_at="2025-01-10T03:00:00Z", server_id=101)
P4 = snap(704, "pre-upgrade-4", created_at="2025-01-15T03:00:00Z", server_id=101)
F = snap(705, "pre-upgrade-5", status="failed", created_at="2025-01-16T03:00:00Z", server_id=101)
W = snap(706, "pre-upgrade-6", status="in_progress", created_at="2025-01-17T03:00:00Z", server_id=101)
ALL = [M, P1, P2, P3, P4, F, W]
AGE = {690: "50d 12h old", 701: "19d 9h old", 702: "15d 9h old", 703: "10d 9h old", 704: "5d 9h old", 705: "4d 9h old"}


def preview(raw, server=None):
    line = "id %s  %s  %s  %s" % (raw["id"], raw["name"], raw["status"], AGE[raw["id"]])
    return "server %s: %s" % (server, line) if server else line


def prune(**args):
    return dict(dict(servers={"web-1": 101}, match="pre-upgrade-*", concurrency=1), **args)


@pytest.mark.parametrize(
    "args, doomed, kept",
    [
        (dict(keep=2), [F, P1, P2], [W, P4, P3]),
        (dict(older_than_days=7), [P1, P2, P3], [W, F, P4]),
        (dict(keep=3, older_than_days=12), [F, P1, P2], [W, P4, P3]),
        (dict(keep=0), [F, P1, P2, P3], [W, P4]),
        (dict(keep=0, protect_last_completed=False), [F, P1, P2, P3, P4], [W]),
        (dict(keep=0, match="*"), [F, M, P1, P2, P3], [W, P4]),
        (dict(keep=5), [F], [W, P4, P3, P2, P1]),
    ],
    ids=["keep", "older_than_days", "both", "keep 0 protects the last completed", "unprotected", "match", "failed always go"],
)
def test_prune_deletes_what_the_rules_pick_failed_first_and_waits_until_gone(rsps, run, args, doomed, kept):
    add_list(rsps, ALL, server_id=101)
    for raw in doomed:
        add_delete(rsps, raw["id"])
    add_list(rsps, [raw for raw in ALL if raw not in doomed], server_id=101)

    result = run(vps_snapshot_prune, prune(**args), diff=True)

    assert result["rc"] == 0
    assert result["changed"] is True
    assert result["pruned"] == [clean(raw) for raw in doomed]
    assert result["preview"] == [preview(raw, 101) for raw in doomed]
    entry = result["by_host"]["web-1"]
    assert entry["pruned"] == result["pruned"]
    assert entry["kept"] == [clean(raw) for raw in kept]
    assert entry["preview"] == [preview(raw) for raw in doomed]
    assert entry["msg"] == "Server 101: deleted %d snapshot(s): %s." % (len(doomed), "; ".join(describe(raw, AGE[raw["id"]]) for raw in doomed))
    assert entry["already_gone"] == []
    assert result["diff"] == {
        "before_header": "snapshots pruned",
        "after_header": "snapshots pruned",
        "after": "",
        "before": "".join("server 101: %s\n" % describe(raw, AGE[raw["id"]]) for raw in doomed),
    }
    assert result["msg"] == "Prune: deleted %d snapshot(s) on 1 server(s)." % len(doomed)
    assert sent(rsps) == [listing(101)] + [delete_call(raw["id"]) for raw in doomed] + [listing(101)]


def test_check_mode_previews_and_deletes_nothing(rsps, run):
    add_list(rsps, ALL, server_id=101)

    result = run(vps_snapshot_prune, prune(keep=2), check_mode=True, diff=True)

    assert result["diff"]["before"] == "".join("server 101: %s\n" % describe(raw, AGE[raw["id"]]) for raw in (F, P1, P2))

    assert result["changed"] is True
    assert result["pruned"] == [clean(F), clean(P1), clean(P2)]
    assert result["preview"] == [preview(F, 101), preview(P1, 101), preview(P2, 101)]
    assert result["results"][0]["msg"].startswith("Server 101: would delete 3 snapshot(s): %s; " % describe(F, AGE[705]))
    assert result["msg"] == "Prune (check mode): would delete 3 snapshot(s) on 1 server(s)."
    assert sent(rsps) == [listing(101)]


def test_without_wait_the_deletions_are_not_followed(rsps, run):
    add_list(rsps, [P1, P2], server_id=101)
    add_delete(rsps, 701)

    result = run(vps_snapshot_prune, prune(keep=1, wait=False))

    assert result["pruned"] == [clean(P1)]
    assert sent(rsps) == [listing(101), delete_call(701)]


def test_the_wait_ends_at_wait_timeout(rsps, run, vtime):
    add_list(rsps, [P1, P2], server_id=101)
    add_delete(rsps, 701)

    result = run(vps_snapshot_prune, prune(keep=1, wait_timeout=45))

    assert result["results"][0]["msg"].startswith("Timed out after 45s")
    assert vtime.now == 1045


def test_by_default_every_name_counts(rsps, run):
    add_list(rsps, [M, P1], server_id=101)
    add_delete(rsps, 690)
    add_list(rsps, [P1], server_id=101)

    result = run(vps_snapshot_prune, dict(servers=[101], keep=1))

    assert result["pruned"] == [clean(M)]


def test_by_default_the_wait_lasts_1800_seconds(rsps, run, vtime):
    add_list(rsps, [P1, P2], server_id=101)
    add_delete(rsps, 701)

    result = run(vps_snapshot_prune, dict(servers=[101], keep=1))

    assert result["results"][0]["msg"].startswith("Timed out after 1800s (wait_timeout=1800)")
    assert vtime.now == 2800


def test_nothing_to_prune_is_no_change(rsps, run):
    add_list(rsps, [P3, P4], server_id=101)

    result = run(vps_snapshot_prune, prune(keep=2))

    assert result["changed"] is False
    assert result["pruned"] == [] and result["preview"] == []
    assert result["results"][0]["msg"] == "Server 101: deleted 0 snapshot(s)."
    assert sent(rsps) == [listing(101)]


def test_several_servers_are_read_in_one_listing_and_waited_for_once(rsps, run):
    Q1 = snap(801, "pre-upgrade-1", created_at="2025-01-01T03:00:00Z", server_id=102)
    Q2 = snap(802, "pre-upgrade-2", created_at="2025-01-05T03:00:00Z", server_id=102)
    add_list(rsps, [P1, P2, Q1, Q2], server_id=None)
    add_delete(rsps, 701)
    add_delete(rsps, 801)
    add_list(rsps, [P2, Q2], server_id=None)

    result = run(vps_snapshot_prune, prune(servers={"web-1": 101, "db-1": 102, "db-2": 102}, keep=1, wait_timeout=60))

    assert result["rc"] == 0
    assert [(r["host"], r["server_id"]) for r in result["results"]] == [("db-1", 102), ("db-2", 102), ("web-1", 101)]
    assert result["pruned"] == [clean(P1), clean(Q1)]
    assert sent(rsps) == [LIST_ALL, delete_call(701), delete_call(801), LIST_ALL]


def test_one_server_failing_never_stops_the_others_and_its_deletions_are_reported(rsps, run):
    Q1 = snap(801, "pre-upgrade-1", created_at="2025-01-01T03:00:00Z", server_id=102)
    Q2 = snap(802, "pre-upgrade-2", created_at="2025-01-05T03:00:00Z", server_id=102)
    Q3 = snap(803, "pre-upgrade-3", created_at="2025-01-10T03:00:00Z", server_id=102)
    add_list(rsps, [P1, P2, Q1, Q2, Q3], server_id=None)
    add_delete(rsps, 701)
    add_delete(rsps, 801)
    add_delete(rsps, 802, status=409, json={"detail": "In use."})
    add_list(rsps, [P2, Q2, Q3], server_id=None)

    result = run(vps_snapshot_prune, prune(servers=[101, 102], keep=1))

    failure = "Could not delete snapshot %s: In use. (HTTP 409 on DELETE snapshots/802/) Before this failure the task made changes: It deleted %s." % (
        describe(Q2),
        describe(Q1, "19d 9h old"),
    )
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["failed_servers"] == [102]
    assert result["msg"] == ("Prune: deleted 2 snapshot(s) on 2 server(s), 1 server(s) failed. The prune failed for 1 of 2: server 102: " + failure)
    assert result["results"][1]["pruned"] == [clean(Q1)]
    assert result["pruned"] == [clean(P1), clean(Q1)]
    assert sent(rsps) == [LIST_ALL, delete_call(701), delete_call(801), delete_call(802), LIST_ALL]


@pytest.mark.parametrize(
    "later, failure",
    [
        (
            dict(items=[P1, P2]),
            "Timed out after 30s (wait_timeout=30) waiting for 1 deleted snapshot(s) to disappear; last seen "
            "status: still listed: 701. The deletion goes on at the provider; rerunning the task is safe.",
        ),
        (dict(items=[], status=500, body={"detail": "down"}), "Could not list snapshots: down (HTTP 500 on GET snapshots/)"),
    ],
    ids=["timeout", "listing fails"],
)
def test_a_wait_that_fails_still_reports_every_deletion(rsps, run, later, failure):
    add_list(rsps, [P1, P2], server_id=101)
    add_delete(rsps, 701)
    add_list(rsps, server_id=101, **later)

    result = run(vps_snapshot_prune, prune(keep=1, wait_timeout=30, api_retries=0))

    assert result["failed"] is True
    assert result["changed"] is True
    assert result["pruned"] == [clean(P1)]
    assert result["msg"] == (
        "Prune: deleted 1 snapshot(s) on 1 server(s), 1 server(s) failed. The prune failed for 1 of 1: "
        "server 101 (web-1): %s Before this failure the task made changes: It "
        "deleted %s." % (failure, describe(P1, AGE[701]))
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(keep=-1), "keep must be 0 or more, got -1"),
        (dict(older_than_days=-2), "older_than_days must be 0 or more, got -2"),
        (dict(keep=True), "keep must be 0 or more, got True"),
        (dict(), "one of the following is required: keep, older_than_days"),
        (dict(keep=1, servers=None), "missing required arguments: servers"),
        (dict(keep=1, servers={}), "servers is empty: give at least one server"),
        (dict(keep=1, servers="web-1"), "servers must be a mapping of host to server id, or a list of server ids, got str"),
        (dict(keep=1, servers=[0]), "servers[0] must be a positive integer server id, got 0"),
        (dict(keep=1, match=""), "match must be a non-empty shell-style pattern such as 'daily-*'"),
        (dict(keep=1, concurrency=0), "concurrency must be between 1 and 64, got 0"),
        (dict(keep=1, wait_timeout=0), "wait_timeout must be a positive integer, got 0"),
        (
            dict(keep=-1, servers=[0, "x"]),
            "servers[0] must be a positive integer server id, got 0; servers[1] must be a positive integer server id, got 'x'; keep must be 0 or more, got -1",
        ),
    ],
)
def test_bad_input_fails_naming_each_problem_before_any_request(rsps, run, args, message):
    result = run(vps_snapshot_prune, dict((key, value) for key, value in prune(**args).items() if value is not None))

    assert result["failed"] is True
    assert result["msg"] == message
    assert sent(rsps) == []


# Issue 22: what happened at the provider is what the task reports ----------------------------------------------------------


def test_prune_reports_every_deletion_it_made_and_counts_what_was_already_gone(rsps, run):
    """P1 answered 200 with a proxy's text (deleted: not sent again), P2 gone before this task's DELETE (someone else's),
    P3 deleted but its answer lost (a timeout, then 404): deleted 2, 1 already gone."""
    add_list(rsps, [P1, P2, P3, P4], server_id=101)
    add_delete(rsps, 701, status=200, body="upstream: OK <garbage> \x00{not json", content_type="text/plain")
    add_delete(rsps, 702, status=404, json={"detail": "Not found."})
    add_delete(rsps, 703, body=requests.exceptions.ReadTimeout("Read timed out."))
    add_delete(rsps, 703, status=404, json={"detail": "Not found."})
    add_list(rsps, [P4], server_id=101)

    result = run(vps_snapshot_prune, prune(keep=1))

    assert (result["rc"], result["changed"]) == (0, True)
    assert result["pruned"] == [clean(P1), clean(P3)]
    entry = result["by_host"]["web-1"]
    assert entry["already_gone"] == [clean(P2)]
    lost = "no answer within api_timeout=30s talking to api.vps.test: Read timed out."
    assert entry["msg"] == (
        "Server 101: deleted 2 snapshot(s): %s; %s, and 1 already gone (deleted by someone else before this "
        "task's DELETE): %s. The answer to the DELETE of %s was lost (%s); sent again, it was answered 404."
        % (describe(P1, AGE[701]), describe(P3, AGE[703]), describe(P2, AGE[702]), describe(P3), lost)
    )
    assert result["msg"] == "Prune: deleted 2 snapshot(s) on 1 server(s), 1 already gone (deleted by someone else first)."
    assert len(warnings(result)) == 1 and "the answer to its DELETE was lost (%s)" % lost in warnings(result)[0]
    assert sent(rsps) == [listing(101), delete_call(701), delete_call(702), delete_call(703), delete_call(703), listing(101)]


def test_a_prune_whose_delete_went_unanswered_and_stays_listed_fails_reporting_the_others(rsps, run):
    add_list(rsps, [P1, P2, P4], server_id=101)
    add_delete(rsps, 701)
    add_delete(rsps, 702, body=requests.exceptions.ReadTimeout("Read timed out."))
    add_list(rsps, [P2, P4], server_id=101)

    result = run(vps_snapshot_prune, prune(keep=1, api_timeout=5))

    assert result["failed"] is True and result["changed"] is True
    assert result["pruned"] == [clean(P1)]
    assert "Could not delete snapshot %s: no answer within api_timeout=5s" % describe(P2) in result["msg"]
    assert "still listed after 10 s" in result["msg"]
    assert result["msg"].startswith("Prune: deleted 1 snapshot(s) on 1 server(s), 1 server(s) failed. ")
