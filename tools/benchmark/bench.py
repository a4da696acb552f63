# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Performance benchmark of vps.cloud: real ansible-playbook runs against the loopback simulator.

Run it through tools/benchmark/run.sh, which lays the collection out under
ansible_collections/vps/cloud and sets ANSIBLE_COLLECTIONS_PATH. One run measures everything,
prints one table, and writes a JSON of the results, docs/performance.md and docs/performance.png.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLLECTION_ROOT = HERE.parents[1]
sys.path.insert(0, str(COLLECTION_ROOT / "tools"))
sys.path.insert(0, str(HERE))

from vps_simulator import Simulator  # noqa: E402  pylint: disable=wrong-import-position,import-error
import report  # noqa: E402  pylint: disable=wrong-import-position,import-error

TOKEN = "bench-token-not-secret"
PYTHON = sys.executable
ANSIBLE_PLAYBOOK = str(Path(PYTHON).parent / "ansible-playbook")
PLAYBOOK_TIMEOUT = 1800
FAKE_CLOCK_SEEDS = 500

FULL = dict(mode="full", overhead_iterations=30, poll_seconds=(10, 60), fleet_sizes=(100, 500), fleet_repeats=2,
            list_servers=2000, list_per_server=5, list_page_size=100, list_repeats=5, forks=50)
QUICK = dict(mode="quick", overhead_iterations=8, poll_seconds=(10,), fleet_sizes=(20,), fleet_repeats=1,
             list_servers=200, list_per_server=5, list_page_size=100, list_repeats=2, forks=50)


class BenchError(RuntimeError):
    """A benchmark step that did not run as planned (a failed playbook, a missing layout)."""


def load_wait_module():
    """plugins/module_utils/wait.py itself (it imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("vps_bench_wait", str(COLLECTION_ROOT / "plugins" / "module_utils" / "wait.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_seconds(usage):
    return usage.ru_utime + usage.ru_stime


def api_entries(sim, start=None, end=None):
    """The simulator's API requests (control calls excluded), optionally those logged within [start, end]."""
    return [e for e in sim.request_log() if e["path"].startswith("/api/")
            and (start is None or e["time"] >= start) and (end is None or e["time"] <= end)]


def method_summary(entries):
    counts = {}
    for entry in entries:
        counts[entry["method"]] = counts.get(entry["method"], 0) + 1
    return " ".join("%s x%d" % (method, counts[method]) for method in sorted(counts))


class TaskTimes:
    """One task of a run, from the bench_timer callback."""

    def __init__(self, raw):
        self.name = raw["name"]
        self.start = raw["start"]
        self.hosts = raw["hosts"]
        ends = [h["end"] for h in self.hosts.values() if "end" in h]
        self.end = max(ends) if ends else self.start
        self.wall = self.end - self.start
        self.outcomes = sorted(set(h.get("outcome", "none") for h in self.hosts.values()))


class PlaybookRun:
    def __init__(self, wall, cpu_tree, cpu_self, tasks, stdout):
        self.wall = wall
        self.cpu_tree = cpu_tree
        self.cpu_self = cpu_self
        self.tasks = tasks
        self.stdout = stdout

    def task(self, name):
        for task in self.tasks:
            if task.name == name:
                return task
        raise BenchError("no task named %r in the run" % name)


class Runner:
    """Writes playbooks and inventories into a work directory and runs ansible-playbook on them."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.count = 0
        self.env = dict(os.environ, VPS_API_TOKEN=TOKEN, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0",
                        ANSIBLE_PYTHON_INTERPRETER=PYTHON, ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
                        ANSIBLE_HOST_KEY_CHECKING="0", ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_GATHERING="explicit",
                        ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"), ANSIBLE_CALLBACKS_ENABLED="bench_timer",
                        ANSIBLE_LOCAL_TEMP=str(self.workdir / "ansible-local"), ANSIBLE_REMOTE_TEMP=str(self.workdir / "ansible-remote"))
        if "ANSIBLE_COLLECTIONS_PATH" not in self.env:
            raise BenchError("ANSIBLE_COLLECTIONS_PATH is not set: run tools/benchmark/run.sh")

    def inventory(self, hosts, group_vars=None):
        """An INI inventory: hosts is a list of (name, {var: value})."""
        lines = ["[bench]"]
        for name, variables in hosts:
            lines.append(" ".join([name] + ["%s=%s" % (k, v) for k, v in sorted(variables.items())]))
        lines.append("[bench:vars]")
        lines.append("ansible_connection=local")
        lines.append("ansible_python_interpreter=%s" % PYTHON)
        for key, value in sorted((group_vars or {}).items()):
            lines.append("%s=%s" % (key, value))
        self.count += 1
        path = self.workdir / ("inventory-%d.ini" % self.count)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def run(self, plays, inventory, forks=5, extra_env=None):
        self.count += 1
        playbook = self.workdir / ("play-%d.yml" % self.count)
        timer_out = self.workdir / ("timer-%d.json" % self.count)
        playbook.write_text(json.dumps(plays, indent=1), encoding="utf-8")  # JSON is YAML
        env = dict(self.env, BENCH_TIMER_OUT=str(timer_out), **(extra_env or {}))
        command = [ANSIBLE_PLAYBOOK, "-i", str(inventory), "--forks", str(forks), str(playbook)]
        children, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
        started = time.time()
        completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(self.workdir),
                                   timeout=PLAYBOOK_TIMEOUT, check=False)
        wall = time.time() - started
        cpu_tree = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu_seconds(children)
        cpu_self = cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - cpu_seconds(own)
        if completed.returncode != 0 or not timer_out.exists():
            details = (playbook, completed.returncode, completed.stdout[-4000:], completed.stderr[-2000:])
            raise BenchError("ansible-playbook %s failed (rc %s):\n%s\n%s" % details)
        tasks = [TaskTimes(raw) for raw in json.loads(timer_out.read_text(encoding="utf-8"))["tasks"]]
        for task in tasks:
            if task.outcomes != ["ok"]:
                raise BenchError("task %r ended %s:\n%s" % (task.name, task.outcomes, completed.stdout[-4000:]))
        return PlaybookRun(wall, cpu_tree, cpu_self, tasks, completed.stdout)


def play(name, tasks, api_url, hosts="bench"):
    return dict(name=name, hosts=hosts, gather_facts=False,
                module_defaults={"group/vps.cloud.vps": {"api_url": api_url}}, tasks=tasks)


def uri_task(name, url):
    headers = {"Authorization": "Bearer %s" % TOKEN, "Accept": "application/json"}
    return {"name": name, "ansible.builtin.uri": {"url": url, "headers": headers}}


def new_sim(**kwargs):
    settings = dict(tokens=[TOKEN], servers=[], create_seconds=1, restore_seconds=1, page_size=20)
    settings.update(kwargs)
    return Simulator(**settings)


# 1. Requests per task ---------------------------------------------------------------------

def bench_requests(runner):
    duration, pages = 4, 10
    with new_sim(create_seconds=duration, restore_seconds=duration, page_size=20) as sim:
        existing, work, paged = sim.add_servers(3, 0)
        sim.add_snapshots(existing, 1)  # named bulk-1
        sim.add_snapshots(paged, 20 * pages)
        snap, info = "vps.cloud.vps_snapshot", "vps.cloud.vps_snapshot_info"
        cases = [
            ("present, snapshot exists", {snap: dict(server_id=existing, name="bulk-1")}, "exactly 1", lambda n: n == 1),
            ("absent, snapshot missing", {snap: dict(server_id=existing, name="not-there", state="absent")}, "exactly 1",
             lambda n: n == 1),
            ("present, creates (%d s) and waits" % duration, {snap: dict(server_id=work, name="bench-new")},
             "<= %.1f (5 + T/15)" % (5 + duration / 15.0), lambda n: n <= 5 + duration / 15.0),
            ("restored, restore (%d s) and waits" % duration, {snap: dict(server_id=work, name="bench-new", state="restored")},
             "<= %.1f (5 + T/15)" % (5 + duration / 15.0), lambda n: n <= 5 + duration / 15.0),
            ("absent, deletes and waits", {snap: dict(server_id=work, name="bench-new", state="absent")}, "list, DELETE, check",
             lambda n: n <= 3),
            ("info, %d pages" % pages, {info: dict(server_id=paged)}, "exactly %d (one per page)" % pages, lambda n: n == pages),
        ]
        tasks = [dict(body, name=name) for name, body, _goal, _check in cases]
        run = runner.run([play("requests per task", tasks, sim.base_url, hosts="localhost")],
                         runner.inventory([("localhost", {})]))
        rows = []
        for name, _body, goal, check in cases:
            task = run.task(name)
            entries = api_entries(sim, task.start, task.end)
            rows.append(dict(task=name, requests=len(entries), methods=method_summary(entries), goal=goal,
                             met=bool(check(len(entries))), seconds=round(task.wall, 2)))
    return rows


# 2. Per-task overhead -----------------------------------------------------------------------

def bench_overhead(runner, iterations):
    with new_sim() as sim:
        (server,) = sim.add_servers(1, 1)
        url = "%s/snapshots/?server_id=%d" % (sim.base_url, server)
        info = {"vps.cloud.vps_snapshot_info": dict(server_id=server)}
        tasks = [dict(info, name="warm-up info"), uri_task("warm-up uri", url)]
        for index in range(iterations):
            pair = [dict(info, name="info %d" % index), uri_task("uri %d" % index, url)]
            tasks += pair if index % 2 == 0 else pair[::-1]  # ABBA order cancels drift
        sim.clear_log()
        run = runner.run([play("per-task overhead", tasks, sim.base_url, hosts="localhost")], runner.inventory([("localhost", {})]))
        requests_seen = len(api_entries(sim))
    info_times = [run.task("info %d" % i).wall for i in range(iterations)]
    uri_times = [run.task("uri %d" % i).wall for i in range(iterations)]
    return dict(iterations=iterations, info=info_times, uri=uri_times, requests=requests_seen,
                info_median=statistics.median(info_times), uri_median=statistics.median(uri_times),
                info_mean=statistics.mean(info_times), uri_mean=statistics.mean(uri_times),
                ratio=statistics.median(info_times) / statistics.median(uri_times),
                ratio_mean=statistics.mean(info_times) / statistics.mean(uri_times))


def process_seconds(code, repeats=9):
    """Median wall time of `python -c code` in a fresh interpreter (what every module run pays)."""
    times = []
    env = dict(os.environ, PYTHONPATH=str(COLLECTION_ROOT.parents[2]), PYTHONDONTWRITEBYTECODE="")
    for _index in range(repeats):
        started = time.perf_counter()
        subprocess.run([PYTHON, "-c", code], check=True, env=env, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def import_cumulative_us(module_name):
    """Cumulative import time of one module in a fresh interpreter, from python -X importtime."""
    completed = subprocess.run([PYTHON, "-X", "importtime", "-c", "import %s" % module_name], check=True,
                               capture_output=True, text=True)
    for line in completed.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module_name:
            return int(parts[1])
    return None


def bench_imports():
    basic = "import ansible.module_utils.basic"
    codes = dict(
        interpreter="pass",
        basic=basic,
        basic_urls=basic + "; import ansible.module_utils.urls",
        basic_requests=basic + "; import requests",
        vps_edge=basic + "; import ansible_collections.vps.cloud.plugins.module_utils.edge",
    )
    # Interleave the repeats so machine load hits every variant alike.
    times = dict((key, []) for key in codes)
    for _round in range(3):
        for key, code in codes.items():
            times[key].append(process_seconds(code, repeats=3))
    seconds = dict((key, statistics.median(values)) for key, values in times.items())
    return dict(seconds=seconds,
                importtime_us=dict(requests=import_cumulative_us("requests"), urls=import_cumulative_us("ansible.module_utils.urls")))


# 3. Polling ---------------------------------------------------------------------------------

def poll_goal(duration):
    return 5 + duration / 15.0


def bench_polling_real(runner, durations):
    sims = dict((d, new_sim(create_seconds=d)) for d in durations)
    for sim in sims.values():
        sim.start()
    try:
        hosts = []
        for duration, sim in sims.items():
            (server,) = sim.add_servers(1, 0)
            hosts.append(("poll%d" % duration, dict(api=sim.base_url, server_id=server)))
        task = {"name": "create and wait", "vps.cloud.vps_snapshot": dict(api_url="{{ api }}", server_id="{{ server_id }}",
                                                                          name="poll-test")}
        run = runner.run([dict(name="polling", hosts="bench", gather_facts=False, tasks=[task])], runner.inventory(hosts),
                         forks=len(hosts))
        rows = []
        for duration, sim in sims.items():
            entries = api_entries(sim)
            posts = [e for e in entries if e["method"] == "POST"]
            polls = [e for e in entries if e["method"] == "GET" and posts and e["time"] > posts[0]["time"]]
            ready = posts[0]["time"] + duration
            noticed = polls[-1]["time"] - ready
            host_end = run.task("create and wait").hosts["poll%d" % duration]["end"]
            rows.append(dict(seconds=duration, source="real (simulator)", requests=len(entries), polls=len(polls),
                             methods=method_summary(entries), noticed_after=noticed, task_end_after=host_end - ready,
                             goal=poll_goal(duration), met=len(entries) <= poll_goal(duration) and noticed <= 15.0))
        return rows
    finally:
        for sim in sims.values():
            sim.stop()


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def proposed_intervals(wait, rand):
    """The change proposed for wait.poll_intervals: jitter only the ramp below the cap, then exactly the cap.

    The ramp's jitter still spreads parallel tasks apart (their offset is kept), but the steady
    interval no longer averages 5% under the cap, which is what pushes long waits over budget.
    """
    ceiling = wait.POLL_INITIAL
    while True:
        yield ceiling * (1.0 - wait.POLL_JITTER * rand()) if ceiling < wait.POLL_CAP else wait.POLL_CAP
        ceiling = min(wait.POLL_CAP, ceiling * wait.POLL_FACTOR)


def simulate_wait(wait, duration, rand, schedule="current"):
    """Requests and notice delay of one `present` with wait for a creation of `duration` s, on a fake clock.

    The module lists the server's snapshots, POSTs, then calls wait_for without check_first
    (snapshots.py _wait_created); each check is one GET. The creation starts at the POST (clock 0);
    checks take no time on the fake clock.
    """
    fake = FakeClock()
    checks = []

    def check():
        checks.append(fake.now)
        return fake.now >= duration, fake.now, "in_progress"

    intervals = wait.poll_intervals(rand=rand) if schedule == "current" else proposed_intervals(wait, rand)
    noticed_at = wait.wait_for(check, 1800, "fake", clock=fake.clock, sleep=fake.sleep, intervals=intervals)
    return 2 + len(checks), noticed_at - duration


def fake_outcomes(wait, duration, seeds, schedule="current"):
    return [simulate_wait(wait, duration, random.Random(seed).random, schedule) for seed in range(seeds)]


def bench_polling_fake(durations):
    wait = load_wait_module()
    rows = []
    for duration in durations:
        outcomes = fake_outcomes(wait, duration, FAKE_CLOCK_SEEDS)
        requests_made = [o[0] for o in outcomes]
        delays = [o[1] for o in outcomes]
        rows.append(dict(seconds=duration, source="fake clock, %d seeds" % FAKE_CLOCK_SEEDS, requests=max(requests_made),
                         requests_min=min(requests_made), requests_mean=statistics.mean(requests_made),
                         noticed_after=max(delays), noticed_mean=statistics.mean(delays), goal=poll_goal(duration),
                         met=max(requests_made) <= poll_goal(duration) and max(delays) <= wait.POLL_CAP,
                         share_over_goal=sum(1 for r in requests_made if r > poll_goal(duration)) / float(len(requests_made)),
                         no_jitter=simulate_wait(wait, duration, lambda: 0.0)[0],
                         all_jitter=simulate_wait(wait, duration, lambda: 1.0)[0]))
    curve, proposed = [], []
    for duration in range(5, 901, 5):
        current = [o[0] for o in fake_outcomes(wait, duration, 100)]
        fixed = fake_outcomes(wait, duration, 100, schedule="proposed")
        curve.append(dict(seconds=duration, max=max(current), min=min(current), goal=poll_goal(duration),
                          proposed_max=max(o[0] for o in fixed), proposed_delay=max(o[1] for o in fixed)))
    for duration in durations:
        fixed = fake_outcomes(wait, duration, FAKE_CLOCK_SEEDS, schedule="proposed")
        proposed.append(dict(seconds=duration, requests=max(o[0] for o in fixed), noticed_after=max(o[1] for o in fixed)))
    return dict(rows=rows, curve=curve, proposed=proposed, seeds=FAKE_CLOCK_SEEDS,
                proposed_over_goal=[c["seconds"] for c in curve if c["proposed_max"] > c["goal"]],
                schedule=dict(initial=wait.POLL_INITIAL, factor=wait.POLL_FACTOR, cap=wait.POLL_CAP, jitter=wait.POLL_JITTER,
                              cap_jittered=cap_jittered(wait)))


def cap_jittered(wait):
    """Whether poll_intervals shortens intervals once at the cap (with the largest jitter)."""
    intervals = wait.poll_intervals(rand=lambda: 1.0)
    later = [next(intervals) for _index in range(12)][6:]
    return any(interval < wait.POLL_CAP for interval in later)


# 4. Fleet -----------------------------------------------------------------------------------

def fleet_run(runner, sim, inventory, forks, task):
    sim.clear_log()
    run = runner.run([play("fleet", [task], sim.base_url)], inventory, forks=forks)
    timed = run.task(task["name"])
    return dict(task_wall=timed.wall, playbook_wall=run.wall, cpu_tree=run.cpu_tree, cpu_sim=run.cpu_self,
                requests=len(api_entries(sim)), hosts=len(timed.hosts))


def bench_fleet(runner, size, forks, repeats):
    with new_sim(create_seconds=1, page_size=20) as sim:
        servers = sim.add_servers(size, 1)  # each server has one completed snapshot, snap-1
        inventory = runner.inventory([("host%04d" % i, dict(server_id=s)) for i, s in enumerate(servers)])
        uri = uri_task("uri GET", "%s/snapshots/?server_id={{ server_id }}" % sim.base_url)
        present = {"name": "present (exists)", "vps.cloud.vps_snapshot": dict(server_id="{{ server_id }}", name="snap-1")}
        create = {"name": "present (creates, 1 s)", "vps.cloud.vps_snapshot": dict(server_id="{{ server_id }}", name="fleet-new")}
        runs = dict(uri=[], present=[], create=[])
        for _repeat in range(repeats):
            runs["uri"].append(fleet_run(runner, sim, inventory, forks, uri))
            runs["present"].append(fleet_run(runner, sim, inventory, forks, present))
        runs["create"].append(fleet_run(runner, sim, inventory, forks, create))
    summary = dict(size=size, forks=forks, repeats=repeats, runs=runs)
    for kind, items in runs.items():
        summary[kind] = dict((key, statistics.mean(item[key] for item in items)) for key in items[0])
    summary["ratio"] = summary["present"]["task_wall"] / summary["uri"]["task_wall"]
    summary["ratio_playbook"] = summary["present"]["playbook_wall"] / summary["uri"]["playbook_wall"]
    return summary


# 5. Listing ---------------------------------------------------------------------------------

def timed_process(argv, env):
    """Run a process to its end: (wall seconds, stdout, simulator CPU seconds, process CPU seconds)."""
    children, own = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    started = time.time()
    completed = subprocess.run(argv, check=True, capture_output=True, text=True, env=env, timeout=PLAYBOOK_TIMEOUT)
    wall = time.time() - started
    return (wall, completed.stdout, cpu_seconds(resource.getrusage(resource.RUSAGE_SELF)) - cpu_seconds(own),
            cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu_seconds(children))


def kept_module(workdir):
    """The newest AnsiballZ file of vps_snapshot_info that ANSIBLE_KEEP_REMOTE_FILES left (its arguments are inside)."""
    found = sorted(Path(workdir).glob("ansible-remote/*/AnsiballZ_vps_snapshot_info.py"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise BenchError("ANSIBLE_KEEP_REMOTE_FILES left no AnsiballZ_vps_snapshot_info.py under %s" % workdir)
    return found[-1]


def bench_listing(runner, servers, per_server, page_size, repeats):
    """info task vs bare requests loop (own process), plus the module's own process alone and the loop as a task."""
    with new_sim(page_size=page_size) as sim:
        sim.add_servers(servers, per_server)
        total = servers * per_server
        inventory = runner.inventory([("localhost", {})])
        task = {"name": "info, every snapshot", "vps.cloud.vps_snapshot_info": {}}
        # The same bare loop as an Ansible task too, so both sides also pay Ansible's per-task cost.
        bare_argv = [PYTHON, str(HERE / "bare_list.py"), sim.base_url]
        as_task = {"name": "bare loop as a command task", "ansible.builtin.command": {"argv": bare_argv}}
        listing_play = [play("listing", [task, as_task], sim.base_url, hosts="localhost")]
        # A warm-up run that keeps the module's AnsiballZ file, to time the module's own process alone later.
        runner.run(listing_play, inventory, extra_env=dict(ANSIBLE_KEEP_REMOTE_FILES="1"))
        module_argv = [PYTHON, str(kept_module(runner.workdir))]
        env = dict(os.environ, VPS_API_TOKEN=TOKEN)
        runs = dict(info=[], bare=[], module=[])

        def run_playbook():
            sim.clear_log()
            run = runner.run(listing_play, inventory)
            timed = run.task(task["name"])
            runs["info"].append(dict(seconds=timed.wall, requests=len(api_entries(sim, timed.start, timed.end)),
                                     command_task=run.task(as_task["name"]).wall))

        def run_bare():
            sim.clear_log()
            wall, stdout, cpu_sim, cpu_tree = timed_process(bare_argv, env)
            printed = json.loads(stdout)
            if printed["snapshots"] != total:
                raise BenchError("the bare loop read %s snapshots, not %s" % (printed["snapshots"], total))
            runs["bare"].append(dict(seconds=wall, inside=printed["inside_seconds"], requests=len(api_entries(sim)), cpu_sim=cpu_sim,
                                     cpu_tree=cpu_tree))

        def run_module():
            sim.clear_log()
            wall, stdout, cpu_sim, cpu_tree = timed_process(module_argv, env)
            returned = len(json.loads(stdout)["snapshots"])
            if returned != total:
                raise BenchError("the module alone returned %s snapshots, not %s" % (returned, total))
            runs["module"].append(dict(seconds=wall, requests=len(api_entries(sim)), cpu_sim=cpu_sim, cpu_tree=cpu_tree,
                                       result_bytes=len(stdout)))

        order = [run_playbook, run_bare, run_module]
        for index in range(repeats):
            for measure in (order if index % 2 == 0 else order[::-1]):  # ABBA order cancels drift in load
                measure()

    def median(kind, key="seconds"):
        return statistics.median(r[key] for r in runs[kind])

    info, bare, module = median("info"), median("bare"), median("module")
    command_task = median("info", "command_task")
    best = min(r["seconds"] for r in runs["info"]) / min(r["seconds"] for r in runs["bare"])
    return dict(snapshots=total, servers=servers, page_size=page_size, pages=-(-total // page_size), repeats=repeats, runs=runs,
                info_seconds=info, bare_seconds=bare, module_seconds=module, command_task_seconds=command_task,
                ratio=info / bare, ratio_best=best, ratio_module=module / bare, ratio_as_tasks=info / command_task,
                bare_inside=median("bare", "inside"), sim_cpu_bare=median("bare", "cpu_sim"), sim_cpu_module=median("module", "cpu_sim"),
                module_cpu=median("module", "cpu_tree"), bare_cpu=median("bare", "cpu_tree"), result_bytes=runs["module"][0]["result_bytes"],
                requests=runs["info"][0]["requests"])


# Main ---------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 60 s polling skipped: a smoke run of about 2 minutes")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--markdown", help="write the report (docs/performance.md) here")
    parser.add_argument("--chart", help="write the chart (docs/performance.png) here")
    parser.add_argument("--command", default="bash tools/benchmark/run.sh", help="the command quoted in the report")
    parser.add_argument("--workdir", help="where playbooks and inventories go (default: a new temporary directory)")
    args = parser.parse_args(argv)
    if COLLECTION_ROOT.parts[-3:] != ("ansible_collections", "vps", "cloud"):
        raise SystemExit("run the benchmark from the laid-out collection: bash tools/benchmark/run.sh")
    sizes = QUICK if args.quick else FULL
    workdir = args.workdir or tempfile.mkdtemp(prefix="vps-bench-")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    runner = Runner(workdir)
    started = time.time()
    results = dict(mode=sizes["mode"], sizes=dict(sizes), cpus=os.cpu_count(), python=sys.version.split()[0],
                   load_before=os.getloadavg(), started=time.strftime("%Y-%m-%d %H:%M:%S %Z"))

    def step(title, func, *func_args):
        print("... %s" % title, flush=True)
        began = time.time()
        value = func(*func_args)
        print("    done in %.0f s" % (time.time() - began), flush=True)
        return value

    results["requests"] = step("requests per task", bench_requests, runner)
    results["overhead"] = step("per-task overhead (%d iterations)" % sizes["overhead_iterations"], bench_overhead, runner,
                               sizes["overhead_iterations"])
    results["imports"] = step("import costs", bench_imports)
    real = step("polling, real waits of %s s" % ", ".join(str(s) for s in sizes["poll_seconds"]), bench_polling_real, runner,
                sizes["poll_seconds"])
    fake = step("polling, fake clock", bench_polling_fake, (10, 60, 600))
    results["polling"] = dict(fake, rows=real + fake["rows"])
    results["listing"] = step("listing %d snapshots" % (sizes["list_servers"] * sizes["list_per_server"]), bench_listing, runner,
                              sizes["list_servers"], sizes["list_per_server"], sizes["list_page_size"], sizes["list_repeats"])
    results["fleet"] = [step("fleet of %d hosts" % size, bench_fleet, runner, size, sizes["forks"], sizes["fleet_repeats"])
                        for size in sizes["fleet_sizes"]]
    results["load_after"] = os.getloadavg()
    results["total_seconds"] = time.time() - started
    results["command"] = args.command

    table = report.table(results)
    print()
    print(table)
    print("\nTotal %.0f s" % results["total_seconds"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
        print("results: %s" % args.json)
    if args.chart:
        report.chart(results, args.chart)
        print("chart: %s" % args.chart)
    if args.markdown:
        report.markdown(results, table, args.markdown, chart_name=Path(args.chart).name if args.chart else None)
        print("report: %s" % args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
