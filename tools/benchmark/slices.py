# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Job slices (issue #22): K concurrent runs of vps.cloud.pre_upgrade behind one rate limit, against one batch of all N.

AWX and AAP split a job's inventory into K slices, each its own ansible-playbook process with its own
vps_snapshot_batch (and so its own Pacer), all behind the provider's one rate limit. Here K real
`ansible-playbook vps.cloud.pre_upgrade` processes run at once over N/K hosts each (hosts dealt
round-robin, as AWX deals them), against ONE simulator; beside them, one run over all N on a fresh
simulator with the same servers, durations and seed. Each slice sends its own API token, and the
simulator's request log is tagged with the slice whose token a request carried (the token itself is
never recorded), which gives the 429s per slice.

A run is judged from the simulator's request log and the PLAY RECAP: failed hosts (failed or
unreachable in the recap, or missing from it), duplicates (a server with more than one accepted
POST of the run's snapshot name) and lost (a server with none), and existing snapshots deleted.
"""

from __future__ import annotations

import heapq
import math
import os
import random
import re
import subprocess
import time

from flask import has_request_context, request as flask_request

from ansible_collections.vps.cloud.tools.benchmark import fleet

NAME = "pre-upgrade-bench"
PLAYBOOK = "vps.cloud.pre_upgrade"
SNAPSHOT_TASK = "Snapshot the servers of this batch of hosts on the controller, and wait once for all"

FULL = dict(
    T=60,
    spread=(0.9, 1.0),
    existing=1,
    page_size=20,
    rps=5,
    bucket=10,
    slices=4,
    sizes=(100, 500),
    forks=5,
    quiesce="none",
    goal_ratio=1.3,
    playbook_timeout=5400,
)
QUICK = dict(FULL, T=8, sizes=(20,))

FATAL = re.compile(r'^fatal: \[[^\]]*\]: FAILED! => .*?"msg": "((?:[^"\\]|\\.)*)"', re.MULTILINE)
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def tag_log(sim, labels):
    """Tag every logged request with the label of the token it carried (the token is not recorded)."""
    original = sim.log.add

    def add(**entry):
        if has_request_context():
            header = flask_request.headers.get("Authorization", "")
            entry["client"] = labels.get(header.replace("Bearer", "", 1).strip(), "other")
        return original(**entry)

    sim.log.add = add


def deal(hosts, count):
    """Round-robin slices of the inventory, as AWX deals hosts to job slices."""
    return [hosts[index::count] for index in range(count)]


def recap(stdout):
    """{host: (ok, changed, unreachable, failed)} from the PLAY RECAP."""
    return dict((m.group(1), tuple(int(m.group(i)) for i in range(2, 6))) for m in RECAP.finditer(stdout))


def launch(runner, sim, inventory, forks, token, label, cfg):  # pylint: disable=too-many-arguments
    """One pre_upgrade run started in the background with the harness (Runner.start), sending `token`."""
    extra = ["pre_upgrade_snapshot_name=%s" % NAME, "pre_upgrade_quiesce=%s" % cfg["quiesce"]]
    started = time.time()
    handle = runner.harness(sim, token=token).start(PLAYBOOK, inventory, extra, env=runner.env, forks=forks)
    return dict(label=label, handle=handle, started=started, command=list(handle.process.args), runner=runner)


def finish(job, hosts, timeout):
    """Wait for one run (the harness reaps what it left and checks it); killed once `timeout` has passed since its start."""
    handle = job["handle"]
    try:
        run = handle.wait(timeout=max(1.0, job["started"] + timeout - time.time()))
        rc, stdout, stderr = run.rc, run.stdout, run.stderr
    except subprocess.TimeoutExpired:  # killed by the harness: not left running against a simulator about to stop
        rc = "timed out after %d s" % timeout
        stdout = (handle.run_dir / "stdout.txt").read_text(errors="replace")
        stderr = (handle.run_dir / "stderr.txt").read_text(errors="replace")
    ended = time.time()
    seen = recap(stdout)
    failed = [h for h in hosts if h not in seen or seen[h][2] or seen[h][3]]
    task_wall = None
    tasks = job["runner"].timed_tasks(handle.run_dir)
    snap = [t for t in tasks or () if t.name.endswith(SNAPSHOT_TASK)]
    if snap:
        ends = [h["end"] for h in snap[0].hosts.values() if "end" in h]
        task_wall = (max(ends) - snap[0].start) if ends else None
    tail = "" if not failed else (stdout + stderr)[-1500:]
    messages = sorted(set(m.group(1)[:300] for m in FATAL.finditer(stdout)))
    return dict(
        label=job["label"],
        hosts=len(hosts),
        rc=rc,
        started=job["started"],
        ended=ended,
        wall=ended - job["started"],
        snapshot_task_wall=task_wall,
        failed_hosts=len(failed),
        failures=messages[:5],
        tail=tail,
    )


def judge(entries, servers, existing_ids, snapshots):
    """Duplicates and lost from the accepted POSTs of the run's name; 429s and requests per client."""
    accepted = dict((server, 0) for server in servers)
    for entry in entries:
        body = entry.get("body") or {}
        if entry["method"] == "POST" and entry.get("status") == 201 and body.get("name") == NAME and body.get("server_id") in accepted:
            accepted[body["server_id"]] += 1
    by_client = {}
    for entry in entries:
        counts = by_client.setdefault(entry.get("client", "other"), dict(requests=0, rate_limited=0, posts=0))
        counts["requests"] += 1
        counts["posts"] += entry["method"] == "POST"
        counts["rate_limited"] += "rate_limited" in (entry.get("fault") or "")
    left = set(s["id"] for s in snapshots)
    return dict(
        duplicates=sum(max(0, n - 1) for n in accepted.values()),
        lost=sum(1 for n in accepted.values() if n == 0),
        other_deleted=len(set(existing_ids) - left),
        left_named=sum(1 for s in snapshots if s["name"] == NAME),
        by_client=by_client,
        **fleet.count_entries(entries),
    )


def run_case(runner, api_entries, cfg, size, count, log=print):
    """`count` concurrent pre_upgrade runs over `size` hosts dealt among them, on one fresh rate-limited simulator."""
    tokens = ["bench-slice-%d-of-%d" % (index + 1, count) for index in range(count)]
    labels = dict((token, "slice %d" % (index + 1) if count > 1 else "single") for index, token in enumerate(tokens))
    with fleet.new_fleet_sim(cfg, cfg["T"], True, tokens=tokens) as sim:
        tag_log(sim, labels)
        servers = sim.add_servers(size, cfg["existing"], start_id=fleet.FIRST_SERVER)
        existing_ids = [s["id"] for s in sim.snapshots()]
        hosts = ["host%04d" % index for index in range(size)]
        server_of = dict(zip(hosts, servers))
        parts = deal(hosts, count)
        inventories = [runner.inventory([(h, dict(vps_server_id=server_of[h])) for h in part]) for part in parts]
        sim.clear_log()
        jobs = [launch(runner, sim, inventory, cfg["forks"], token, labels[token], cfg) for inventory, token in zip(inventories, tokens)]
        runs = [finish(job, part, cfg["timeout"]) for job, part in zip(jobs, parts)]
        entries = api_entries(sim)
        record = dict(
            size=size,
            slices=count,
            forks=cfg["forks"],
            T=cfg["T"],
            rps=cfg["rps"],
            bucket=cfg["bucket"],
            quiesce=cfg["quiesce"],
            runs=runs,
            wall=max(r["ended"] for r in runs) - min(r["started"] for r in runs),
            failed_hosts=sum(r["failed_hosts"] for r in runs),
            command=" ".join(["ansible-playbook"] + jobs[0]["command"][1:]),
        )
        record.update(judge(entries, servers, existing_ids, sim.snapshots()))
        for run in runs:
            run.update(record["by_client"].get(run["label"], dict(requests=0, rate_limited=0, posts=0)))
        times = sorted(e["time"] for e in entries)
        start = min(r["started"] for r in runs)
        record["first_request"] = times[0] - start if times else None
        record["last_request"] = times[-1] - start if times else None
        # 429s per 10 s of the run, all clients: whether they die down (the pacers converge) or keep coming.
        buckets = {}
        for entry in entries:
            if "rate_limited" in (entry.get("fault") or ""):
                slot = int((entry["time"] - start) // 10)
                buckets[slot] = buckets.get(slot, 0) + 1
        record["rate_limited_per_10s"] = [buckets.get(i, 0) for i in range(max(buckets) + 1)] if buckets else []
    log(
        "    %s N=%d: wall %.1f s, %d requests (%d POST), %d 429s [%s], dup %d, lost %d, failed hosts %d"
        % (
            "%d slices" % count if count > 1 else "single batch",
            size,
            record["wall"],
            record["requests"],
            record["posts"],
            record["rate_limited"],
            ", ".join("%s %d" % (r["label"], r["rate_limited"]) for r in runs),
            record["duplicates"],
            record["lost"],
            record["failed_hosts"],
        )
    )
    return record


def merge(previous, measured):
    """The cases just measured, and those of `previous` (an earlier --only slices run) at other N, kept with their own dates."""
    sizes = set(case["size"] for case in measured["cases"])
    kept = [case for case in (previous or {}).get("cases", []) if case["size"] not in sizes]
    for case in kept:
        case.setdefault("command", previous.get("command"))
    merged = dict(measured, cases=sorted(kept + measured["cases"], key=lambda case: case["size"]))
    return merged


def bench_slices(runner, api_entries, cfg, sizes=None, log=print):
    """For each N: one batch of all N, then K slices, each on a fresh simulator; the ratio of their wall times."""
    out = []
    for size in sizes or cfg["sizes"]:
        began, load_before = time.time(), os.getloadavg()
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(began))
        single = run_case(runner, api_entries, cfg, size, 1, log=log)
        sliced = run_case(runner, api_entries, cfg, size, cfg["slices"], log=log)
        ratio = sliced["wall"] / single["wall"]
        goals = dict(
            failed_hosts=sliced["failed_hosts"] == 0 and single["failed_hosts"] == 0,
            duplicates=sliced["duplicates"] == 0 and single["duplicates"] == 0,
            wall=ratio <= cfg["goal_ratio"],
        )
        out.append(
            dict(
                size=size,
                single=single,
                sliced=sliced,
                ratio=ratio,
                goals=goals,
                seconds=time.time() - began,
                started=started,
                load_before=load_before,
                load_after=os.getloadavg(),
            )
        )
        log("    N=%d: slices / single batch = %.2f (goal <= %.1f), %.0f s" % (size, ratio, cfg["goal_ratio"], time.time() - began))
    return dict(settings=dict((k, v) for k, v in cfg.items() if k != "timeout"), cases=out)


# The pacers alone, on a virtual clock ----------------------------------------------------------------------------------


class _Later(Exception):
    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


def share_the_limit(pacer_class, clients, requests, rps=5.0, bucket=10, threads=8, latency=0.03, seed=22):
    """`clients` processes (one Pacer and `threads` threads each, `requests` requests each) behind one token bucket.

    The same discrete-event model as tests/unit/plugins/module_utils/test_pacer.py: a thread asks its pacer for a
    turn, sends, and on a 429 holds its pacer for the Retry-After and tries again after it (plus up to 10 %).
    Returns (seconds until the last answer, times of the 429s).
    """
    rand = random.Random(seed)
    now = [0.0]
    tokens = [float(bucket), 0.0]

    def take():
        tokens[0], tokens[1] = min(float(bucket), tokens[0] + (now[0] - tokens[1]) * rps), now[0]
        if tokens[0] >= 1.0:
            tokens[0] -= 1.0
            return None
        return max(1, math.ceil((1.0 - tokens[0]) / rps - 1e-9))

    def sleep(seconds):
        raise _Later(seconds)

    pacers = [pacer_class(clock=lambda: now[0], sleep=sleep) for dummy in range(clients)]
    left = [requests] * clients
    queue, order, last, limited = [], 0, 0.0, []
    for client in range(clients):
        for dummy in range(threads):
            order += 1
            heapq.heappush(queue, (0.01 * rand.random(), order, client, False))
    while queue:
        now[0], dummy, client, retry = heapq.heappop(queue)
        if not retry and left[client] <= 0:
            continue
        try:
            pacers[client].wait_turn()
        except _Later as later:
            order += 1
            heapq.heappush(queue, (now[0] + later.seconds, order, client, retry))
            continue
        if not retry:
            left[client] -= 1
        retry_after = take()
        now[0] += latency
        order += 1
        if retry_after is None:
            pacers[client].accepted()
            last = now[0]
            heapq.heappush(queue, (now[0], order, client, False))
        else:
            limited.append(now[0])
            pacers[client].rate_limited(retry_after)
            pacers[client].hold(retry_after)
            heapq.heappush(queue, (now[0] + retry_after * (1.0 + 0.1 * rand.random()), order, client, True))
    return last, limited


def pacer_model(pacer_class, total=500, counts=(1, 2, 4, 8)):
    """429s and wall of `total` requests shared by 1, 2, 4, 8 clients: the Pacer as it is, and with a fixed growth (before #22)."""

    class FixedGrowth(pacer_class):  # pylint: disable=too-few-public-methods
        MIN_GROWTH = 1.0

    rows = []
    for clients in counts:
        row = dict(clients=clients, requests=total)
        for key, cls in (("fixed", FixedGrowth), ("learnt", pacer_class)):
            wall, limited = share_the_limit(cls, clients, total // clients)
            row[key] = dict(wall=wall, rate_limited=len(limited))
        rows.append(row)
    return rows
