# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real ansible-playbook runs against the embedded simulator, shared by tests/e2e, tests/faults and tests/runner.

Imported as the plain module `playbook_harness` (each suite's conftest puts tests/ on sys.path). The tests run
from the collection laid out under ansible_collections/vps/cloud (scripts/test.sh does it). Every run is
checked for the API token in everything it printed or wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

COLLECTION_ROOT = Path(__file__).resolve().parents[1]
TOOLS = str(COLLECTION_ROOT / "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

from vps_simulator import Simulator  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import


def collections_path():
    """The folder holding ansible_collections, for ANSIBLE_COLLECTIONS_PATH."""
    if COLLECTION_ROOT.parts[-3:] != ("ansible_collections", "vps", "cloud"):
        raise RuntimeError("run the tests from the laid-out collection (scripts/test.sh), not from %s" % COLLECTION_ROOT)
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


def run_playbook(tmp_path, tasks, token, api_url=None, hosts=None, forks=5, check=False, diff=False, verbosity=0,
                 env=None, drop_env=(), scan_files=True, timeout=420, lookup_dir=None, on_finish=None):
    """Run `tasks` on `hosts` (default localhost), each registered and allowed to fail; return a PlaybookRun.

    `token` goes to VPS_API_TOKEN (None: unset). `on_finish(run, leaked)` sees the run before the checks:
    the token appears nowhere the run printed or wrote (stdout, stderr, results, ansible log, any file left
    in the run's directory), and every host finished the playbook.
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
    play = [{"name": "test play", "hosts": "all", "gather_facts": False, "tasks": registered}]
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
                       ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
                       ANSIBLE_LOCAL_TEMP=str(ansible_tmp / "local"), ANSIBLE_REMOTE_TEMP=str(ansible_tmp / "remote"),
                       ANSIBLE_LOG_PATH=str(run_dir / "ansible.log"), ANSIBLE_HOST_KEY_CHECKING="0")
    if lookup_dir:
        environment["ANSIBLE_LOOKUP_PLUGINS"] = lookup_dir
    environment.pop("VPS_API_TOKEN", None)
    if token is not None:
        environment["VPS_API_TOKEN"] = token
    environment.update(env or {})
    for name in drop_env:
        environment.pop(name, None)
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, check=False)
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
    leaked = bool(token) and token in run.stdout + run.stderr + "".join(written.values())
    if on_finish:
        on_finish(run, leaked)
    assert not leaked, "the API token leaked into the run's output or files"
    assert len(by_host) == len(hosts), "the playbook did not finish: %s\n%s" % (run.stdout[-3000:], run.stderr[-3000:])
    return run


def api_calls(entries, method=None):
    """API requests in a simulator's request log (control calls are never logged), optionally of one method."""
    return [entry for entry in entries if entry["path"].startswith("/api/") and (method is None or entry["method"] == method)]
