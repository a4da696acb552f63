# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every module's options with wrong types and values: a clear message naming the option, and no request.

One row per check, not per value: a wrong type is AnsibleModule's (one row per kind), each range or pattern check
of the collection has a row for every option it covers, and each module's required/exclusive rules have theirs.

No checkpoint between rows: each row's api_url points to a recording server under a path of its own
(http://127.0.0.1:PORT/<row id>/api/v1), so a row that sends anything is caught by name. The rows run in a few
playbooks at once, in the background while the suite's other tests run (see conftest.py).
"""

from __future__ import annotations

import re

import pytest

from ansible_collections.vps.cloud.tests.faults.fault_harness import (
    BACKGROUND,
    TALLY,
    TOKEN,
    Recorder,
    has_traceback,
    run_counted,
    tag_of,
)

pytestmark = pytest.mark.timeout(600)

SNAP = "vps.cloud.vps_snapshot"
INFO = "vps.cloud.vps_snapshot_info"
BATCH = "vps.cloud.vps_snapshot_batch"
PRUNE = "vps.cloud.vps_snapshot_prune"
SERVER = "vps.cloud.vps_server_info"
PRESENT = {"server_id": 101, "name": "ok"}
RESTORE = {"state": "restored", "snapshot_id": 5}
SERVERS = {"servers": [101], "name": "ok"}

# (row id, module, options, text the message must contain: it names the option, known bug or None)
ROWS = [
    # vps_snapshot: ids, names and waits
    ("server_id-zero", SNAP, {"server_id": 0, "name": "ok"}, "server_id must be a positive integer, got 0", None),
    ("server_id-string", SNAP, {"server_id": "abc", "name": "ok"}, "server_id", None),
    ("server_id-bool", SNAP, {"server_id": True, "name": "ok"}, "server_id must be a positive integer", None),
    ("snapshot_id-zero", SNAP, {"state": "absent", "snapshot_id": 0}, "snapshot_id must be a positive integer, got 0", None),
    ("snapshot_id-negative", SNAP, {"state": "restored", "snapshot_id": -7}, "snapshot_id must be a positive integer", None),
    ("name-space", SNAP, {"server_id": 101, "name": "has space"}, "name may contain only ASCII letters", None),
    ("name-non-ascii", SNAP, {"server_id": 101, "name": "sn\u00e4pshot-\u65e5\u672c"}, "name may contain only", None),
    ("name-empty", SNAP, {"server_id": 101, "name": ""}, "name", None),
    ("name-300-chars", SNAP, {"server_id": 101, "name": "n" * 300}, "name is 300 characters long", None),
    ("name-absent-space", SNAP, {"state": "absent", "server_id": 101, "name": "a b"}, "name may contain only", None),
    ("wait_timeout-zero", SNAP, dict(PRESENT, wait_timeout=0), "wait_timeout must be a positive integer", None),
    ("wait-string", SNAP, dict(PRESENT, wait="maybe"), "wait", None),
    # vps_snapshot: retention and selection
    ("retention-zero", SNAP, dict(PRESENT, retention=0), "retention must be between 1 and 5", None),
    ("retention-with-absent", SNAP, {"state": "absent", "snapshot_id": 5, "retention": 2}, "retention is only used with state=present", None),
    ("retention_match-empty", SNAP, dict(PRESENT, retention=2, retention_match=""), "retention_match must be a non-empty", None),
    # vps_snapshot: which options go with which state
    ("state-unknown", SNAP, dict(PRESENT, state="bogus"), "state", None),
    ("present-without-name", SNAP, {"server_id": 101}, "state is present but all of the following are missing: name", None),
    ("present-without-server_id", SNAP, {"name": "ok"}, "server_id", None),
    ("present-with-snapshot_id", SNAP, dict(PRESENT, snapshot_id=5), "mutually exclusive: snapshot_id|name|name_match", None),
    ("absent-snapshot_id-and-name", SNAP, {"state": "absent", "snapshot_id": 5, "name": "ok"}, "mutually exclusive: snapshot_id|name|name_match", None),
    ("absent-nothing", SNAP, {"state": "absent"}, "state is absent but any of the following are missing: snapshot_id, name", None),
    ("absent-name-without-server_id", SNAP, {"state": "absent", "name": "ok"}, "required by 'name': server_id", None),
    ("restored-nothing", SNAP, {"state": "restored"}, "snapshot_id, name, name_match", None),
    ("name_match-empty", SNAP, {"state": "restored", "server_id": 101, "name_match": ""}, "name_match must be a non-empty", None),
    ("name_match-without-server_id", SNAP, {"state": "restored", "name_match": "x-*"}, "required by 'name_match': server_id", None),
    ("safety_snapshot-with-present", SNAP, dict(PRESENT, safety_snapshot={"name": "s"}), "safety_snapshot is only used with state=restored", None),
    ("safety_snapshot-without-name", SNAP, dict(RESTORE, safety_snapshot={"description": "x"}), "name", None),
    ("safety_snapshot-bad-name", SNAP, dict(RESTORE, safety_snapshot={"name": "a b"}), "safety_snapshot.name may contain only", None),
    (
        "safety_snapshot-retention-six",
        SNAP,
        dict(RESTORE, safety_snapshot={"name": "s", "retention": 6}),
        "safety_snapshot.retention must be between 1 and 5",
        None,
    ),
    # vps_snapshot: connection options
    ("api_url-ftp", SNAP, dict(PRESENT, api_url="ftp://x"), "api_url must be an http:// or https:// URL", None),
    ("api_url-empty", SNAP, dict(PRESENT, api_url=""), "api_url must be", None),
    ("api_url-no-host", SNAP, dict(PRESENT, api_url="http://"), "api_url must be", None),
    ("api_timeout-zero", SNAP, dict(PRESENT, api_timeout=0), "api_timeout must be between 1 and 3600 seconds, got 0", None),
    ("api_timeout-huge", SNAP, dict(PRESENT, api_timeout=9999999999), "api_timeout must be between 1 and 3600 seconds", None),
    ("api_retries-too-many", SNAP, dict(PRESENT, api_retries=21), "api_retries must be between 0 and 20", None),
    ("api_token-empty", SNAP, dict(PRESENT, api_token=""), "api_token must be a non-empty string", None),
    ("api_token-space", SNAP, dict(PRESENT, api_token="two words"), "api_token must be", None),
    ("unknown-option", SNAP, dict(PRESENT, colour="red"), "colour", None),
    # vps_snapshot_info
    ("info-server_id-zero", INFO, {"server_id": 0}, "server_id must be a positive integer", None),
    ("info-snapshot_id-zero", INFO, {"snapshot_id": 0}, "snapshot_id must be a positive integer", None),
    ("info-api_url-ftp", INFO, {"api_url": "ftp://x"}, "api_url must be", None),
    ("info-api_token-space", INFO, {"api_token": "two words"}, "api_token must be", None),
    ("info-unknown-option", INFO, {"colour": "red"}, "colour", None),
    # vps_snapshot_batch
    ("batch-nothing", BATCH, {}, "one of the following is required: servers, snapshots, snapshot_ids", None),
    ("batch-servers-string", BATCH, {"servers": "web-1", "name": "ok"}, "servers must be a mapping", None),
    ("batch-servers-bad-id", BATCH, {"servers": {"web-1": "abc"}, "name": "ok"}, "servers[web-1] must be a positive integer", None),
    ("batch-servers-zero", BATCH, {"servers": [0], "name": "ok"}, "servers[0] must be a positive integer", None),
    ("batch-servers-empty", BATCH, {"servers": [], "name": "ok"}, "give at least one server", None),
    ("batch-servers-without-name", BATCH, {"servers": [101]}, "required by 'servers': name", None),
    (
        "batch-servers-and-snapshots",
        BATCH,
        dict(SERVERS, snapshots=[{"server_id": 101, "name": "ok"}]),
        "mutually exclusive: servers|snapshots|snapshot_ids",
        None,
    ),
    ("batch-snapshot_ids-with-present", BATCH, {"snapshot_ids": [5]}, "snapshot_ids is only used with state=absent", None),
    ("batch-snapshot_ids-zero", BATCH, {"state": "absent", "snapshot_ids": [0]}, "snapshot_ids[0] must be a positive integer", None),
    ("batch-snapshots-missing-name", BATCH, {"snapshots": [{"server_id": 101}]}, "snapshots[0] needs name", None),
    ("batch-snapshots-bad-name", BATCH, {"snapshots": [{"server_id": 101, "name": "a b"}]}, "snapshots[0].name may contain only", None),
    (
        "batch-two-names-one-server",
        BATCH,
        {"snapshots": [{"server_id": 101, "name": "a"}, {"server_id": 101, "name": "b"}]},
        "server 101 is given twice with different names",
        None,
    ),
    (
        "batch-absent-entry-incomplete",
        BATCH,
        {"state": "absent", "snapshots": [{"server_id": 101}]},
        "snapshots[0] needs snapshot_id, or server_id and name",
        None,
    ),
    ("batch-name-bad", BATCH, {"servers": [101], "name": "a b"}, "name may contain only", None),
    ("batch-concurrency-zero", BATCH, dict(SERVERS, concurrency=0), "concurrency must be between 1 and 64", None),
    ("batch-requests_per_second-zero", BATCH, dict(SERVERS, requests_per_second=0), "requests_per_second must be a positive", None),
    ("batch-wait_timeout-zero", BATCH, dict(SERVERS, wait_timeout=0), "wait_timeout must be a positive integer", None),
    ("batch-retention-zero", BATCH, dict(SERVERS, retention=0), "retention must be between 1 and 5", None),
    ("batch-retention_match-empty", BATCH, dict(SERVERS, retention=2, retention_match=""), "retention_match must be a non-empty", None),
    # vps_snapshot_prune
    ("prune-no-servers", PRUNE, {"keep": 1}, "servers", None),
    ("prune-neither-keep-nor-age", PRUNE, {"servers": [101]}, "one of the following is required: keep, older_than_days", None),
    ("prune-keep-negative", PRUNE, {"servers": [101], "keep": -1}, "keep must be 0 or more, got -1", None),
    ("prune-older_than_days-negative", PRUNE, {"servers": [101], "older_than_days": -3}, "older_than_days must be 0 or more", None),
    ("prune-match-empty", PRUNE, {"servers": [101], "keep": 1, "match": ""}, "match must be a non-empty", None),
    ("prune-servers-empty", PRUNE, {"servers": [], "keep": 1}, "servers is empty", None),
    ("prune-servers-bad-id", PRUNE, {"servers": {"web": "abc"}, "keep": 1}, "servers[web] must be a positive integer", None),
    # vps_server_info
    ("server-no-server_id", SERVER, {}, "server_id", None),
    ("server-server_id-zero", SERVER, {"server_id": 0}, "server_id must be a positive integer", None),
    ("server-wait_timeout-zero", SERVER, {"server_id": 101, "wait": True, "wait_timeout": 0}, "wait_timeout must be a positive integer", None),
]
# Rows run without any token in the environment.
NO_TOKEN_ROWS = [
    ("no-token-snapshot", SNAP, dict(PRESENT), "api_token", None),
    ("no-token-batch", BATCH, dict(SERVERS), "api_token", None),
]
OPTIONS = frozenset(
    (
        "state",
        "server_id",
        "snapshot_id",
        "name",
        "name_match",
        "description",
        "safety_snapshot",
        "wait",
        "wait_timeout",
        "retention",
        "retention_match",
        "resume_match",
        "protect_last_completed",
        "api_url",
        "api_token",
        "api_timeout",
        "api_retries",
        "validate_certs",
        "ca_path",
        "colour",
        "servers",
        "snapshots",
        "snapshot_ids",
        "concurrency",
        "requests_per_second",
        "keep",
        "older_than_days",
        "match",
    )
)


def subject(text):
    """The option an expected message names (its first word that is an option), for the tally's clarity check."""
    for word in re.split(r"[\s:|,'\"]+", text):
        if word.split("[")[0].split(".")[0] in OPTIONS:
            return word.split("[")[0].split(".")[0]
    return text


# Two playbooks of rows, and the token-less one, run at once (each playbook costs a controller's start-up).
CHUNKS = [(ROWS[index::2], TOKEN) for index in range(2)] + [(NO_TOKEN_ROWS, None)]


def run_rows(rows, token, recorder, tmp_path):
    tasks = [{"name": row_id, module: dict({"api_url": recorder.url(row_id)}, **options)} for row_id, module, options, dummy_text, dummy_bug in rows]
    return run_counted(tmp_path, tasks, token=token)


def judge(rows, run, recorder):
    outcomes = {}
    for index, (row_id, dummy_module, dummy_options, text, bug) in enumerate(rows):
        result = run[index]
        kind = TALLY.task(result, known_bug=bug, subjects=(subject(text),))
        problems = []
        if kind != "clean":
            problems.append("expected a clear failure, got %s: %r" % (kind, result.get("msg")))
        elif text not in result["msg"]:
            problems.append("message %r does not contain %r" % (result["msg"], text))
        if has_traceback(result):
            problems.append("traceback: %s" % result)
        sent = recorder.tagged(row_id)
        if sent:
            problems.append("requests were sent: %s" % sent)
        outcomes[row_id] = problems
    return outcomes


def start_background(tmp_path_factory):
    """Run every chunk's playbook in the background; bad_input() collects them."""
    recorder = Recorder().__enter__()
    jobs = [
        BACKGROUND.submit("bad-input-%d" % index, run_rows, rows, token, recorder, tmp_path_factory.mktemp("bad-input"))
        for index, (rows, token) in enumerate(CHUNKS)
    ]
    return recorder, jobs


@pytest.fixture(scope="session")
def bad_input(tmp_path_factory):
    recorder, jobs = BACKGROUND.started(start_background, tmp_path_factory)
    try:
        outcomes = {}
        for (rows, dummy_token), job in zip(CHUNKS, jobs):
            outcomes.update(judge(rows, job.result(), recorder))
        known = set(row[0] for row in ROWS + NO_TOKEN_ROWS)
        strays = [r for r in recorder.requests if tag_of(r) not in known]
        assert not strays, "requests that no row sent: %s" % strays
    finally:
        recorder.__exit__()
    return outcomes


@pytest.mark.parametrize(
    "row_id", [pytest.param(row[0], id=row[0], marks=[pytest.mark.xfail(strict=True, reason=row[4])] if row[4] else []) for row in ROWS + NO_TOKEN_ROWS]
)
def test_bad_input_is_refused_before_any_request(bad_input, row_id):
    assert not bad_input[row_id], "; ".join(bad_input[row_id])
