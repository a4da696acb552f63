# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real ansible-playbook runs of the collection's playbooks (vps.cloud.pre_upgrade, prune, report) and of user
playbooks that use the vps.cloud.snapshot_guard role, against the embedded simulator.

Imported as the plain module `pb_helpers` (conftest.py puts tests/playbooks and tests/ on sys.path). The runs use
the ansible-playbook next to the interpreter running the tests (Path(sys.executable).parent), so the same suite
runs on every ansible-core venv. Each run:

- gets the API URL and token the way a user gives them (VPS_API_URL / VPS_API_TOKEN), an inventory of local hosts,
  and extra vars as `-e key=value` strings, as typed on a command line (or JSON when a test needs a type);
- keeps the default stdout callback (what a user sees, asserted as text) and adds the test-only callback
  `pb_events` (callback_plugins/), which records every task result per host as JSON lines, and a jsonfile fact
  cache, which holds the facts the playbooks set with `cacheable: true` (pre_upgrade_outcome, ...);
- is checked for the API token in everything it printed or wrote, and for Python tracebacks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import yaml
from ansible.release import __version__ as ANSIBLE_VERSION

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for _folder in (str(HERE), str(TESTS)):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)

from playbook_harness import Simulator, api_calls, collections_path  # noqa: E402,F401  pylint: disable=wrong-import-position

# Distinctive, so that a leak anywhere is found by a plain substring search.
TOKEN = "pbk-Tok-4Rz8-Wq2M-SECRET-never-shown"
FILES = HERE / "files"
CALLBACKS = HERE / "callback_plugins"
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "web-03", "status": "running"},
    {"id": 104, "name": "db-01", "status": "running"},
    {"id": 105, "name": "db-02", "status": "running"},
]
LIMIT = 5
CORE = tuple(int(part) for part in ANSIBLE_VERSION.split(".")[:2])
# ansible-core before 2.19 renders a template whose value is None as an empty string (2.19+ keeps None).
CORE_BEFORE_2_19 = CORE < (2, 19)


def simulator(servers=None, **settings):
    """A simulator with fast operations (1 s creations and restores) unless the test says otherwise."""
    settings.setdefault("create_seconds", 1)
    settings.setdefault("restore_seconds", 1)
    return Simulator(tokens=[TOKEN], servers=servers or SERVERS, **settings)


# Inventory ----------------------------------------------------------------------------------------


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
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "hosts": host_entries,
    }}
    if children:
        inventory["all"]["children"] = children
    Path(path).write_text(yaml.safe_dump(inventory, sort_keys=False))
    return str(path)


# Runs ---------------------------------------------------------------------------------------------


class Run:
    """What one ansible-playbook run printed and recorded."""

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
            if path.name == host or (path.name.endswith("_" + host) and "_" not in path.name[:-len(host) - 1]):
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


# Seconds a run's leftover processes get to end by themselves once ansible-playbook has exited.
LEFTOVER_GRACE = 5


class Runner:
    """Runs playbooks against `sim` from a directory of the test; every run gets its own sub-folder."""

    def __init__(self, sim, base_dir, token=TOKEN):
        self.sim = sim
        self.base_dir = Path(base_dir)
        self.token = token
        self.count = 0
        self.extra_scan = []

    def _prepare(self, playbook, inventory, extra, check, diff, env, tags):
        run_dir = self.base_dir / ("run-%02d" % self.count)
        self.count += 1
        (run_dir / "facts").mkdir(parents=True)
        command = [ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook), "--forks", "10"]
        for item in extra or ():
            command += ["-e", item if isinstance(item, str) else json.dumps(item)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if tags:
            command += ["--tags", tags]
        environment = dict(
            (k, v) for k, v in os.environ.items() if not k.startswith(("VPS_", "ANSIBLE_", "PB_")))
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
            ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS),
            ANSIBLE_CALLBACKS_ENABLED="pb_events",
            ANSIBLE_CACHE_PLUGIN="jsonfile",
            ANSIBLE_CACHE_PLUGIN_CONNECTION=str(run_dir / "facts"),
            PB_EVENTS_FILE=str(run_dir / "events.jsonl"),
            VPS_API_URL=self.sim.base_url,
        )
        if self.token is not None:
            environment["VPS_API_TOKEN"] = self.token
        environment.update(env or {})
        return run_dir, command, environment

    def run(self, playbook, inventory, extra=(), check=False, diff=False, env=None, tags=None, timeout=300):
        """Run to the end; returns a checked Run (no token anywhere, no traceback)."""
        run_dir, command, environment = self._prepare(playbook, inventory, extra, check, diff, env, tags)
        completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, check=False,
                                   cwd=str(run_dir))
        return self._checked(Run(completed.returncode, completed.stdout, completed.stderr, run_dir))

    def start(self, playbook, inventory, extra=(), check=False, env=None):
        """Start a run in the background, in its own process group (as a terminal's foreground job is)."""
        run_dir, command, environment = self._prepare(playbook, inventory, extra, check, False, env, None)
        return Background(self, command, environment, run_dir)

    def _checked(self, run):
        everything = [run.stdout, run.stderr]
        for path in list(run.run_dir.rglob("*")) + [Path(p) for p in self.extra_scan]:
            if path.is_file():
                everything.append(path.read_text(errors="replace"))
        text = "".join(everything)
        assert self.token is None or self.token not in text, "the API token leaked into the run's output or files"
        assert "Traceback (most recent call last)" not in run.stdout + run.stderr, repr(run)
        return run


class Background:
    """A run of ansible-playbook going on while the test watches the simulator."""

    def __init__(self, runner, command, environment, run_dir):
        self.runner = runner
        self.run_dir = run_dir
        self._out = open(run_dir / "stdout.txt", "w")  # pylint: disable=consider-using-with
        self._err = open(run_dir / "stderr.txt", "w")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(command, stdout=self._out, stderr=self._err, env=environment, cwd=str(run_dir),
                                        start_new_session=True)  # pylint: disable=consider-using-with
        self.pgid = self.process.pid
        self.survivors = {}

    def wait_for(self, condition, timeout=240, what="the condition"):
        """Poll `condition` while the run goes on; fail at once, with the run's output, if the run ends first."""
        def check():
            value = condition()
            if not value and self.process.poll() is not None:
                raise AssertionError("the run ended (rc %s) before %s:\n%s\n%s" % (
                    self.process.returncode, what, (self.run_dir / "stdout.txt").read_text()[-4000:],
                    (self.run_dir / "stderr.txt").read_text()[-2000:]))
            return value
        return wait_until(check, timeout, what=what)

    def interrupt(self):
        """Ctrl-C: SIGINT to the whole process group (ansible-playbook, its workers, the running module)."""
        os.killpg(self.pgid, signal.SIGINT)

    def wait(self, timeout=300):
        try:
            rc = self.process.wait(timeout=timeout)
        finally:
            self._reap()
            self._out.close()
            self._err.close()
        run = Run(rc, (self.run_dir / "stdout.txt").read_text(), (self.run_dir / "stderr.txt").read_text(), self.run_dir)
        return self.runner._checked(run)  # pylint: disable=protected-access

    def close(self):
        """Stop the run if it is still going (a test that failed before waiting for it)."""
        if not self._out.closed:
            self._reap()
            self._out.close()
            self._err.close()

    def _reap(self):
        """Whatever is left of this run gets SIGKILL: its process group, and its processes in other sessions (ansible-core
        2.21's workers start their own), found by the run's environment. What outlived ansible-playbook is kept in
        `survivors` (pid -> command line) for the test to report."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        # A worker or module still handling the interruption gets a moment to end on its own.
        deadline = time.monotonic() + LEFTOVER_GRACE
        while processes_of(self.run_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in processes_of(self.run_dir):
            self.survivors[pid] = command_line(pid)
            kill(pid)


def processes_of(run_dir):
    """Pids of the live processes of the run in `run_dir`, in whatever session: each inherited its ANSIBLE_LOG_PATH."""
    marker = ("ANSIBLE_LOG_PATH=%s" % (Path(run_dir) / "ansible.log")).encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/environ" % entry, "rb") as handle:
                if marker in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def command_line(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def alive(pid):
    """True while `pid` runs (a zombie waiting for its parent counts as ended)."""
    try:
        with open("/proc/%s/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Concurrent:
    """Independent scenarios run at the same time, each against its own simulator, so that their waits overlap.

    start() prepares a simulator (settings, then `setup(sim)` to seed it), writes the inventory and starts the run;
    finish() waits for every run and returns, per scenario, a namespace with the run, the simulator's request log,
    snapshots and servers at the end, and what `setup` returned.
    """

    def __init__(self, base_dir):
        self.base_dir = Path(base_dir)
        self.stack = ExitStack()
        self.started = {}

    def start(self, name, playbook, hosts, extra=(), check=False, groups=None, settings=None, setup=None, sim=None, scan=()):
        """Start scenario `name`; `scan`: files the run writes elsewhere, also checked for the token."""
        if sim is None:
            sim = self.stack.enter_context(simulator(**(settings or {})))
        prepared = setup(sim) if setup else None
        run_dir = self.base_dir / name
        run_dir.mkdir(parents=True)
        runner = Runner(sim, run_dir)
        runner.extra_scan = [str(path) for path in scan]
        inventory = write_inventory(run_dir / "inventory.yml", hosts, groups)
        handle = runner.start(playbook, inventory, extra, check)
        self.stack.callback(handle.close)
        self.started[name] = (sim, handle, prepared)
        return sim

    def finish(self, timeout=400):
        outcomes = {}
        for name, (sim, handle, prepared) in self.started.items():
            run = handle.wait(timeout=timeout)
            outcomes[name] = SimpleNamespace(run=run, log=calls(sim), snapshots=sim.snapshots(), servers=sim.servers(),
                                             prepared=prepared)
        return outcomes

    def close(self):
        self.stack.close()


# The provider's side ------------------------------------------------------------------------------


def wait_until(condition, timeout=60, interval=0.05, what="the condition"):
    """Poll `condition` until it returns something true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %s s waiting for %s" % (timeout, what))
        time.sleep(interval)


def calls(sim, method=None, since=0):
    """The API requests the simulator saw (seq > since), optionally of one method."""
    return [e for e in api_calls(sim.request_log(), method) if e["seq"] > since]


def last_seq(sim):
    log = sim.request_log()
    return log[-1]["seq"] if log else 0


def creation_posts(entries):
    return [e for e in entries if e["method"] == "POST" and e["path"].endswith("/snapshots/")]


def restore_posts(entries):
    return [e for e in entries if e["method"] == "POST" and e["path"].endswith("/restore/")]


def deletes(entries):
    return [e for e in entries if e["method"] == "DELETE"]


def deleted_ids(entries):
    return sorted(int(e["path"].rstrip("/").rsplit("/", 1)[1]) for e in deletes(entries) if e["status"] in (204, 404))


def restored_ids(entries):
    return [int(e["path"].rstrip("/").split("/")[-2]) for e in restore_posts(entries) if e["status"] == 200]


def body_of(entry):
    body = entry.get("body")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return {}
    return body or {}


def listings(entries, server_id=None, account=False):
    """GET /snapshots/ requests: account-wide ones (account=True), or those of one server."""
    found = []
    for e in entries:
        if e["method"] != "GET" or not e["path"].endswith("/snapshots/"):
            continue
        query = e.get("query") or {}
        sid = query.get("server_id")
        if isinstance(sid, list):
            sid = sid[0] if sid else None
        if account and sid is None:
            found.append(e)
        elif server_id is not None and sid is not None and int(sid) == server_id:
            found.append(e)
    return found


def by_server(sim, server_id):
    return [s for s in sim.snapshots() if s["server"]["id"] == server_id]


def by_id(sim):
    return dict((s["id"], s) for s in sim.snapshots())


def finish_creation(sim, snapshot_id):
    """The provider finishes an in-progress creation now (as if its time had come)."""
    store = sim.store
    with store.lock:
        store.snapshots[snapshot_id]["ready"] = store.clock()


def age(sim, snapshot_id, days):
    """Make a snapshot `days` days old (its created_at moves back)."""
    store = sim.store
    with store.lock:
        store.snapshots[snapshot_id]["created"] = store.clock() - days * 86400
        store._invalidate()  # pylint: disable=protected-access


def add_snapshot(sim, server_id, name, status="completed", days_old=None, description=""):
    """One snapshot of `server_id` named `name`, past the limit if need be; returns its id."""
    store = sim.store
    (snapshot_id,) = store.add_snapshots(server_id, 1, status=status, name_prefix="tmp")
    with store.lock:
        snap = store.snapshots[snapshot_id]
        snap["name"] = name
        snap["description"] = description
        if days_old is not None:
            snap["created"] = store.clock() - days_old * 86400
        if status == "in_progress":
            snap["ready"] = store.clock() + 3600
        store._invalidate()  # pylint: disable=protected-access
    return snapshot_id


class SnapshotCounter:
    """Watches, while a run goes on, the most snapshots any server had at once (the provider's limit is 5)."""

    def __init__(self, sim, interval=0.05):
        self.sim = sim
        self.interval = interval
        self.most = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def sample(self):
        counts = {}
        for snap in self.sim.snapshots():
            counts[snap["server"]["id"]] = counts.get(snap["server"]["id"], 0) + 1
        for server_id, count in counts.items():
            self.most[server_id] = max(self.most.get(server_id, 0), count)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()
