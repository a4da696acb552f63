# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The checks of what a task was given (module_utils/options.py): every problem names its option, and a batch's entries
become requests."""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.plugins.module_utils.options import batch_requests, option_problems, parse_servers, snapshot_problems

SHARED = dict(api_url="https://api.vps.test/api/v1", api_token="tok", api_timeout=30, api_retries=5, validate_certs=True, ca_path=None)


@pytest.mark.parametrize(
    "given, kinds, problems",
    [
        (dict(server_id=1, wait_timeout=1), dict(positive=("server_id", "wait_timeout")), []),
        (
            dict(server_id=0, wait_timeout=True),
            dict(positive=("server_id", "wait_timeout", "absent")),
            ["server_id must be a positive integer, got 0", "wait_timeout must be a positive integer, got True"],
        ),
        (dict(keep=0, days=-1), dict(at_least_zero=("keep", "days")), ["days must be 0 or more, got -1"]),
        (dict(keep=False), dict(at_least_zero=("keep",)), ["keep must be 0 or more, got False"]),
        (dict(name="a b", other=None), dict(names=("name", "other")), ["name may contain only ASCII letters, digits, hyphens and underscores, got 'a b'"]),
        (dict(name="ok_1-2"), dict(names=("name",)), []),
        (
            dict(match="", other=None, good="d-*"),
            dict(patterns=("match", "other", "good")),
            ["match must be a non-empty shell-style pattern such as 'daily-*'"],
        ),
        (dict(concurrency=1, requests_per_second=None), {}, []),
        (dict(concurrency=64, requests_per_second=0.1), {}, []),
        (
            dict(concurrency=65, requests_per_second=-1.0),
            {},
            ["concurrency must be between 1 and 64, got 65", "requests_per_second must be a positive number, got -1.0"],
        ),
        (
            dict(api_timeout=0, concurrency=0, server_id=0),
            dict(positive=("server_id",)),
            [
                "api_timeout must be between 1 and 3600 seconds, got 0",
                "server_id must be a positive integer, got 0",
                "concurrency must be between 1 and 64, got 0",
            ],
        ),
    ],
)
def test_option_problems_name_each_option(given, kinds, problems):
    assert option_problems(dict(SHARED, **given), **kinds) == problems


@pytest.mark.parametrize(
    "servers, parsed",
    [
        ({"b": 2, 10: "3", "a": 1}, [("10", 3), ("a", 1), ("b", 2)]),
        ([5, "6", " 7 "], [(None, 5), (None, 6), (None, 7)]),
        ([1], [(None, 1)]),
        ({}, []),
    ],
)
def test_servers_are_host_labels_in_order_with_integer_ids(servers, parsed):
    assert parse_servers(servers) == (parsed, [])


@pytest.mark.parametrize(
    "servers, problems",
    [
        (
            [0, 1.5, "x", False, None],
            [
                "servers[0] must be a positive integer server id, got 0",
                "servers[1] must be a positive integer server id, got 1.5",
                "servers[2] must be a positive integer server id, got 'x'",
                "servers[3] must be a positive integer server id, got False",
                "servers[4] must be a positive integer server id, got None",
            ],
        ),
        ({"h": -1}, ["servers[h] must be a positive integer server id, got -1"]),
        (12, ["servers must be a mapping of host to server id, or a list of server ids, got int"]),
    ],
)
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


@pytest.mark.parametrize(
    "state, entry, problems",
    [
        ("present", {}, ["snapshots[0] needs server_id and name with state=present"]),
        ("present", {"server_id": 1, "name": "n", "host": "h", "description": "d"}, []),
        ("absent", {"snapshot_id": 1}, []),
        ("absent", {"server_id": 1, "name": "n"}, []),
        ("absent", {"name": "n"}, ["snapshots[0] needs snapshot_id, or server_id and name, with state=absent"]),
        ("absent", {"server_id": True, "snapshot_id": 1}, ["snapshots[0].server_id must be a positive integer, got True"]),
    ],
)
def test_snapshot_entries(state, entry, problems):
    requests, found = batch_requests(params(state=state, snapshots=[entry]))

    assert found == problems
    assert [(r.host, r.server_id, r.name, r.description, r.snapshot_id) for r in requests] == [
        (entry.get("host"), entry.get("server_id"), entry.get("name"), entry.get("description"), entry.get("snapshot_id"))
    ]


def test_one_server_given_twice_with_one_name_is_one_snapshot():
    requests, problems = batch_requests(params(snapshots=[{"server_id": 1, "name": "n"}, {"server_id": 1, "name": "n"}]))

    assert problems == []
    assert len(requests) == 2


SNAPSHOT_TASK = dict(
    SHARED,
    state="restored",
    server_id=101,
    name=None,
    snapshot_id=None,
    name_match=None,
    prefer_quiesced=False,
    description=None,
    wait_timeout=1800,
    retention=None,
    retention_match="*",
    resume_match=None,
    safety_snapshot=None,
)


def test_prefer_quiesced_without_name_match_is_refused_by_name():
    assert snapshot_problems(dict(SNAPSHOT_TASK, snapshot_id=801, prefer_quiesced=True)) == ["prefer_quiesced is only used with name_match"]
    assert snapshot_problems(dict(SNAPSHOT_TASK, name_match="pre-*", prefer_quiesced=True)) == []


def test_a_deletion_batch_given_a_description_is_told_once_that_deletions_have_no_use_for_it():
    """state=absent refuses a description as a present-only option; it does not also say it belongs with servers."""
    dummy, problems = batch_requests(params(state="absent", snapshots=[{"snapshot_id": 801}], description="why"))
    assert problems == ["description is only used with state=present"]
    dummy, problems = batch_requests(params(state="present", snapshots=[{"server_id": 1, "name": "n"}], description="why"))
    assert problems == ["description is only used with servers; each entry of snapshots gives its own"]
