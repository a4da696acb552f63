# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""batch.py: the batch modules' options turned into requests, and the engines' entries into one result."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.batch import batch_absent, batch_requests, parse_servers, present_options
from ansible_collections.vps.cloud.plugins.module_utils.service import TaskFailed
from ansible_collections.vps.cloud.tests.unit.helpers import LIST_ALL, add_list, build_service, sent


@pytest.mark.parametrize("servers, parsed", [
    ({"b": 2, 10: "3", "a": 1}, [("10", 3), ("a", 1), ("b", 2)]),
    ([5, "6", " 7 "], [(None, 5), (None, 6), (None, 7)]),
    ([1], [(None, 1)]),
    ({}, []),
])
def test_servers_are_host_labels_in_order_with_integer_ids(servers, parsed):
    assert parse_servers(servers) == (parsed, [])


@pytest.mark.parametrize("servers, problems", [
    ([0, 1.5, "x", False, None], ["servers[0] must be a positive integer server id, got 0",
                                  "servers[1] must be a positive integer server id, got 1.5",
                                  "servers[2] must be a positive integer server id, got 'x'",
                                  "servers[3] must be a positive integer server id, got False",
                                  "servers[4] must be a positive integer server id, got None"]),
    ({"h": -1}, ["servers[h] must be a positive integer server id, got -1"]),
    (12, ["servers must be a mapping of host to server id, or a list of server ids, got int"]),
])
def test_servers_that_are_not_ids_are_named(servers, problems):
    assert parse_servers(servers) == ([], problems)


def params(**given):
    base = dict(state="present", servers=None, name=None, description=None, snapshots=None, snapshot_ids=None)
    base.update(given)
    return base


def test_servers_share_the_name_and_the_description():
    requests, problems = batch_requests(params(servers={"h": 1}, name="n", description="d"))

    assert problems == []
    assert [(r.host, r.server_id, r.name, r.description, r.snapshot_id) for r in requests] == [("h", 1, "n", "d", None)]


def test_snapshot_ids_become_requests_by_id():
    requests, problems = batch_requests(params(state="absent", snapshot_ids=[1, 2]))

    assert problems == []
    assert [(r.host, r.server_id, r.snapshot_id) for r in requests] == [(None, None, 1), (None, None, 2)]


@pytest.mark.parametrize("state, entry, problems", [
    ("present", {}, ["snapshots[0] needs server_id and name with state=present"]),
    ("present", {"server_id": 1, "name": "n", "host": "h", "description": "d"}, []),
    ("absent", {"snapshot_id": 1}, []),
    ("absent", {"server_id": 1, "name": "n"}, []),
    ("absent", {"name": "n"}, ["snapshots[0] needs snapshot_id, or server_id and name, with state=absent"]),
    ("absent", {"server_id": True, "snapshot_id": 1},
     ["snapshots[0].server_id must be a positive integer, got True"]),
])
def test_snapshot_entries(state, entry, problems):
    requests, found = batch_requests(params(state=state, snapshots=[entry]))

    assert found == problems
    assert [(r.host, r.server_id, r.name, r.description, r.snapshot_id) for r in requests] == [
        (entry.get("host"), entry.get("server_id"), entry.get("name"), entry.get("description"), entry.get("snapshot_id"))]


def test_one_server_given_twice_with_one_name_is_one_snapshot():
    requests, problems = batch_requests(params(snapshots=[{"server_id": 1, "name": "n"}, {"server_id": 1, "name": "n"}]))

    assert problems == []
    assert len(requests) == 2


@pytest.mark.parametrize("given, expected", [
    (dict(wait=True, wait_timeout=60), (None, "*", None, True, True, 60)),
    (dict(wait=False, wait_timeout=5, retention=2, retention_match=None, resume_match="r-*", protect_last_completed=False),
     (2, "*", "r-*", False, False, 5)),
    (dict(wait=True, wait_timeout=5, retention_match="d-*", protect_last_completed=True), (None, "d-*", None, True, True, 5)),
])
def test_present_options_from_the_module_parameters(given, expected):
    options = present_options(given)

    assert (options.retention, options.retention_match, options.resume_match, options.protect_last_completed, options.wait,
            options.wait_timeout) == expected


def test_a_failed_entry_by_snapshot_id_is_named_by_its_id(rsps, vt):
    service = build_service(vt)
    add_list(rsps, [], server_id=None, status=401, body={"detail": "No."})
    requests, dummy = batch_requests(params(state="absent", snapshot_ids=[801]))

    with pytest.raises(TaskFailed) as caught:
        batch_absent(service, requests, dict(wait=True, wait_timeout=10))

    assert caught.value.result["msg"] == ("Deletions: 1 failed. Failed: snapshot 801: Could not list snapshots: No. (HTTP 401 "
                                          "on GET snapshots/).")
    assert sent(rsps) == [LIST_ALL]
