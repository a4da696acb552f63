# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running ansible-playbook against the simulator, and reading what it did.

Two kinds of runs, both with the ansible-playbook next to the interpreter running the tests (Path(sys.executable).parent),
so that the same suite runs on every ansible-core venv, and both from the collection laid out under
ansible_collections/vps/cloud (scripts/test.sh does it):

- ``run_playbook``: a list of tasks on local hosts, each registered and allowed to fail, the results read back per host
  (``PlaybookRun``): the module tests of tests/e2e and tests/faults;
- ``Runner``: a playbook as a user types it (the collection's vps.cloud.pre_upgrade, prune, report, or a user playbook
  using the role), the API URL and token as VPS_API_URL / VPS_API_TOKEN, extra vars as ``-e`` strings, the default
  stdout callback (what a user sees) plus the test-only callback ``pb_events`` (callback_plugins/: every task result per
  host as JSON lines), any other callback the caller names (the benchmark's ``bench_timer``) and a jsonfile fact cache
  (the facts set with ``cacheable: true``); returns a ``Run``, with the run's wall time and CPU seconds.

Every run is checked for the API token in everything it printed or wrote.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml
from ansible.release import __version__ as ANSIBLE_VERSION

HERE = Path(__file__).resolve().parent
COLLECTION_ROOT = HERE.parents[1]
CALLBACKS = HERE / "callback_plugins"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
CORE = tuple(int(part) for part in ANSIBLE_VERSION.split(".")[:2])
# ansible-core before 2.19 renders a template whose value is None as an empty string (2.19+ keeps None).
CORE_BEFORE_2_19 = CORE < (2, 19)


def collections_path():
    """The folder holding ansible_collections, for ANSIBLE_COLLECTIONS_PATH."""
    if COLLECTION_ROOT.parts[-3:] != ("ansible_collections", "vps", "cloud"):
        raise RuntimeError("run the tests from the laid-out collection (scripts/test.sh), not from %s" % COLLECTION_ROOT)
    return str(COLLECTION_ROOT.parents[2])


# A list of tasks ----------------------------------------------------------------------------------


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


def run_playbook(
    tmp_path,
    tasks,
    token,
    api_url=None,
    hosts=None,
    forks=5,
    check=False,
    diff=False,
    verbosity=0,
    env=None,
    drop_env=(),
    scan_files=True,
    timeout=420,
    lookup_dir=None,
    on_finish=None,
    no_traceback=False,
):
    """Run `tasks` on `hosts` (default localhost), each registered and allowed to fail; return a PlaybookRun.

    `token` goes to VPS_API_TOKEN (None: unset); `api_url` to the modules' defaults. `on_finish(run, leaked)` sees the
    run before the checks: the token appears nowhere the run printed or wrote (stdout, stderr, results, ansible log, any
    file left in the run's directory), every host finished the playbook and, with `no_traceback`, no Python traceback
    shows anywhere.
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
    results = ", ".join("result_%d" % i for i in range(len(tasks)))
    registered.append(
        {
            "name": "Save the registered results",
            "ansible.builtin.copy": {
                "content": "{{ [%s] | to_json }}" % results,
                "dest": str(run_dir / "results-{{ inventory_hostname }}.json"),
                "mode": "0600",
            },
            "check_mode": False,
            "diff": False,
        }
    )
    play = [{"name": "test play", "hosts": "all", "gather_facts": False, "tasks": registered}]
    if api_url:
        play[0]["module_defaults"] = {"group/vps.cloud.vps": {"api_url": api_url}}
    playbook = run_dir / "play.yml"
    playbook.write_text(yaml.safe_dump(play, sort_keys=False))
    inventory = run_dir / "inventory.ini"
    inventory.write_text("".join("%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable) for host in hosts))
    command = [ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook), "--forks", str(forks)]
    if check:
        command.append("--check")
    if diff:
        command.append("--diff")
    if verbosity:
        command.append("-" + "v" * verbosity)
    ansible_tmp = run_dir / "ansible-tmp"
    environment = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=collections_path(),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        ANSIBLE_LOCAL_TEMP=str(ansible_tmp / "local"),
        ANSIBLE_REMOTE_TEMP=str(ansible_tmp / "remote"),
        ANSIBLE_LOG_PATH=str(run_dir / "ansible.log"),
        ANSIBLE_HOST_KEY_CHECKING="0",
    )
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
    if no_traceback:
        everything = run.stdout + run.stderr + "".join(written.values())
        assert "Traceback" not in everything, everything[-3000:]
    return run


# A playbook as a user runs it ---------------------------------------------------------------------


def write_inventory(path, hosts, groups=None):
    """A YAML inventory of local hosts. `hosts`: {name: server id, None (no vps_server_id) or a dict of host vars}."""
    host_entries = {}
    for name, value in hosts.items():
        if isinstance(value, dict):
            host_entries[name] = dict(value)
        elif value is None:
            host_entries[name] = {}
        else:
            host_entries[name] = {"vps_server_id": value}
    children = {}
    for group, members in (groups or {}).items():
        children[group] = {"hosts": dict((member, None) for member in members)}
    inventory = {
        "all": {
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
            "hosts": host_entries,
        }
    }
    if children:
        inventory["all"]["children"] = children
    Path(path).write_text(yaml.safe_dump(inventory, sort_keys=False))
    return str(path)


def cpu_seconds(who):
    """User and system CPU seconds so far of this process (resource.RUSAGE_SELF: with its threads, say an in-process
    simulator) or of its children that ended (resource.RUSAGE_CHILDREN)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Run:
    """What one ansible-playbook run printed and recorded. A run to its end (Runner.run) also has `wall`, its seconds,
    `cpu_tree`, the CPU seconds of ansible-playbook and all it started, and `cpu_self`, those of the test's own process
    meanwhile (None for a run in the background)."""

    wall = cpu_tree = cpu_self = None

    def __init__(self, rc, stdout, stderr, run_dir):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.run_dir = Path(run_dir)
        self.events = []
        events_file = self.run_dir / "events.jsonl"
        if events_file.exists():
            self.events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
        stats = [e for e in self.events if e["event"] == "stats"]
        self.recap = stats[-1]["recap"] if stats else {}

    def __repr__(self):
        return "<Run rc=%s>\n--- stdout (end) ---\n%s\n--- stderr (end) ---\n%s" % (self.rc, self.stdout[-6000:], self.stderr[-3000:])

    def host_events(self, host, event=None):
        return [e for e in self.events if e.get("host") == host and (event is None or e["event"] == event)]

    def messages(self, host):
        """Every msg a task showed for `host` (debug lines, fail and assert messages, module messages), in order."""
        found = []
        for entry in self.host_events(host):
            msg = entry["result"].get("msg")
            if isinstance(msg, list):
                found.extend(str(m) for m in msg)
            elif msg is not None:
                found.append(str(msg))
        return found

    def said(self, host, text):
        """`text` is in a message of `host`'s tasks and on the screen."""
        return any(text in m for m in self.messages(host)) and text in self.stdout

    def failed_hosts(self):
        return sorted(h for h, s in self.recap.items() if s.get("failures") or s.get("unreachable"))

    def ok_hosts(self):
        return sorted(h for h, s in self.recap.items() if not s.get("failures") and not s.get("unreachable"))

    def facts(self, host):
        """The facts set for `host` during the run (set_fact results, in order; the last value wins)."""
        facts = {}
        for entry in self.host_events(host, "ok"):
            facts.update(entry["result"].get("ansible_facts") or {})
        return facts

    def cached_facts(self, host):
        """The host's facts in the run's jsonfile fact cache (what set_fact with cacheable: true stored)."""
        # The cache names the file after the host; 2.19+ adds a short prefix ("s1_") and wraps the data in a payload.
        for path in sorted((self.run_dir / "facts").glob("*")):
            if path.name == host or (path.name.endswith("_" + host) and "_" not in path.name[: -len(host) - 1]):
                data = json.loads(path.read_text())
                if isinstance(data, dict) and "__payload__" in data:
                    data = json.loads(data["__payload__"])
                return _untagged(data)
        return {}

    def task_results(self, task_substring, host=None):
        return [e for e in self.events if "result" in e and task_substring in e["task"] and (host is None or e["host"] == host)]


def _untagged(value):
    """Plain values from ansible-core 2.19+'s serialised tagged values ({"value": ..., "tags": ..., "__ansible_type": ...})."""
    if isinstance(value, dict):
        if "__ansible_type" in value and "value" in value:
            return _untagged(value["value"])
        return dict((k, _untagged(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    return value


class Runner:
    """Runs playbooks against `sim` from a directory of the test; every run gets its own sub-folder, its working directory.
    The token is the simulator's (its first) unless given. `callbacks`: {name: folder} of more callback plugins to enable
    beside pb_events (a callback that writes a file can write it in the working directory: the run's folder)."""

    def __init__(self, sim, base_dir, token=None, callbacks=None):
        self.sim = sim
        self.base_dir = Path(base_dir)
        self.token = token if token is not None else sim.tokens[0]
        self.callbacks = dict(callbacks or {})
        self.count = 0
        self.extra_scan = []

    def prepare(self, playbook, inventory, extra=(), check=False, diff=False, env=None, tags=None, forks=10):
        """The run's own folder, the command and the environment of the next run."""
        run_dir = self.base_dir / ("run-%02d" % self.count)
        self.count += 1
        (run_dir / "facts").mkdir(parents=True)
        command = [ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook), "--forks", str(forks)]
        for item in extra or ():
            command += ["-e", item if isinstance(item, str) else json.dumps(item)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if tags:
            command += ["--tags", tags]
        environment = dict((k, v) for k, v in os.environ.items() if not k.startswith(("VPS_", "ANSIBLE_", "PB_")))
        environment.update(
            ANSIBLE_COLLECTIONS_PATH=collections_path(),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_RETRY_FILES_ENABLED="0",
            ANSIBLE_LOCALHOST_WARNING="0",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
            ANSIBLE_HOST_KEY_CHECKING="0",
            ANSIBLE_TIMEOUT="3",
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
            ANSIBLE_LOCAL_TEMP=str(run_dir / "tmp" / "local"),
            ANSIBLE_REMOTE_TEMP=str(run_dir / "tmp" / "remote"),
            ANSIBLE_LOG_PATH=str(run_dir / "ansible.log"),
            ANSIBLE_CALLBACK_PLUGINS=os.pathsep.join([str(CALLBACKS)] + [str(folder) for folder in self.callbacks.values()]),
            ANSIBLE_CALLBACKS_ENABLED=",".join(["pb_events"] + list(self.callbacks)),
            ANSIBLE_CACHE_PLUGIN="jsonfile",
            ANSIBLE_CACHE_PLUGIN_CONNECTION=str(run_dir / "facts"),
            PB_EVENTS_FILE=str(run_dir / "events.jsonl"),
            VPS_API_URL=self.sim.base_url,
        )
        if self.token is not None:
            environment["VPS_API_TOKEN"] = self.token
        environment.update(env or {})
        return run_dir, command, environment

    def run(self, playbook, inventory, extra=(), check=False, diff=False, env=None, tags=None, timeout=300, forks=10):
        """Run to the end; returns a checked Run (no token anywhere, no traceback), with its wall and CPU times."""
        run_dir, command, environment = self.prepare(playbook, inventory, extra, check, diff, env, tags, forks)
        cpu_tree, cpu_self = cpu_seconds(resource.RUSAGE_CHILDREN), cpu_seconds(resource.RUSAGE_SELF)
        started = time.time()
        completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, check=False, cwd=str(run_dir))
        run = Run(completed.returncode, completed.stdout, completed.stderr, run_dir)
        run.wall = time.time() - started
        run.cpu_tree = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_tree
        run.cpu_self = cpu_seconds(resource.RUSAGE_SELF) - cpu_self
        return self.checked(run)

    def start(self, playbook, inventory, extra=(), check=False, env=None, forks=10):
        """Start a run in the background, in its own process group (as a terminal's foreground job is): a Background."""
        from ansible_collections.vps.cloud.tests.harness.background import Background  # pylint: disable=import-outside-toplevel

        run_dir, command, environment = self.prepare(playbook, inventory, extra, check, False, env, None, forks)
        return Background(self, command, environment, run_dir)

    def checked(self, run):
        """`run`, once no token shows in what it printed or wrote (or in `extra_scan`) and no traceback on the screen."""
        everything = [run.stdout, run.stderr]
        for path in list(run.run_dir.rglob("*")) + [Path(p) for p in self.extra_scan]:
            if path.is_file():
                everything.append(path.read_text(errors="replace"))
        text = "".join(everything)
        assert self.token is None or self.token not in text, "the API token leaked into the run's output or files"
        assert "Traceback (most recent call last)" not in run.stdout + run.stderr, repr(run)
        return run
