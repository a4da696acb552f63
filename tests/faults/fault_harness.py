# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared helpers of the fault suite: real ansible-playbook runs against the simulator, and the suite's tally.

Imported as the plain module `fault_harness` (tests/faults and tests/ are on sys.path, see conftest.py),
never through `conftest`, so that tests/e2e and tests/faults collect together. The playbook runner itself
is tests/playbook_harness.py, shared with tests/e2e and tests/runner.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from playbook_harness import Simulator, api_calls, collections_path  # noqa: F401  pylint: disable=unused-import
from playbook_harness import run_playbook as run_any_playbook

HERE = Path(__file__).resolve().parent
# Distinctive, so that a leak anywhere is found by a plain substring search.
TOKEN = "flt-Tok-9Xw4-Qz7K-SECRET-never-print"
SERVERS = [{"id": 101, "name": "web-01", "status": "running"},
           {"id": 102, "name": "web-02", "status": "running"},
           {"id": 103, "name": "db-01", "status": "running"}]
# One server per fault-matrix case, so that cases cannot disturb one another.
MATRIX_SERVERS = [{"id": 200 + n, "name": "mx-%02d" % n, "status": "running"} for n in range(1, 41)]
LOOKUP_DIR = str(HERE / "lookup_plugins")
# A failure message is clear when it names the problem without Python internals.
UNCLEAR_MARKERS = ("Traceback", "<urllib3", "object at 0x", "HTTPConnectionPool(", "HTTPSConnectionPool(", "Max retries exceeded",
                   "NewConnectionError(", "SSLError(", "Module failed:")
OPERATION_WORDS = ("snapshot", "restore", "delete", "creat", "list", "server", "timed out", "connection", "certificate", "tls")


class Tally:
    """Session-wide counts printed at the end of the run (conftest.pytest_terminal_summary)."""

    FIELDS = ("playbook runs", "module tasks", "successes", "clean failures", "unclear failures",
              "duplicates", "unexpected deletions", "tracebacks", "token leaks")
    MUST_BE_ZERO = ("unclear failures", "duplicates", "unexpected deletions", "tracebacks", "token leaks")

    def __init__(self):
        self.counts = {field: 0 for field in self.FIELDS}
        # The same problems, seen in cases marked xfail for a known bug: reported, not failing the session.
        self.known = {field: 0 for field in self.MUST_BE_ZERO}
        self.known_cases = []

    def add(self, field, count=1, known_bug=None):
        if known_bug and field in self.known:
            self.known[field] += count
            if count and known_bug not in self.known_cases:
                self.known_cases.append(known_bug)
        else:
            self.counts[field] += count

    def task(self, result, known_bug=None, subjects=None):
        """Count one module task's registered result; returns 'success', 'clean' or 'unclear'.

        `subjects`: words one of which a clear failure message must contain (default: an HTTP status or the operation).
        """
        self.add("module tasks")
        if has_traceback(result):
            self.add("tracebacks", known_bug=known_bug)
        if not result.get("failed"):
            self.add("successes")
            return "success"
        if is_clear(result.get("msg"), subjects):
            self.add("clean failures")
            return "clean"
        self.add("unclear failures", known_bug=known_bug)
        return "unclear"

    def bad(self):
        return dict((field, self.counts[field]) for field in self.MUST_BE_ZERO if self.counts[field])

    def lines(self):
        lines = ["%-22s %s" % (field, self.counts[field]) for field in self.FIELDS]
        if any(self.known.values()):
            lines.append("in xfail-marked known-bug cases (not counted above): %s"
                         % ", ".join("%s %s" % (k, v) for k, v in self.known.items() if v))
        return lines


TALLY = Tally()


def is_clear(msg, subjects=None):
    """Non-empty, no Python internals, and names the problem: the given subjects (an option's name, say),
    or else an HTTP status or the operation."""
    if not isinstance(msg, str) or not msg.strip():
        return False
    if any(marker in msg for marker in UNCLEAR_MARKERS):
        return False
    if subjects:
        return any(subject in msg for subject in subjects)
    return bool(re.search(r"HTTP [1-5]\d\d", msg)) or any(word in msg.lower() for word in OPERATION_WORDS)


def has_traceback(result):
    # ansible-core 2.19 adds exception="(traceback unavailable)" to fail_json in an except block: not a traceback.
    # "Module failed:" is how it reports an exception the module did not handle (the traceback shows at -vvv).
    text = json.dumps(result)
    return "Traceback" in text or "MODULE FAILURE" in text or "Module failed:" in text


def control_task(sim, record, label, faults=None, settle=0.0):
    """A task that ends the previous case and arms `faults` for the next (lookup_plugins/sim_control.py)."""
    expression = "{{ query('sim_control', root='%s', record='%s', label='%s', faults='%s', settle=%s) }}" % (
        sim.root_url, record, label, json.dumps(faults or {}), float(settle))
    return {"name": "checkpoint %s" % label, "ansible.builtin.set_fact": {"fault_checkpoint": expression}}


def read_checkpoints(record):
    return [json.loads(line) for line in Path(record).read_text(encoding="utf-8").splitlines() if line.strip()]


def run_playbook(tmp_path, tasks, token=TOKEN, **options):
    """playbook_harness.run_playbook with this suite's lookup plugin, counting runs and token leaks in the tally."""
    def count(unused_run, leaked):
        TALLY.add("playbook runs")
        if leaked:
            TALLY.add("token leaks")
    return run_any_playbook(tmp_path, tasks, token, lookup_dir=LOOKUP_DIR, on_finish=count, **options)
