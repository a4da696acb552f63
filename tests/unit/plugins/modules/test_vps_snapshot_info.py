# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps_snapshot_info and vps_server_info: they only read."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.vps.cloud.plugins.modules import vps_server_info, vps_snapshot_info
from ansible_collections.vps.cloud.tests.unit.helpers import (
    CONTRACT_FIELDS,
    LIST,
    LIST_ALL,
    SERVER,
    SERVER_ID,
    add_list,
    add_server,
    clean,
    sent,
    server_call,
    server_view,
    snap,
    url,
    warnings,
)

OLD = snap(798, "weekly-2025-01-08", created_at="2025-01-08T12:00:00Z", description="Weekly snapshot")
MID = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z", description="Before major migration")
NEW = snap(802, "before-update", status="in_progress", created_at="2025-01-16T16:15:00Z")
OTHER = snap(900, "pre-migration", created_at="2025-01-10T09:00:00Z", server_id=777)
# Same time, so the later id comes first.
TWIN = snap(803, "twin", created_at="2025-01-08T12:00:00Z")


# vps_snapshot_info ----------------------------------------------------------------------------------------------------


def listed(raw):
    """A snapshot as vps_snapshot_info returns it: the contract's fields and how consistent it is (no note: unknown)."""
    return dict(clean(raw), consistency="unknown")


@pytest.mark.parametrize("check_mode", [False, True])
def test_lists_every_snapshot_newest_first_with_contract_fields_only(rsps, run, check_mode):
    add_list(rsps, [OLD, NEW, TWIN, OTHER, MID], server_id=None)

    result = run(vps_snapshot_info, {}, check_mode=check_mode)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshots"] == [listed(NEW), listed(MID), listed(OTHER), listed(TWIN), listed(OLD)]
    for item in result["snapshots"]:
        assert set(item) == CONTRACT_FIELDS | {"consistency"}
        assert set(item["server"]) == {"id", "name"}
    assert sent(rsps) == [LIST_ALL]


def test_server_id_is_sent_as_a_query_parameter(rsps, run):
    add_list(rsps, [MID, OLD], server_id=SERVER_ID)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID})

    assert result["snapshots"] == [listed(MID), listed(OLD)]
    assert sent(rsps) == [LIST]


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"snapshot_id": 801}, [MID]),
        ({"snapshot_id": 5}, []),
        ({"name": "pre-migration"}, [MID, OTHER]),
        ({"name": "pre"}, []),
        ({"status": "completed"}, [MID, OTHER, OLD]),
        ({"status": "in_progress"}, [NEW]),
        ({"status": "failed"}, []),
        ({"name": "pre-migration", "status": "completed", "snapshot_id": 900}, [OTHER]),
        ({"name": "pre-migration", "status": "in_progress"}, []),
        ({"name": "before-update", "snapshot_id": 801}, []),
    ],
)
def test_client_side_filters(rsps, run, filters, expected):
    add_list(rsps, [OLD, MID, NEW, OTHER], server_id=None)

    result = run(vps_snapshot_info, filters)

    assert result["rc"] == 0
    assert result["snapshots"] == [listed(s) for s in expected]
    assert sent(rsps) == [LIST_ALL]


def test_follows_pagination_to_the_end(rsps, run):
    page2 = url("snapshots/?page=2&server_id=12345")
    page3 = url("snapshots/?page=3&server_id=12345")
    add_list(rsps, [OLD], next_url=page2)
    add_list(rsps, [NEW], page_url=page2, next_url=page3)
    add_list(rsps, [MID], page_url=page3)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID})

    assert result["snapshots"] == [listed(NEW), listed(MID), listed(OLD)]
    assert sent(rsps) == [LIST, ("GET", "/snapshots/?page=2&server_id=12345"), ("GET", "/snapshots/?page=3&server_id=12345")]


@pytest.mark.parametrize(
    "status, body, words",
    [
        (401, {"detail": "Invalid token."}, "Invalid token."),
        (500, {"error": "database is down"}, "database is down"),
        (403, {"name": ["not allowed"]}, "name: not allowed"),
    ],
)
def test_an_api_error_fails_with_the_status_and_the_provider_words(rsps, run, status, body, words):
    add_list(rsps, [], server_id=None, status=status, body=body)

    result = run(vps_snapshot_info, {"api_retries": 0})

    assert result["rc"] == 1
    assert result["failed"] is True
    assert result["msg"] == "Could not list snapshots: %s (HTTP %s on GET snapshots/)" % (words, status)
    assert result["failure"] == {"status": status, "message": words, "method": "GET", "path": "snapshots/", "url": "https://api.vps.test/api/v1/snapshots/"}
    assert "snapshots" not in result
    assert sent(rsps) == [LIST_ALL]


def test_an_html_error_page_surfaces_its_text(rsps, run):
    rsps.add(responses.GET, url("snapshots/"), body="<html><body><h1>403 Forbidden</h1></body></html>", status=403, content_type="text/html")

    result = run(vps_snapshot_info, {})

    assert result["failed"] is True
    assert result["msg"] == "Could not list snapshots: 403 Forbidden (HTTP 403 on GET snapshots/)"


@pytest.mark.parametrize(
    "api_url, hint",
    [
        ("https://api.vps.test/api/v1", ""),
        (
            "https://api.vps.test/api",
            ": api_url (https://api.vps.test/api) must be the API's base URL up to and including its version, such as https://admin.vps.org/api/v1",
        ),
    ],
)
def test_a_404_on_the_listing_names_the_url_and_where_the_api_usually_lives(rsps, run, api_url, hint):
    rsps.add(responses.GET, api_url + "/snapshots/", json={"detail": "Not found."}, status=404)

    result = run(vps_snapshot_info, {"api_url": api_url})

    assert result["msg"] == ("Could not list snapshots: Not found. (HTTP 404 on GET snapshots/). The API answered 404 for %s/snapshots/%s" % (api_url, hint))


@pytest.mark.parametrize(
    "results, message",
    [
        (["not-an-object", 3], "the API's list holds 2 entries this module cannot read, such as an entry that is not an object ('not-an-object')"),
        (
            [{"id": "1", "name": "x", "status": "completed", "server": {"id": 1}}],
            "the API's list holds 1 entries this module cannot read, such as an entry without an integer id ('1')",
        ),
        ([{"id": 1, "name": "x", "server": {"id": 1}}], "the API's list holds 1 entries this module cannot read, such as snapshot 1 without a name or status"),
        (
            [{"id": 1, "name": "x", "status": "completed", "server": "web-01"}],
            "the API's list holds 1 entries this module cannot read, such as snapshot 1 without its server's id",
        ),
        ("a string", "the API answered a list request without a 'results' list (HTTP None on GET snapshots/)"),
    ],
)
def test_entries_unlike_the_contract_fail_clearly(rsps, run, results, message):
    body = {"count": 1, "next": None, "previous": None, "results": results} if isinstance(results, list) else results
    rsps.add(responses.GET, url("snapshots/"), json=body)

    result = run(vps_snapshot_info, {"name": "x"})

    assert result["failed"] is True
    assert result["msg"].startswith("Could not list snapshots: " + message.split(" (HTTP")[0])
    assert "Traceback" not in result["msg"]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"server_id": 0}, "server_id must be a positive integer, got 0"),
        ({"snapshot_id": -4}, "snapshot_id must be a positive integer, got -4"),
        ({"server_id": True}, "server_id must be a positive integer, got True"),
        ({"server_id": 0, "snapshot_id": 0}, "server_id must be a positive integer, got 0; snapshot_id must be a positive integer, got 0"),
    ],
)
def test_bad_input_fails_before_any_request(rsps, run, args, message):
    result = run(vps_snapshot_info, args)

    assert result["failed"] is True
    assert result["msg"] == message
    assert sent(rsps) == []


@pytest.mark.parametrize(
    "description, consistency",
    [
        ("Before the upgrade [vps.cloud quiesce: freeze held until completed]", "quiesced (freeze until completed)"),
        ("[vps.cloud quiesce: tasks held until accepted]", "quiesced (tasks until accepted)"),
        ("Nightly [vps.cloud quiesce: sync]", "flushed (sync)"),
        ("[vps.cloud quiesce: none]", "crash-consistent"),
        ("Weekly snapshot", "unknown"),
        ("[vps.cloud quiesce: freeze]", "unknown"),
        ("[vps.cloud quiesce: freezing held until completed]", "unknown"),
    ],
)
def test_each_snapshot_says_how_consistent_its_description_notes_it_is(rsps, run, description, consistency):
    add_list(rsps, [snap(801, "pre-upgrade", description=description)], server_id=SERVER_ID)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID})

    assert [s["consistency"] for s in result["snapshots"]] == [consistency]
    assert result["snapshots"][0]["description"] == description


NO_SUCH_SERVER = (
    "Server 12345 does not exist: GET /servers/12345/ answered HTTP 404, while other servers of the account can "
    "be read. No snapshots are listed for it; check server_id."
)


def test_a_server_with_no_snapshots_that_exists_draws_no_warning(rsps, run):
    add_list(rsps, [])
    add_server(rsps, "running")

    result = run(vps_snapshot_info, {"server_id": SERVER_ID})

    assert (result["rc"], result["snapshots"]) == (0, [])
    assert warnings(result) == []
    assert sent(rsps) == [LIST, SERVER]


def test_a_server_with_snapshots_is_not_looked_up_even_if_none_matches(rsps, run):
    add_list(rsps, [MID])

    result = run(vps_snapshot_info, {"server_id": SERVER_ID, "name": "nothing-like-it"})

    assert (result["snapshots"], warnings(result)) == ([], [])
    assert sent(rsps) == [LIST]


def test_a_server_that_does_not_exist_is_warned_of(rsps, run):
    add_list(rsps, [])
    add_server(rsps, http_status=404, body={"detail": "Not found."})
    add_list(rsps, [OTHER], server_id=None)
    add_server(rsps, "running", server_id=777)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID})

    assert (result["rc"], result["snapshots"]) == (0, [])
    assert warnings(result) == [NO_SUCH_SERVER]
    assert sent(rsps) == [LIST, SERVER, LIST_ALL, server_call(777)]


@pytest.mark.parametrize(
    "http_status, account, other, warning",
    [
        (
            404,
            [OTHER],
            404,
            "Server 12345 has no snapshots, and it may not exist: GET /servers/12345/ answered HTTP 404, and no other "
            "server of the account could be read to tell whether the server or that endpoint (which the provider "
            "does not document) is missing. Check server_id.",
        ),
        (
            404,
            [],
            None,
            "Server 12345 has no snapshots, and it may not exist: GET /servers/12345/ answered HTTP 404, and no other "
            "server of the account could be read to tell whether the server or that endpoint (which the provider does "
            "not document) is missing. Check server_id.",
        ),
        (
            405,
            None,
            None,
            "Server 12345 has no snapshots, and whether it exists could not be checked: the API does not offer GET "
            "/servers/{id}/ (HTTP 405), which the provider does not document.",
        ),
    ],
    ids=["no other server readable", "no other server listed", "405: no such endpoint"],
)
def test_a_missing_servers_endpoint_is_told_apart_from_a_missing_server(rsps, run, http_status, account, other, warning):
    add_list(rsps, [])
    add_server(rsps, http_status=http_status, body={"detail": "Not found."})
    if account is not None:
        add_list(rsps, account, server_id=None)
    if other is not None:
        add_server(rsps, http_status=other, body={"detail": "Not found."}, server_id=777)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID, "api_retries": 0})

    assert (result["rc"], result["snapshots"]) == (0, [])
    assert warnings(result) == [warning]


def test_an_empty_account_listing_draws_no_warning(rsps, run):
    add_list(rsps, [], server_id=None)

    result = run(vps_snapshot_info, {})

    assert (result["snapshots"], warnings(result)) == ([], [])
    assert sent(rsps) == [LIST_ALL]


# vps_server_info ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, state",
    [
        ("running", "stable"),
        ("stopped", "stable"),
        ("restoring", "restoring"),
        ("stopping", "busy"),
        ("migrating", "busy"),
        ("error", "failed"),
        ("failed", "failed"),
        ("restore_failed", "failed"),
    ],
)
def test_server_info_reads_the_server_and_classifies_its_status(rsps, run, status, state):
    add_server(rsps, status)

    result = run(vps_server_info, {"server_id": SERVER_ID}, check_mode=status == "stopped")

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["server"] == server_view(status)
    assert result["state"] == state
    assert warnings(result) == []
    assert sent(rsps) == [SERVER]


def test_server_info_names_a_status_it_does_not_know(rsps, run):
    add_server(rsps, "maintenance")

    result = run(vps_server_info, {"server_id": SERVER_ID})

    assert (result["rc"], result["state"]) == (0, "busy")
    assert warnings(result) == [
        "Server 12345 reads status 'maintenance', which this collection does not know: its state is given as busy, as for a transitional status."
    ]


@pytest.mark.parametrize("statuses", [["error"], ["restoring", "error"]], ids=["at once", "while waiting"])
def test_server_info_wait_fails_at_once_on_a_failure_status(rsps, run, vtime, statuses):
    for status in statuses:
        add_server(rsps, status)

    result = run(vps_server_info, {"server_id": SERVER_ID, "wait": True})

    assert (result["failed"], result["changed"], result["state"]) == (True, False, "failed")
    assert result["msg"] == (
        "Server 12345 is in status 'error', a failure status: waiting for it to be running or stopped would "
        "not end it, so this task stops at once. Look at the server at the provider."
    )
    assert result["server"] == server_view("error")
    assert len(vtime.sleeps) == len(statuses) - 1


def test_server_info_wait_warns_of_an_unknown_status_even_when_it_times_out(rsps, run):
    add_server(rsps, "maintenance")

    result = run(vps_server_info, {"server_id": SERVER_ID, "wait": True, "wait_timeout": 30})

    assert result["failed"] is True
    assert result["msg"].startswith("Timed out after 30s (wait_timeout=30)")
    assert warnings(result) == [
        "Server 12345 reads status 'maintenance', which this collection does not know: it is taken for "
        "a transitional status and waited for (up to wait_timeout=30) until the server is running or "
        "stopped."
    ]


def test_server_info_waits_until_the_server_is_idle(rsps, run, vtime):
    add_server(rsps, "restoring")
    add_server(rsps, "restoring")
    add_server(rsps, "stopping")
    add_server(rsps, "running")

    result = run(vps_server_info, {"server_id": SERVER_ID, "wait": True})

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["server"] == server_view("running")
    assert result["state"] == "stable"
    assert sent(rsps) == [SERVER] * 4
    assert len(vtime.sleeps) == 3


def test_server_info_without_wait_never_waits(rsps, run, vtime):
    add_server(rsps, "restoring")

    result = run(vps_server_info, {"server_id": SERVER_ID})

    assert result["state"] == "restoring"
    assert vtime.sleeps == []


@pytest.mark.parametrize("args, waited", [({"wait_timeout": 20}, 20), ({}, 1800)], ids=["wait_timeout", "default"])
def test_server_info_wait_timeout_says_a_rerun_is_safe(rsps, run, vtime, args, waited):
    add_server(rsps, "restoring")
    start = vtime.now

    result = run(vps_server_info, dict(args, server_id=SERVER_ID, wait=True))

    assert result["failed"] is True
    assert result["msg"] == (
        "Timed out after %ds (wait_timeout=%d) waiting for server 12345 to be running or stopped; last seen "
        "status: restoring. Rerunning this task is safe: it only reads, and never starts or stops "
        "anything." % (waited, waited)
    )
    assert vtime.now - start == waited


@pytest.mark.parametrize(
    "http_status, tail",
    [
        (
            404,
            ". The API answered 404 for https://api.vps.test/api/v1/servers/12345/. Either server 12345 does not exist, "
            "or the API does not offer GET /servers/{id}/, which the provider does not document.",
        ),
        (405, ""),
        (403, ""),
    ],
)
def test_server_info_for_a_missing_server_or_endpoint_fails_with_the_status(rsps, run, http_status, tail):
    add_server(rsps, http_status=http_status, body={"detail": "No."})

    result = run(vps_server_info, {"server_id": SERVER_ID})

    assert result["failed"] is True
    assert result["msg"] == "Could not read server 12345: No. (HTTP %s on GET servers/12345/)%s" % (http_status, tail)
    assert result["failure"]["status"] == http_status
    assert sent(rsps) == [SERVER]


@pytest.mark.parametrize(
    "args, message",
    [
        ({"server_id": 0}, "server_id must be a positive integer, got 0"),
        ({"server_id": SERVER_ID, "wait_timeout": 0}, "wait_timeout must be a positive integer, got 0"),
        ({}, "missing required arguments: server_id"),
    ],
)
def test_server_info_bad_input_fails_before_any_request(rsps, run, args, message):
    result = run(vps_server_info, args)

    assert result["failed"] is True
    assert result["msg"] == message
    assert sent(rsps) == []


def test_server_info_by_default_reads_once_and_its_invocation_shows_the_documented_defaults(rsps, run, vtime):
    add_server(rsps, "restoring")

    result = run(vps_server_info, {"server_id": SERVER_ID})

    assert (result["rc"], result["state"]) == (0, "restoring")
    assert dict((key, result["invocation"]["module_args"][key]) for key in ("server_id", "wait", "wait_timeout")) == {
        "server_id": SERVER_ID,
        "wait": False,
        "wait_timeout": 1800,
    }
    assert sent(rsps) == [SERVER]
    assert vtime.sleeps == []
