# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Benchmark-only callback: wall-clock times of every task and every host's result, written as JSON.

Not part of the collection's plugins: tools/benchmark/bench.py enables it through the test harness's
Runner (tests/harness/playbook.py, its ``callbacks`` option), which runs every playbook from a folder of
its own; the output is bench_timer.json in that working directory, or the file BENCH_TIMER_OUT names.
Times are time.time() in the controller process, so they compare directly with the simulator's
request log (same clock, same machine). Each result is kept as a short summary (changed, failed, the
snapshot's id, name and status, a batch's per-host entries and its request counts), which the fleet
benchmark compares between the per-host and the batch path.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Record task and per-host result times for the vps.cloud benchmark
description:
  - Writes the start time of every task and the start and end time of every host's run of it to the file named by E(BENCH_TIMER_OUT)
    (default C(bench_timer.json) in the working directory), with a summary of each result (changed, failed, the snapshot, a
    batch's per-host entries and request counts).
"""


def _snapshot(snapshot):
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    return dict(id=snapshot.get("id"), name=snapshot.get("name"), status=snapshot.get("status"))


def summary(result):
    """What the benchmark compares of a result: changed, the snapshot, a batch's per-host entries and request counts."""
    out = dict(changed=bool(result.get("changed")), failed=bool(result.get("failed")), msg=str(result.get("msg") or "")[:300])
    if "snapshot" in result:
        out["snapshot"] = _snapshot(result["snapshot"])
    if isinstance(result.get("requests"), dict):
        out["requests"] = result["requests"]
    if isinstance(result.get("results"), list):
        out["results"] = [
            dict(
                host=r.get("host"),
                server_id=r.get("server_id"),
                changed=bool(r.get("changed")),
                failed=bool(r.get("failed")),
                snapshot=_snapshot(r.get("snapshot")),
            )
            for r in result["results"]
            if isinstance(r, dict)
        ]
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._tasks = []
        self._by_uuid = {}
        self._out = os.environ.get("BENCH_TIMER_OUT") or "bench_timer.json"

    def _task(self, task):
        entry = self._by_uuid.get(task._uuid)  # pylint: disable=protected-access
        if entry is None:
            entry = dict(name=task.get_name(), start=time.time(), hosts={})
            self._by_uuid[task._uuid] = entry  # pylint: disable=protected-access
            self._tasks.append(entry)
        return entry

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_runner_on_start(self, host, task):
        self._task(task)["hosts"].setdefault(host.get_name(), {})["start"] = time.time()

    def _done(self, result, outcome):
        now = time.time()
        record = self._task(result._task)["hosts"].setdefault(result._host.get_name(), {})  # pylint: disable=protected-access
        record["end"] = now
        record["outcome"] = outcome
        record["result"] = summary(result._result)  # pylint: disable=protected-access

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        with open(self._out, "w", encoding="utf-8") as handle:
            json.dump(dict(tasks=self._tasks), handle)
