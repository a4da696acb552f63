# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test-only callback for the harness's Runner (tests/playbooks, and tests/e2e's documented examples): every task
result and the recap, one JSON line each.

Not shipped. Enabled by tests/harness/playbook.py (Runner) next to the default stdout callback (what a user sees
is still the default output), it writes to the file named by PB_EVENTS_FILE so that the tests can tell which
host said what without parsing the screen layout of a given ansible-core version.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: pb_events
type: notification
short_description: Record task results as JSON lines (tests only)
description:
  - Not shipped; used by tests/playbooks only.
"""

CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"


def _result_of(result):
    """The result dict, whichever ansible-core gives the callback (2.19+ CallbackTaskResult.result, else _result)."""
    value = getattr(result, "result", None)
    if isinstance(value, dict):
        return value
    return getattr(result, "_result", {}) or {}


def _task_of(result):
    task = getattr(result, "task", None)
    return task if task is not None else result._task


def _host_of(result):
    host = getattr(result, "host", None)
    return host if host is not None else result._host


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "pb_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._path = os.environ.get("PB_EVENTS_FILE")

    def _write(self, record):
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str, sort_keys=True) + "\n")

    def _event(self, status, result):
        data = _result_of(result)
        if data.get("_ansible_no_log"):
            data = {"censored": CENSORED, "failed": data.get("failed"), "changed": data.get("changed")}
        task = _task_of(result)
        self._write(
            {
                "event": status,
                "host": _host_of(result).get_name(),
                "task": task.get_name(),
                "action": task.action,
                "result": dict((k, v) for k, v in data.items() if not str(k).startswith("_ansible")),
            }
        )

    def v2_runner_on_ok(self, result):
        self._event("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._event("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_skipped(self, result):
        self._event("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._event("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        recap = {}
        for host in sorted(stats.processed.keys()):
            recap[host] = stats.summarize(host)
        self._write({"event": "stats", "recap": recap})
