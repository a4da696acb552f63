# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Performance benchmark of vps.cloud: real ansible-playbook runs against the loopback simulator, and a model.

Run it through tools/benchmark/run.sh, which lays the collection out under
ansible_collections/vps/cloud, puts the folder holding ansible_collections on PYTHONPATH and runs
``python -m ansible_collections.vps.cloud.tools.benchmark.bench``. One run measures everything,
prints the tables, and writes a JSON of the results, docs/performance.md and docs/performance.png.
The fleet section (issue #12) is in fleet.py, its model (the collection's engine on a virtual clock)
in model.py, the job slices (issue #22) in slices.py, the outputs in report.py.

The simulator, the playbook runs (ansible-playbook in a folder of its own per run, the token checked
in everything a run printed or wrote) and the virtual clock are the test harness's (tests/harness,
imported as ansible_collections.vps.cloud.tests.harness); only the bench_timer callback
(callback_plugins/: every task's and host's times, which the harness's pb_events does not record)
is the benchmark's own.
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

from ansible_collections.vps.cloud.plugins.module_utils.client import RATE_LIMIT_PATIENCE
from ansible_collections.vps.cloud.tests.harness import playbook as harness
from ansible_collections.vps.cloud.tests.harness.clock import VirtualClock
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator, calls, within
from ansible_collections.vps.cloud.tools.benchmark import fleet, report, slices

HERE = Path(__file__).resolve().parent
COLLECTION_ROOT = HERE.parents[1]
CALLBACKS = HERE / "callback_plugins"
TOKEN = "bench-token-not-secret"
# The uri tasks' own token, in their headers (so in their results): the harness checks that TOKEN, the collection's, shows
# nowhere in what a run printed or wrote.
URI_TOKEN = "bench-uri-token-not-secret"
PYTHON = sys.executable
PLAYBOOK_TIMEOUT = 1800
# What bench_timer writes in the run's folder (its working directory) when BENCH_TIMER_OUT is not set.
TIMER_FILE = "bench_timer.json"
FAKE_CLOCK_SEEDS = 500

FULL = dict(
    mode="full",
    overhead_iterations=30,
    poll_seconds=(10, 60, 300, 600),
    list_servers=2000,
    list_per_server=5,
    list_page_size=100,
    list_repeats=5,
    fleet=fleet.FULL,
)
QUICK = dict(
    mode="quick", overhead_iterations=8, poll_seconds=(10, 60), list_servers=200, list_per_server=5, list_page_size=100, list_repeats=2, fleet=fleet.QUICK
)


class BenchError(RuntimeError):
    """A benchmark step that did not run as planned (a failed playbook, a missing layout)."""


def load_wait_module():
    """plugins/module_utils/wait.py itself (it imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("vps_bench_wait", str(COLLECTION_ROOT / "plugins" / "module_utils" / "wait.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def api_entries(sim, start=None, end=None):
    """The simulator's API requests (control calls excluded), optionally those logged within [start, end]."""
    return within(calls(sim), start, end)


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
    """A harness Run (wall and CPU times, stdout, its folder) with its tasks' times."""

    def __init__(self, run, tasks):
        self.wall = run.wall
        self.cpu_tree = run.cpu_tree
        self.cpu_self = run.cpu_self
        self.tasks = tasks
        self.stdout = run.stdout
        self.run_dir = run.run_dir

    def task(self, name):
        for task in self.tasks:
            if task.name == name:
                return task
        raise BenchError("no task named %r in the run" % name)


class Runner:
    """Writes playbooks and inventories into a work directory and runs ansible-playbook on them with the harness's Runner
    (each run in a folder of its own under the work directory, the bench_timer callback enabled)."""

    token = TOKEN
    # Beside the harness's environment: no deprecation warnings in the output, no fact gathering.
    env = dict(ANSIBLE_DEPRECATION_WARNINGS="0", ANSIBLE_GATHERING="explicit")

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.count = 0

    @staticmethod
    def timed_tasks(run_dir):
        """The TaskTimes of a run, from the file bench_timer wrote in the run's folder (None: it wrote none)."""
        path = Path(run_dir) / TIMER_FILE
        if not path.exists():
            return None
        return [TaskTimes(raw) for raw in json.loads(path.read_text(encoding="utf-8"))["tasks"]]

    def harness(self, sim, token=None):
        """A harness Runner against `sim` sending `token` (default TOKEN), its runs in a new folder of the work directory."""
        self.count += 1
        return harness.Runner(sim, self.workdir / ("runs-%d" % self.count), token=token or self.token, callbacks={"bench_timer": CALLBACKS})

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

    def playbook(self, plays):
        """`plays` written as a playbook file of the work directory."""
        self.count += 1
        path = self.workdir / ("play-%d.yml" % self.count)
        path.write_text(json.dumps(plays, indent=1), encoding="utf-8")  # JSON is YAML
        return path

    def run(self, plays, inventory, sim, forks=5, extra_env=None, allow_failures=False):
        """Run a playbook against `sim`; with `allow_failures` failed hosts are results to count, not a broken benchmark."""
        playbook = self.playbook(plays)
        run = self.harness(sim).run(playbook, inventory, env=dict(self.env, **(extra_env or {})), timeout=PLAYBOOK_TIMEOUT, forks=forks)
        tasks = self.timed_tasks(run.run_dir)
        # rc 2: some hosts failed; anything else (or no timer output) is a broken run.
        if (run.rc != 0 and not (allow_failures and run.rc == 2)) or tasks is None:
            raise BenchError("ansible-playbook %s failed (rc %s):\n%s\n%s" % (playbook, run.rc, run.stdout[-4000:], run.stderr[-2000:]))
        for task in tasks:
            if task.outcomes != ["ok"] and not allow_failures:
                raise BenchError("task %r ended %s:\n%s" % (task.name, task.outcomes, run.stdout[-4000:]))
        return PlaybookRun(run, tasks)


def play(name, tasks, api_url, hosts="bench"):
    return dict(name=name, hosts=hosts, gather_facts=False, module_defaults={"group/vps.cloud.vps": {"api_url": api_url}}, tasks=tasks)


def uri_task(name, url):
    headers = {"Authorization": "Bearer %s" % URI_TOKEN, "Accept": "application/json"}
    return {"name": name, "ansible.builtin.uri": {"url": url, "headers": headers}}


def new_sim(**kwargs):
    """The harness's simulator, accepting TOKEN and URI_TOKEN, with 1 s operations and 20 snapshots a page unless given."""
    settings = dict(tokens=[TOKEN, URI_TOKEN], servers=[], create_seconds=1, restore_seconds=1, page_size=20)
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
            ("absent, snapshot missing", {snap: dict(server_id=existing, name="not-there", state="absent")}, "exactly 1", lambda n: n == 1),
            (
                "present, creates (%d s) and waits" % duration,
                {snap: dict(server_id=work, name="bench-new")},
                "<= %.1f (5 + T/15)" % (5 + duration / 15.0),
                lambda n: n <= 5 + duration / 15.0,
            ),
            (
                "restored, restore (%d s) and waits" % duration,
                {snap: dict(server_id=work, name="bench-new", state="restored")},
                "<= %.1f (5 + T/15)" % (5 + duration / 15.0),
                lambda n: n <= 5 + duration / 15.0,
            ),
            ("absent, deletes and waits", {snap: dict(server_id=work, name="bench-new", state="absent")}, "list, DELETE, check", lambda n: n <= 3),
            ("info, %d pages" % pages, {info: dict(server_id=paged)}, "exactly %d (one per page)" % pages, lambda n: n == pages),
        ]
        tasks = [dict(body, name=name) for name, body, _goal, _check in cases]
        run = runner.run([play("requests per task", tasks, sim.base_url, hosts="localhost")], runner.inventory([("localhost", {})]), sim)
        rows = []
        for name, _body, goal, check in cases:
            task = run.task(name)
            entries = api_entries(sim, task.start, task.end)
            rows.append(
                dict(task=name, requests=len(entries), methods=method_summary(entries), goal=goal, met=bool(check(len(entries))), seconds=round(task.wall, 2))
            )
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
        run = runner.run([play("per-task overhead", tasks, sim.base_url, hosts="localhost")], runner.inventory([("localhost", {})]), sim)
        requests_seen = len(api_entries(sim))
    info_times = [run.task("info %d" % i).wall for i in range(iterations)]
    uri_times = [run.task("uri %d" % i).wall for i in range(iterations)]
    return dict(
        iterations=iterations,
        info=info_times,
        uri=uri_times,
        requests=requests_seen,
        info_median=statistics.median(info_times),
        uri_median=statistics.median(uri_times),
        info_mean=statistics.mean(info_times),
        uri_mean=statistics.mean(uri_times),
        ratio=statistics.median(info_times) / statistics.median(uri_times),
        ratio_mean=statistics.mean(info_times) / statistics.mean(uri_times),
    )


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
    completed = subprocess.run([PYTHON, "-X", "importtime", "-c", "import %s" % module_name], check=True, capture_output=True, text=True)
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
        vps_client=basic + "; import ansible_collections.vps.cloud.plugins.module_utils.client",
    )
    # Interleave the repeats so machine load hits every variant alike.
    times = dict((key, []) for key in codes)
    for _round in range(3):
        for key, code in codes.items():
            times[key].append(process_seconds(code, repeats=3))
    seconds = dict((key, statistics.median(values)) for key, values in times.items())
    return dict(seconds=seconds, importtime_us=dict(requests=import_cumulative_us("requests"), urls=import_cumulative_us("ansible.module_utils.urls")))


# 3. Polling (fake clock) ----------------------------------------------------------------------


def poll_goal(duration):
    return 5 + duration / 15.0


def simulate_wait(wait, duration, rand):
    """Requests and notice delay of one `present` with wait for a creation of `duration` s, on a fake clock.

    The module lists the server's snapshots, POSTs, then calls wait_for without check_first
    (present.py _await); each check is one GET. The creation starts at the POST (clock 0);
    checks take no time on the fake clock.
    """
    fake = VirtualClock(0.0)
    checks = []

    def check():
        checks.append(fake.now)
        return fake.now >= duration, fake.now, "in_progress"

    noticed_at = wait.wait_for(check, 3600, "fake", clock=fake.monotonic, sleep=fake.sleep, intervals=wait.poll_intervals(rand=rand))
    return 2 + len(checks), noticed_at - duration


def bench_polling_fake(durations):
    wait = load_wait_module()
    rows = []
    for duration in durations:
        outcomes = [simulate_wait(wait, duration, random.Random(seed).random) for seed in range(FAKE_CLOCK_SEEDS)]
        requests_made = [o[0] for o in outcomes]
        delays = [o[1] for o in outcomes]
        rows.append(
            dict(
                seconds=duration,
                source="fake clock, %d seeds" % FAKE_CLOCK_SEEDS,
                requests=max(requests_made),
                requests_min=min(requests_made),
                requests_mean=statistics.mean(requests_made),
                noticed_after=max(delays),
                noticed_mean=statistics.mean(delays),
                goal=poll_goal(duration),
                met=max(requests_made) <= poll_goal(duration) and max(delays) <= wait.POLL_CAP,
            )
        )
    return dict(
        rows=rows, seeds=FAKE_CLOCK_SEEDS, schedule=dict(initial=wait.POLL_INITIAL, factor=wait.POLL_FACTOR, cap=wait.POLL_CAP, jitter=wait.POLL_JITTER)
    )


# 5. Listing ---------------------------------------------------------------------------------


def timed_process(argv, env):
    """Run a process to its end: (wall seconds, stdout, simulator CPU seconds, process CPU seconds)."""
    children, own = harness.cpu_seconds(resource.RUSAGE_CHILDREN), harness.cpu_seconds(resource.RUSAGE_SELF)
    started = time.time()
    completed = subprocess.run(argv, check=True, capture_output=True, text=True, env=env, timeout=PLAYBOOK_TIMEOUT)
    wall = time.time() - started
    return (wall, completed.stdout, harness.cpu_seconds(resource.RUSAGE_SELF) - own, harness.cpu_seconds(resource.RUSAGE_CHILDREN) - children)


def kept_module(run_dir):
    """The newest AnsiballZ file of vps_snapshot_info that ANSIBLE_KEEP_REMOTE_FILES left in a run's remote temporary
    folder (the harness's tmp/remote; its arguments are inside)."""
    found = sorted(Path(run_dir).glob("tmp/remote/*/AnsiballZ_vps_snapshot_info.py"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise BenchError("ANSIBLE_KEEP_REMOTE_FILES left no AnsiballZ_vps_snapshot_info.py under %s" % run_dir)
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
        warm_up = runner.run(listing_play, inventory, sim, extra_env=dict(ANSIBLE_KEEP_REMOTE_FILES="1"))
        module_argv = [PYTHON, str(kept_module(warm_up.run_dir))]
        # As a user's shell runs them: without the PYTHONPATH run.sh sets for the benchmark's own imports.
        env = dict(((k, v) for k, v in os.environ.items() if k != "PYTHONPATH"), VPS_API_TOKEN=TOKEN)
        runs = dict(info=[], bare=[], module=[])

        def run_playbook():
            sim.clear_log()
            run = runner.run(listing_play, inventory, sim)
            timed = run.task(task["name"])
            runs["info"].append(dict(seconds=timed.wall, requests=len(api_entries(sim, timed.start, timed.end)), command_task=run.task(as_task["name"]).wall))

        def run_bare():
            sim.clear_log()
            wall, stdout, cpu_sim, cpu_tree = timed_process(bare_argv, env)
            printed = json.loads(stdout)
            if printed["snapshots"] != total:
                raise BenchError("the bare loop read %s snapshots, not %s" % (printed["snapshots"], total))
            runs["bare"].append(dict(seconds=wall, inside=printed["inside_seconds"], requests=len(api_entries(sim)), cpu_sim=cpu_sim, cpu_tree=cpu_tree))

        def run_module():
            sim.clear_log()
            wall, stdout, cpu_sim, cpu_tree = timed_process(module_argv, env)
            returned = len(json.loads(stdout)["snapshots"])
            if returned != total:
                raise BenchError("the module alone returned %s snapshots, not %s" % (returned, total))
            runs["module"].append(dict(seconds=wall, requests=len(api_entries(sim)), cpu_sim=cpu_sim, cpu_tree=cpu_tree, result_bytes=len(stdout)))

        order = [run_playbook, run_bare, run_module]
        for index in range(repeats):
            for measure in order if index % 2 == 0 else order[::-1]:  # ABBA order cancels drift in load
                measure()

    def median(kind, key="seconds"):
        return statistics.median(r[key] for r in runs[kind])

    info, bare, module = median("info"), median("bare"), median("module")
    command_task = median("info", "command_task")
    best = min(r["seconds"] for r in runs["info"]) / min(r["seconds"] for r in runs["bare"])
    return dict(
        snapshots=total,
        servers=servers,
        page_size=page_size,
        pages=-(-total // page_size),
        repeats=repeats,
        runs=runs,
        info_seconds=info,
        bare_seconds=bare,
        module_seconds=module,
        command_task_seconds=command_task,
        ratio=info / bare,
        ratio_best=best,
        ratio_module=module / bare,
        ratio_as_tasks=info / command_task,
        bare_inside=median("bare", "inside"),
        sim_cpu_bare=median("bare", "cpu_sim"),
        sim_cpu_module=median("module", "cpu_sim"),
        module_cpu=median("module", "cpu_tree"),
        bare_cpu=median("bare", "cpu_tree"),
        result_bytes=runs["module"][0]["result_bytes"],
        requests=runs["info"][0]["requests"],
    )


# 4. Fleet (issue #12) --------------------------------------------------------------------------


def bench_fleet(runner, cfg):
    """The real runs of cfg["real"], then the model over the whole grid, checked against the real runs."""
    measured = []
    for path, size, forks, limited in cfg["real"]:
        began = time.time()
        record = fleet.real_run(runner, play, api_entries, cfg, path, size, forks, limited, rerun=(path == "batch" and not limited))
        measured.append(record)
        print(
            "    %s N=%d forks %d %s: task %.1f s, %d requests (%d POST), %d 429s, dup %d, lost %d, failed hosts %d "
            "(%.0f s)"
            % (
                path,
                size,
                forks,
                "limited" if limited else "unlimited",
                record["wall"],
                record["requests"],
                record["posts"],
                record["rate_limited"],
                record["duplicates"],
                record["lost"],
                record["failed_hosts"],
                time.time() - began,
            ),
            flush=True,
        )
    cost = fleet.request_seconds(runner, cfg, max(cfg["sizes"]))
    print("    model: %.1f ms per request (median, loopback simulator)" % (1000 * cost), flush=True)
    modelled = fleet.run_models(cfg, measured, cost, log=lambda line: print(line, flush=True))
    for record in measured:
        key = (record["path"], record["size"], record["limited"], record["T"])
        twin = [m for m in modelled if (m["path"], m["size"], m["limited"], m["T"]) == key and (record["path"] == "batch" or m["forks"] == record["forks"])]
        if twin:
            record["model_wall"] = twin[0]["wall"]
            record["model_ratio"] = twin[0]["wall"] / record["wall"]
            record["model_requests"] = twin[0]["requests"]
            record["model_rate_limited"] = twin[0]["rate_limited"]
    big = fleet.big_account(runner, play, api_entries, cfg, measured, cost, log=lambda line: print(line, flush=True))
    baseline = fleet.baseline_check(cfg, measured, cost)
    print(
        "    model of the issue's baseline (N=20 forks 5, 20 s): %.1f s, %d requests (then: %.1f s, %d)"
        % (baseline["model"]["wall"], baseline["model"]["requests"], baseline["wall"], baseline["requests"]),
        flush=True,
    )
    settings = dict((key, value) for key, value in cfg.items() if key != "real")
    settings["rate_limit_patience"] = RATE_LIMIT_PATIENCE
    return dict(
        settings=settings,
        real=[list(cell) for cell in cfg["real"]],
        measured=measured,
        modelled=modelled,
        big=big,
        baseline=baseline,
        request_seconds=cost,
        goals=fleet.goals(cfg, measured, modelled),
        identity=fleet.identity(measured, modelled),
    )


# Main ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short creations: a smoke run of a few minutes")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--markdown", help="write the report (docs/performance.md) here")
    parser.add_argument("--chart", help="write the chart (docs/performance.png) here")
    parser.add_argument("--command", default="bash tools/benchmark/run.sh", help="the command quoted in the report")
    parser.add_argument("--workdir", help="where playbooks and inventories go (default: a new temporary directory)")
    parser.add_argument(
        "--only",
        choices=["fleet", "others", "slices"],
        help="run only the fleet section, or only the others (development), or only the job slices (issue #22): "
        "slices adds its results to the existing JSON (key 'slices') and re-renders the page from it",
    )
    parser.add_argument("--slice-sizes", type=int, nargs="+", help="with --only slices: these N only (default: all of the mode's)")
    args = parser.parse_args(argv)
    if COLLECTION_ROOT.parts[-3:] != ("ansible_collections", "vps", "cloud"):
        raise SystemExit("run the benchmark from the laid-out collection: bash tools/benchmark/run.sh")
    sizes = QUICK if args.quick else FULL
    if args.only == "slices":
        return main_slices(args, slices.QUICK if args.quick else slices.FULL)
    workdir = args.workdir or tempfile.mkdtemp(prefix="vps-bench-")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    runner = Runner(workdir)
    started = time.time()
    results = dict(
        mode=sizes["mode"],
        sizes=dict((k, v) for k, v in sizes.items() if k != "fleet"),
        cpus=os.cpu_count(),
        python=sys.version.split()[0],
        load_before=os.getloadavg(),
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    )

    def step(title, func, *func_args):
        print("... %s" % title, flush=True)
        began = time.time()
        value = func(*func_args)
        print("    done in %.0f s" % (time.time() - began), flush=True)
        return value

    if args.only != "fleet":
        results["requests"] = step("requests per task", bench_requests, runner)
        results["overhead"] = step("per-task overhead (%d iterations)" % sizes["overhead_iterations"], bench_overhead, runner, sizes["overhead_iterations"])
        results["imports"] = step("import costs", bench_imports)
        results["polling"] = step("polling, fake clock", bench_polling_fake, sizes["poll_seconds"])
        results["listing"] = step(
            "listing %d snapshots" % (sizes["list_servers"] * sizes["list_per_server"]),
            bench_listing,
            runner,
            sizes["list_servers"],
            sizes["list_per_server"],
            sizes["list_page_size"],
            sizes["list_repeats"],
        )
    if args.only != "others":
        results["fleet"] = step(
            "fleet: per-host tasks vs one batch (%d real runs, then the model)" % len(sizes["fleet"]["real"]), bench_fleet, runner, sizes["fleet"]
        )
    results["load_after"] = os.getloadavg()
    results["total_seconds"] = time.time() - started
    results["command"] = args.command

    if args.json and Path(args.json).exists():
        kept = json.loads(Path(args.json).read_text(encoding="utf-8")).get("slices")
        if kept is not None:  # measured by --only slices: kept until that is run again
            results["slices"] = kept
    print()
    print(report.text(results))
    print("\nTotal %.0f s" % results["total_seconds"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
        print("results: %s" % args.json)
    if args.chart and "fleet" in results:
        report.chart(results, args.chart)
        print("chart: %s" % args.chart)
    if args.markdown:
        report.markdown(results, args.markdown, chart_name=Path(args.chart).name if args.chart else None)
        print("report: %s" % args.markdown)
    return 0


def main_slices(args, cfg):
    """Only the job slices (issue #22): measured, added to the existing JSON under 'slices', and the page re-rendered from it."""
    workdir = args.workdir or tempfile.mkdtemp(prefix="vps-bench-")
    Path(workdir).mkdir(parents=True, exist_ok=True)
    runner = Runner(workdir)
    # N = 500 in one process took over 30 minutes on the shared 2 CPUs: the slices' own timeout, if longer.
    cfg = dict(cfg, timeout=max(PLAYBOOK_TIMEOUT, cfg.get("playbook_timeout", 0)))
    started, load_before = time.time(), os.getloadavg()
    print("... job slices: %d concurrent pre_upgrade runs vs one batch, N = %s" % (cfg["slices"], args.slice_sizes or list(cfg["sizes"])), flush=True)
    measured = slices.bench_slices(runner, api_entries, cfg, sizes=args.slice_sizes, log=lambda line: print(line, flush=True))
    measured.update(
        cpus=os.cpu_count(),
        load_before=load_before,
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        total_seconds=time.time() - started,
        command=args.command,
        python=sys.version.split()[0],
    )
    measured["load_after"] = os.getloadavg()
    from ansible_collections.vps.cloud.plugins.module_utils.pacer import Pacer  # pylint: disable=import-outside-toplevel

    measured["pacer"] = dict((key, getattr(Pacer, key, None)) for key in ("WINDOW", "MIN_RATE", "INITIAL_RATE", "CALM", "MIN_GROWTH"))
    for case in measured["cases"]:
        case["pacer"] = measured["pacer"]
    if getattr(Pacer, "MIN_GROWTH", None) is not None:
        measured["model"] = slices.pacer_model(Pacer)
    results = {}
    if args.json and Path(args.json).exists():
        results = json.loads(Path(args.json).read_text(encoding="utf-8"))
    for case in measured["cases"]:
        case["command"] = args.command
    results["slices"] = slices.merge(results.get("slices"), measured)
    print()
    print(report.slices_text(results["slices"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
        print("results: %s" % args.json)
    if args.markdown and "mode" in results:
        report.markdown(results, args.markdown, chart_name=Path(args.chart).name if args.chart else None)
        print("report: %s" % args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
