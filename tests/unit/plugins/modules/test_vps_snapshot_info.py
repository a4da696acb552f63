# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import responses

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vps.cloud.plugins.module_utils import edge
from ansible_collections.vps.cloud.plugins.modules import vps_snapshot_info
from ansible_collections.vps.cloud.tests.unit.plugins.modules.vps_helpers import (
    CONTRACT_FIELDS,
    SERVER_ID,
    TOKEN,
    add_list,
    clean,
    sent,
    snap,
    url,
)

OLD = snap(798, "weekly-2025-01-08", created_at="2025-01-08T12:00:00Z", description="Weekly snapshot")
MID = snap(801, "pre-migration", created_at="2025-01-15T18:30:00Z", description="Before major migration")
NEW = snap(802, "before-update", status="in_progress", created_at="2025-01-16T16:15:00Z")
OTHER = snap(900, "pre-migration", created_at="2025-01-10T09:00:00Z", server_id=777)


def test_lists_every_snapshot_newest_first_with_contract_fields_only(rsps, run):
    add_list(rsps, [OLD, NEW, OTHER, MID], server_id=None)

    result = run(vps_snapshot_info, {})

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshots"] == [clean(NEW), clean(MID), clean(OTHER), clean(OLD)]
    for item in result["snapshots"]:
        assert set(item) == CONTRACT_FIELDS
        assert set(item["server"]) == {"id", "name"}
    assert sent(rsps) == [("GET", "/snapshots/")]


def test_server_id_is_sent_as_query_parameter(rsps, run):
    add_list(rsps, [MID, OLD], server_id=SERVER_ID)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID})

    assert result["snapshots"] == [clean(MID), clean(OLD)]
    assert sent(rsps) == [("GET", "/snapshots/?server_id=12345")]


@pytest.mark.parametrize("filters, expected", [
    ({"snapshot_id": 801}, [MID]),
    ({"snapshot_id": 5}, []),
    ({"name": "pre-migration"}, [MID, OTHER]),
    ({"name": "pre"}, []),
    ({"status": "completed"}, [MID, OTHER, OLD]),
    ({"status": "in_progress"}, [NEW]),
    ({"status": "failed"}, []),
    ({"name": "pre-migration", "status": "completed", "snapshot_id": 900}, [OTHER]),
])
def test_client_side_filters(rsps, run, filters, expected):
    add_list(rsps, [OLD, MID, NEW, OTHER], server_id=None)

    result = run(vps_snapshot_info, filters)

    assert result["rc"] == 0
    assert result["snapshots"] == [clean(s) for s in expected]
    assert sent(rsps) == [("GET", "/snapshots/")]


def test_follows_pagination_to_the_end(rsps, run):
    page2 = url("snapshots/?page=2&server_id=12345")
    page3 = url("snapshots/?page=3&server_id=12345")
    add_list(rsps, [OLD], next_url=page2)
    add_list(rsps, [NEW], page_url=page2, next_url=page3)
    add_list(rsps, [MID], page_url=page3)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID})

    assert result["snapshots"] == [clean(NEW), clean(MID), clean(OLD)]
    assert sent(rsps) == [("GET", "/snapshots/?server_id=12345"),
                          ("GET", "/snapshots/?page=2&server_id=12345"),
                          ("GET", "/snapshots/?page=3&server_id=12345")]


def test_sends_the_bearer_token(rsps, run):
    add_list(rsps, [], server_id=None)

    run(vps_snapshot_info, {})

    assert rsps.calls[0].request.headers["Authorization"] == "Bearer %s" % TOKEN


def test_check_mode_reads_all_the_same(rsps, run):
    add_list(rsps, [MID], server_id=SERVER_ID)

    result = run(vps_snapshot_info, {"server_id": SERVER_ID}, check_mode=True)

    assert result["rc"] == 0
    assert result["changed"] is False
    assert result["snapshots"] == [clean(MID)]
    assert sent(rsps) == [("GET", "/snapshots/?server_id=12345")]


@pytest.mark.parametrize("status, body, words", [
    (401, {"detail": "Invalid token."}, "Invalid token."),
    (500, {"error": "database is down"}, "database is down"),
    (403, {"name": ["not allowed"]}, "name: not allowed"),
])
def test_api_error_fails_with_status_and_provider_words(rsps, run, status, body, words):
    add_list(rsps, [], server_id=None, status=status, body=body)

    result = run(vps_snapshot_info, {})

    assert result["rc"] == 1
    assert result["failed"] is True
    assert result["msg"] == "Could not list snapshots: %s (HTTP %s on GET snapshots/)" % (words, status)
    assert result["failure"] == {"status": status, "message": words, "method": "GET", "path": "snapshots/"}
    assert "snapshots" not in result
    assert sent(rsps) == [("GET", "/snapshots/")]


def test_html_error_page_surfaces_its_text(rsps, run):
    rsps.add(responses.GET, url("snapshots/"), body="<html><body><h1>403 Forbidden</h1></body></html>", status=403,
             content_type="text/html")

    result = run(vps_snapshot_info, {})

    assert result["failed"] is True
    assert result["msg"] == "Could not list snapshots: 403 Forbidden (HTTP 403 on GET snapshots/)"


@pytest.mark.parametrize("args, message", [
    ({"server_id": 0}, "server_id must be a positive integer, got 0"),
    ({"snapshot_id": -4}, "snapshot_id must be a positive integer, got -4"),
    ({"api_timeout": 0}, "api_timeout must be a positive number of seconds, got 0"),
    ({"api_url": "ftp://x"}, "api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got 'ftp://x'"),
    ({"api_url": "not a url"}, "api_url must be an http:// or https:// URL such as https://admin.vps.org/api/v1, got 'not a url'"),
])
def test_bad_input_fails_before_any_request(rsps, run, args, message):
    result = run(vps_snapshot_info, args)

    assert result["failed"] is True
    assert result["msg"] == message
    assert sent(rsps) == []


def test_token_is_masked_in_invocation(rsps, run):
    add_list(rsps, [], server_id=None)

    result = run(vps_snapshot_info, {})

    assert result["invocation"]["module_args"]["api_token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_requests_missing_gives_the_standard_message(rsps, run, monkeypatch):
    monkeypatch.setattr(edge, "HAS_REQUESTS", False)

    result = run(vps_snapshot_info, {})

    assert result["failed"] is True
    assert result["msg"] == missing_required_lib("requests")
    assert sent(rsps) == []


@pytest.mark.parametrize("results, message", [
    (["not-an-object", 3], "Could not list snapshots: the API's list holds 2 entries that are not objects, such as 'not-an-object'"),
    ([{"id": 1, "name": "x", "server": "web-01"}], "The API answered with data this module cannot read (AttributeError: "),
])
def test_entries_unlike_the_contract_fail_clearly(rsps, run, results, message):
    rsps.add(responses.GET, url("snapshots/"), json={"count": len(results), "next": None, "previous": None, "results": results})

    result = run(vps_snapshot_info, {"name": "x"})

    assert result["failed"] is True
    assert result["msg"].startswith(message)
    assert "Traceback" not in result["msg"]
