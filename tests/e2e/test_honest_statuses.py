"""Issue #22, statuses, refusals and present: what happened at the provider is what the task reports.

A server in a failure status is never waited for (it fails at once, naming the status), one in a status the collection
does not know is waited for with a warning, a server that does not exist is warned of by vps_snapshot_info, and a failed
snapshot of the same name is retaken by the batch module as by vps_snapshot. Statuses are set by a task of the playbook
itself (hold_task), right before the task under test.
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.e2e.e2e_helpers import BATCH, INFO, SERVER_INFO, SNAP, hold_task
from ansible_collections.vps.cloud.tests.harness.seeding import remove_server, seed
from ansible_collections.vps.cloud.tests.harness.simulator import (
    calls,
    creation_posts,
    deletes,
    of_server,
    restore_posts,
)

pytestmark = pytest.mark.timeout(180)

# Far longer than any test may take: a task that waited for it would hit the pytest timeout instead of passing.
LONG = 600


def server_reads(sim, server_id):
    return [c for c in sim.request_log() if c["method"] == "GET" and c["path"] == "/api/v1/servers/%s/" % server_id]


def no_doubled_stops(text):
    return ".." not in text and ".;" not in text


def test_a_restore_of_a_server_in_error_fails_at_once_naming_the_status(sim, play):
    """A rollback onto a server in `error`: no wait (it used to wait the whole wait_timeout in silence); the restore is
    asked for once, the provider refuses it, and the task fails naming the status and the provider's words."""
    [base] = seed(sim, 101, ["base"])
    run = play([hold_task(sim, 101, "error"), {SNAP: {"snapshot_id": base, "state": "restored", "wait_timeout": LONG}}])
    result = run[1]
    assert result["failed"] is True and result["changed"] is False
    assert "status 'error', a failure status" in result["msg"] and "no restore was started" in result["msg"]
    assert "Server is not in a valid state for restoration (status: error)." in result["msg"]
    assert no_doubled_stops(result["msg"])
    assert result["server"]["status"] == "error"
    assert [c["status"] for c in restore_posts(calls(sim))] == [400]
    assert len(server_reads(sim, 101)) == 2  # before the POST, and after its refusal: never polled


def test_a_creation_at_the_limit_on_a_server_in_error_deletes_nothing_and_fails_at_once(sim, play):
    seed(sim, 101, ["daily-1", "daily-2", "daily-3", "daily-4", "daily-5"])
    run = play(
        [hold_task(sim, 101, "error"), {SNAP: {"server_id": 101, "name": "daily-6", "retention": 5, "retention_match": "daily-*", "wait_timeout": LONG}}]
    )
    result = run[1]
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("Server 101 is in status 'error', a failure status")
    assert result["msg"].endswith("Nothing was deleted or created.")
    assert deletes(calls(sim)) == [] and creation_posts(calls(sim)) == []
    assert len(of_server(sim, 101)) == 5


def test_a_creation_refused_by_a_server_in_error_fails_at_once_in_the_providers_words(sim, play):
    run = play([hold_task(sim, 101, "error"), {SNAP: {"server_id": 101, "name": "n", "wait_timeout": LONG}}])
    result = run[1]
    assert result["failed"] is True and result["changed"] is False
    assert "Server is busy (status: error)" in result["msg"] and "status 'error', a failure status" in result["msg"]
    assert [c["status"] for c in creation_posts(calls(sim))] == [400]


def test_an_unknown_server_status_is_waited_for_and_warned_of_even_when_the_wait_times_out(sim, play):
    """`maintenance` is no status the collection knows: it is waited for like a transitional one (here until
    wait_timeout), and the warning that says so is in the result, not only a timeout after the whole wait."""
    seed(sim, 101, ["daily-1", "daily-2", "daily-3", "daily-4", "daily-5"])
    run = play(
        [hold_task(sim, 101, "maintenance"), {SNAP: {"server_id": 101, "name": "daily-6", "retention": 5, "retention_match": "daily-*", "wait_timeout": 4}}]
    )
    result = run[1]
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("Timed out after 4s (wait_timeout=4) waiting for server 101 to be running or stopped")
    assert [w for w in result["warnings"] if "'maintenance'" in w] == [
        "Server 101 reads status 'maintenance', which this collection does not know: it is taken for a transitional status "
        "and waited for (up to wait_timeout=4) until the server is running or stopped."
    ]
    assert deletes(calls(sim)) == [] and creation_posts(calls(sim)) == []


def test_server_info_tells_a_failed_server_from_a_busy_one(sim, play):
    run = play(
        [
            hold_task(sim, 102, "error"),
            {SERVER_INFO: {"server_id": 102}},
            {SERVER_INFO: {"server_id": 102, "wait": True, "wait_timeout": LONG}},
            hold_task(sim, 103, "stopping"),
            {SERVER_INFO: {"server_id": 103}},
        ]
    )
    read, waited, busy = run[1], run[2], run[4]
    assert not read.get("failed") and read["state"] == "failed"
    assert waited["failed"] is True and waited["state"] == "failed"
    assert waited["msg"].startswith("Server 102 is in status 'error', a failure status")
    assert busy["state"] == "busy"


def test_snapshot_info_warns_of_a_server_that_does_not_exist_and_only_of_it(sim, play):
    seed(sim, 101, ["base"])
    remove_server(sim, 103)
    run = play([{INFO: {"server_id": 103}}, {INFO: {"server_id": 102}}, {INFO: {"server_id": 101}}])
    missing, empty, listed = run.results
    assert missing["snapshots"] == [] and missing["warnings"] == [
        "Server 103 does not exist: GET /servers/103/ answered HTTP 404, while other servers of the account can be read. "
        "No snapshots are listed for it; check server_id."
    ]
    assert empty["snapshots"] == [] and not empty.get("warnings")
    assert len(listed["snapshots"]) == 1 and not listed.get("warnings")


def test_snapshot_info_says_when_the_servers_endpoint_is_missing(sim, play):
    sim.set_faults(servers_endpoint="405")
    result = play([{INFO: {"server_id": 102}}])[0]
    assert result["snapshots"] == []
    assert result["warnings"] == [
        "Server 102 has no snapshots, and whether it exists could not be checked: the API does not "
        "offer GET /servers/{id}/ (HTTP 405), which the provider does not document."
    ]


def test_batch_present_retakes_a_failed_snapshot_of_the_same_name_and_reports_the_deletion(sim, play):
    [failed] = seed(sim, 101, [("daily", "failed")])
    result = play([{BATCH: {"servers": {"web-01": 101, "web-02": 102}, "name": "daily", "wait_timeout": 60}}])[0]
    assert not result.get("failed"), result["msg"]
    retaken = result["by_host"]["web-01"]
    assert retaken["changed"] is True and retaken["created"] is True and retaken["snapshot"]["status"] == "completed"
    assert [s["id"] for s in retaken["pruned"]] == [failed]
    assert "deleted daily (id %s, failed" % failed in retaken["msg"]
    assert any("no restore point" in w for w in retaken["warnings"])
    assert [(s["name"], s["status"]) for s in of_server(sim, 101)] == [("daily", "completed")]
    assert [c["path"] for c in deletes(calls(sim))] == ["/api/v1/snapshots/%s/" % failed]
