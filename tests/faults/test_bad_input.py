# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every option of both modules with wrong types and values: a clear message naming the option, and no request.

All rows run in one playbook; a checkpoint between rows (lookup_plugins/sim_control.py) collects each
row's own request log, so a row that sends anything is caught on its own.
"""

from __future__ import annotations

import pytest

from fault_harness import SERVERS, TALLY, TOKEN, Simulator, api_calls, control_task, has_traceback, read_checkpoints, run_playbook

SNAP = "vps.cloud.vps_snapshot"
INFO = "vps.cloud.vps_snapshot_info"
PRESENT = {"server_id": 101, "name": "ok"}

# (row id, module, options, text the message must contain, known bug or None)
ROWS = [
    ("server_id-zero", SNAP, {"server_id": 0, "name": "ok"}, "server_id", None),
    ("server_id-negative", SNAP, {"server_id": -1, "name": "ok"}, "server_id", None),
    ("server_id-string", SNAP, {"server_id": "abc", "name": "ok"}, "server_id", None),
    ("server_id-float", SNAP, {"server_id": 1.5, "name": "ok"}, "server_id", None),
    ("server_id-bool", SNAP, {"server_id": True, "name": "ok"}, "server_id", None),
    ("snapshot_id-zero", SNAP, {"state": "absent", "snapshot_id": 0}, "snapshot_id", None),
    ("snapshot_id-negative", SNAP, {"state": "restored", "snapshot_id": -7}, "snapshot_id", None),
    ("snapshot_id-string", SNAP, {"state": "absent", "snapshot_id": "x"}, "snapshot_id", None),
    ("name-space", SNAP, {"server_id": 101, "name": "has space"}, "name", None),
    ("name-non-ascii", SNAP, {"server_id": 101, "name": "sn\u00e4pshot-\u65e5\u672c"}, "name", None),
    ("name-empty", SNAP, {"server_id": 101, "name": ""}, "name", None),
    ("name-300-chars", SNAP, {"server_id": 101, "name": "n" * 300}, "name", None),
    ("name-slash", SNAP, {"server_id": 101, "name": "../etc"}, "name", None),
    ("name-newline", SNAP, {"server_id": 101, "name": "two\nlines"}, "name", None),
    ("name-absent-space", SNAP, {"state": "absent", "server_id": 101, "name": "a b"}, "name", None),
    ("wait_timeout-zero", SNAP, dict(PRESENT, wait_timeout=0), "wait_timeout", None),
    ("wait_timeout-negative", SNAP, dict(PRESENT, wait_timeout=-5), "wait_timeout", None),
    ("wait_timeout-string", SNAP, dict(PRESENT, wait_timeout="soon"), "wait_timeout", None),
    ("wait-string", SNAP, dict(PRESENT, wait="maybe"), "wait", None),
    ("retention-zero", SNAP, dict(PRESENT, retention=0), "retention", None),
    ("retention-six", SNAP, dict(PRESENT, retention=6), "retention", None),
    ("retention-negative", SNAP, dict(PRESENT, retention=-1), "retention", None),
    ("retention-string", SNAP, dict(PRESENT, retention="many"), "retention", None),
    ("retention-with-absent", SNAP, {"state": "absent", "snapshot_id": 5, "retention": 2}, "retention", None),
    ("retention_match-empty", SNAP, dict(PRESENT, retention=2, retention_match=""), "retention_match", None),
    ("state-unknown", SNAP, dict(PRESENT, state="bogus"), "state", None),
    ("present-without-name", SNAP, {"server_id": 101}, "name", None),
    ("present-without-server_id", SNAP, {"name": "ok"}, "server_id", None),
    ("present-with-snapshot_id", SNAP, dict(PRESENT, snapshot_id=5), "snapshot_id", None),
    ("absent-snapshot_id-and-name", SNAP, {"state": "absent", "snapshot_id": 5, "name": "ok"}, "snapshot_id", None),
    ("absent-nothing", SNAP, {"state": "absent"}, "snapshot_id", None),
    ("absent-name-without-server_id", SNAP, {"state": "absent", "name": "ok"}, "server_id", None),
    ("restored-nothing", SNAP, {"state": "restored"}, "snapshot_id", None),
    ("restored-server_id-only", SNAP, {"state": "restored", "server_id": 101}, "snapshot_id", None),
    ("api_url-ftp", SNAP, dict(PRESENT, api_url="ftp://x"), "api_url", None),
    ("api_url-not-a-url", SNAP, dict(PRESENT, api_url="not a url"), "api_url", None),
    ("api_url-empty", SNAP, dict(PRESENT, api_url=""), "api_url", None),
    ("api_url-no-host", SNAP, dict(PRESENT, api_url="http://"), "api_url", None),
    ("api_url-space", SNAP, dict(PRESENT, api_url="http://127.0.0.1:9/api v1"), "api_url", None),
    ("api_timeout-zero", SNAP, dict(PRESENT, api_timeout=0), "api_timeout", None),
    ("api_timeout-negative", SNAP, dict(PRESENT, api_timeout=-3), "api_timeout", None),
    ("api_timeout-string", SNAP, dict(PRESENT, api_timeout="slow"), "api_timeout", None),
    ("api_retries-negative", SNAP, dict(PRESENT, api_retries=-1), "api_retries", None),
    ("api_retries-too-many", SNAP, dict(PRESENT, api_retries=21), "api_retries", None),
    ("validate_certs-string", SNAP, dict(PRESENT, validate_certs="maybe"), "validate_certs", None),
    ("api_token-empty", SNAP, dict(PRESENT, api_token=""), "api_token", None),
    ("api_token-space", SNAP, dict(PRESENT, api_token="two words"), "api_token", None),
    ("unknown-option", SNAP, dict(PRESENT, colour="red"), "colour", None),
    ("info-server_id-zero", INFO, {"server_id": 0}, "server_id", None),
    ("info-server_id-negative", INFO, {"server_id": -2}, "server_id", None),
    ("info-server_id-string", INFO, {"server_id": "abc"}, "server_id", None),
    ("info-server_id-bool", INFO, {"server_id": True}, "server_id", None),
    ("info-snapshot_id-zero", INFO, {"snapshot_id": 0}, "snapshot_id", None),
    ("info-snapshot_id-negative", INFO, {"snapshot_id": -1}, "snapshot_id", None),
    ("info-snapshot_id-string", INFO, {"snapshot_id": "x"}, "snapshot_id", None),
    ("info-api_url-ftp", INFO, {"api_url": "ftp://x"}, "api_url", None),
    ("info-api_url-not-a-url", INFO, {"api_url": "not a url"}, "api_url", None),
    ("info-api_url-empty", INFO, {"api_url": ""}, "api_url", None),
    ("info-api_timeout-zero", INFO, {"api_timeout": 0}, "api_timeout", None),
    ("info-api_retries-negative", INFO, {"api_retries": -1}, "api_retries", None),
    ("info-validate_certs-string", INFO, {"validate_certs": "maybe"}, "validate_certs", None),
    ("info-api_token-space", INFO, {"api_token": "two words"}, "api_token", None),
    ("info-unknown-option", INFO, {"colour": "red"}, "colour", None),
]
# Rows run without any token in the environment.
NO_TOKEN_ROWS = [
    ("no-token-snapshot", SNAP, dict(PRESENT), "api_token", None),
    ("no-token-info", INFO, {}, "api_token", None),
]


def run_rows(rows, tmp_path, token):
    with Simulator(tokens=[TOKEN], servers=SERVERS) as sim:
        record = tmp_path / "checkpoints.jsonl"
        tasks = []
        for row_id, module, options, dummy_text, dummy_bug in rows:
            tasks.append(control_task(sim, record, row_id))
            tasks.append({"name": row_id, module: options})
        tasks.append(control_task(sim, record, "end"))
        run = run_playbook(tmp_path, tasks, api_url=sim.base_url, token=token)
    checkpoints = read_checkpoints(record)
    assert len(checkpoints) == len(rows) + 1
    outcomes = {}
    for index, (row_id, module, options, text, bug) in enumerate(rows):
        result = run[2 * index + 1]
        kind = TALLY.task(result, known_bug=bug, subjects=(text,))
        sent = api_calls(checkpoints[index + 1]["log"])
        problems = []
        if kind != "clean":
            problems.append("expected a clear failure, got %s: %r" % (kind, result.get("msg")))
        elif text not in result["msg"]:
            problems.append("message %r does not name %r" % (result["msg"], text))
        if has_traceback(result):
            problems.append("traceback: %s" % result)
        if sent:
            problems.append("requests were sent: %s" % [(c["method"], c["path"], c["query"]) for c in sent])
        outcomes[row_id] = problems
    return outcomes


@pytest.fixture(scope="session")
def bad_input(tmp_path_factory):
    outcomes = {}
    outcomes.update(run_rows(ROWS, tmp_path_factory.mktemp("bad-input"), TOKEN))
    outcomes.update(run_rows(NO_TOKEN_ROWS, tmp_path_factory.mktemp("bad-input-no-token"), None))
    return outcomes


@pytest.mark.parametrize("row_id", [pytest.param(row[0], id=row[0], marks=[pytest.mark.xfail(strict=True, reason=row[4])] if row[4] else [])
                                    for row in ROWS + NO_TOKEN_ROWS])
def test_bad_input_is_refused_before_any_request(bad_input, row_id):
    assert not bad_input[row_id], "; ".join(bad_input[row_id])
