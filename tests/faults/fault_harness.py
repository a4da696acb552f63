# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared helpers of the fault suite: real ansible-playbook runs against the simulator, and the suite's tally.

Imported as the plain module `fault_harness` (tests/faults is on sys.path, see conftest.py), never
through `conftest`, so that tests/e2e and tests/faults collect together.
Every run is checked for the token in everything it printed or wrote, and for tracebacks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
COLLECTION_ROOT = HERE.parents[1]
TOOLS = str(COLLECTION_ROOT / "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

from vps_simulator import Simulator  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

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


def collections_path():
    if COLLECTION_ROOT.parts[-3:] != ("ansible_collections", "vps", "cloud"):
        raise RuntimeError("run the fault suite from the laid-out collection (scripts/test.sh faults)")
    return str(COLLECTION_ROOT.parents[2])


class PlaybookRun:
    """What one ansible-playbook run printed, and each host's registered task results."""

    def __init__(self, completed, by_host, files):
        self.rc = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.by_host = by_host
        self.files = files
        self.results = by_host.get("localhost") or (next(iter(by_host.values())) if by_host else None)

    def __getitem__(self, index):
        return self.results[index]


def control_task(sim, record, label, faults=None, settle=0.0):
    """A task that ends the previous case and arms `faults` for the next (lookup_plugins/sim_control.py)."""
    expression = "{{ query('sim_control', root='%s', record='%s', label='%s', faults='%s', settle=%s) }}" % (
        sim.root_url, record, label, json.dumps(faults or {}), float(settle))
    return {"name": "checkpoint %s" % label, "ansible.builtin.set_fact": {"fault_checkpoint": expression}}


def read_checkpoints(record):
    return [json.loads(line) for line in Path(record).read_text(encoding="utf-8").splitlines() if line.strip()]


def run_playbook(tmp_path, tasks, api_url=None, hosts=None, forks=5, check=False, diff=False, verbosity=0,
                 env=None, drop_env=(), token=TOKEN, scan_files=True, timeout=420):
    """Run `tasks` on `hosts` (default localhost), each registered and allowed to fail.

    Asserts that the token appears nowhere the run printed or wrote (stdout, stderr, results, ansible log,
    any file left in the run's directory) and that the playbook finished. Returns a PlaybookRun.
    """
    run_dir = Path(tmp_path) / ("run-%d" % len(list(Path(tmp_path).glob("run-*"))))
    run_dir.mkdir(parents=True)
    hosts = hosts or ["localhost"]
    registered = []
    for index, task in enumerate(tasks):
        task = dict(task)
        task.setdefault("name", "task %d" % index)
        task["register"] = "result_%d" % index
        task["ignore_errors"] = True
        registered.append(task)
    names = ", ".join("result_%d" % i for i in range(len(tasks)))
    registered.append({
        "name": "Save the registered results",
        "ansible.builtin.copy": {"content": "{{ [%s] | to_json }}" % names,
                                 "dest": str(run_dir / "results-{{ inventory_hostname }}.json"), "mode": "0600"},
        "check_mode": False,
        "diff": False,
    })
    play = [{"name": "faults", "hosts": "all", "gather_facts": False, "tasks": registered}]
    if api_url:
        play[0]["module_defaults"] = {"group/vps.cloud.vps": {"api_url": api_url}}
    playbook = run_dir / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    inventory = run_dir / "inventory.ini"
    inventory.write_text("".join("%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable)
                                 for host in hosts))
    command = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook), "--forks", str(forks)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    ansible_tmp = run_dir / "ansible-tmp"
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                       ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_LOOKUP_PLUGINS=LOOKUP_DIR,
                       ANSIBLE_LOCAL_TEMP=str(ansible_tmp / "local"), ANSIBLE_REMOTE_TEMP=str(ansible_tmp / "remote"),
                       ANSIBLE_LOG_PATH=str(run_dir / "ansible.log"), ANSIBLE_HOST_KEY_CHECKING="0")
    environment.pop("VPS_API_TOKEN", None)
    if token is not None:
        environment["VPS_API_TOKEN"] = token
    environment.update(env or {})
    for name in drop_env:
        environment.pop(name, None)
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, check=False)
    TALLY.add("playbook runs")
    by_host = {}
    for host in hosts:
        out_file = run_dir / ("results-%s.json" % host)
        if out_file.exists():
            by_host[host] = json.loads(out_file.read_text())
    written = {}
    if scan_files:
        for path in run_dir.rglob("*"):
            if path.is_file() and path.name not in ("play.yml", "inventory.ini"):
                written[str(path)] = path.read_text(errors="replace")
    run = PlaybookRun(completed, by_host, written)
    everything = run.stdout + run.stderr + "".join(written.values())
    leaked = TOKEN in everything
    if leaked:
        TALLY.add("token leaks")
    assert not leaked, "the API token leaked into the run's output or files"
    assert len(by_host) == len(hosts), "the playbook did not finish: %s\n%s" % (run.stdout[-3000:], run.stderr[-3000:])
    return run


def api_calls(entries, method=None):
    """API requests in a request log (control calls are never logged), optionally of one method."""
    return [entry for entry in entries if entry["path"].startswith("/api/") and (method is None or entry["method"] == method)]
