# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fleet scale (issue #12): per-host vps_snapshot tasks against one vps_snapshot_batch, measured and modelled.

Measured: real ansible-playbook runs against the loopback simulator, each on a fresh simulator with the
same servers, durations and seed. Modelled: tools/benchmark/model.py (the collection's engine on a
virtual clock) for what would take hours here. Every run is judged from the simulator's state afterwards:
one completed snapshot of the name per server (no duplicate, none lost) and no other snapshot deleted.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time

from ansible_collections.vps.cloud.tests.harness.clock import SharedVirtualClock
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator
from ansible_collections.vps.cloud.tools.benchmark import model

NAME = "pre-upgrade"
FIRST_SERVER = 1001
FIRST_OTHER = 100001  # servers of the account outside the inventory (the big-account case)
SEED = 12  # the number: every run draws the same durations per server

FULL = dict(
    T=60,
    spread=(0.9, 1.0),
    existing=1,
    page_size=20,
    rps=5,
    bucket=10,
    concurrency=8,
    sizes=(20, 100, 500),
    forks=(5, 50),
    model_T=(60, 300, 600),
    # (path, N, forks, rate limited) run for real; everything else of the grid is modelled.
    # The batch at every N with both forks; under the rate limit with forks 50, and forks 5 too at N = 500.
    real=[("batch", n, f, False) for n in (20, 100, 500) for f in (5, 50)]
    + [("batch", 20, 50, True), ("batch", 100, 50, True), ("batch", 500, 50, True), ("batch", 500, 5, True)]
    + [
        ("per-host", 20, 5, False),
        ("per-host", 20, 50, False),
        ("per-host", 100, 50, False),
        ("per-host", 500, 50, False),
        ("per-host", 20, 50, True),
        ("per-host", 100, 50, True),
    ],
    # A small batch in a big account: N servers of the inventory among `others` servers with `per_other` snapshots each.
    big=dict(size=20, forks=50, others=1980, per_other=5, real_limited=(True,)),
)
QUICK = dict(
    T=8,
    spread=(0.9, 1.0),
    existing=1,
    page_size=20,
    rps=5,
    bucket=10,
    concurrency=8,
    sizes=(10, 40),
    forks=(5, 50),
    model_T=(8, 60),
    real=[("batch", 10, 5, False), ("batch", 10, 50, True), ("per-host", 10, 5, False), ("per-host", 10, 50, True)],
    big=dict(size=10, forks=50, others=490, per_other=5, real_limited=(False,)),
)
# The measured baseline: per-host tasks, N = 20, forks 5, a fixed 20 s creation.
BASELINE = dict(size=20, forks=5, T=20, wall=120.8, requests=120)


def spread_seconds(cfg, duration):
    low, high = cfg["spread"]
    return (round(low * duration, 3), round(high * duration, 3))


def new_fleet_sim(cfg, duration, limited, clock=None, tokens=None):
    kwargs = dict(tokens=tokens or [], servers=[], page_size=cfg["page_size"], create_spread=spread_seconds(cfg, duration), restore_seconds=1, random_seed=SEED)
    if limited:
        kwargs.update(rate_limit_rps=cfg["rps"], rate_limit_bucket=cfg["bucket"])
    if clock is not None:
        kwargs["clock"] = clock
    return Simulator(**kwargs)


def listing_pages(cfg, size, others=None):
    """Pages of the account's listing once every server of the inventory has its new snapshot."""
    extra = others["others"] * others["per_other"] if others else 0
    return max(1, math.ceil((size * (cfg["existing"] + 1) + extra) / float(cfg["page_size"])))


# Judging a run from the simulator's state -------------------------------------------------------


def judge_state(snapshots, servers, existing_ids):
    """Duplicates, lost snapshots, other snapshots deleted, and a digest of the end state (ids left out)."""
    by_server = dict((server, []) for server in servers)
    for snapshot in snapshots:
        sid = snapshot["server"]["id"]
        if sid in by_server:
            by_server[sid].append(snapshot)
    duplicates = lost = unfinished = 0
    for items in by_server.values():
        named = [s for s in items if s["name"] == NAME]
        completed = [s for s in named if s["status"] == "completed"]
        duplicates += max(0, len(named) - 1)
        if not completed:
            lost += 1
        unfinished += sum(1 for s in named if s["status"] != "completed")
    left = set(s["id"] for s in snapshots)
    other_deleted = len(set(existing_ids) - left)
    signature = [(server, sorted((s["name"], s["status"]) for s in by_server[server])) for server in sorted(by_server)]
    return dict(duplicates=duplicates, lost=lost, unfinished=unfinished, other_deleted=other_deleted, state_digest=digest(signature), snapshots=len(snapshots))


def digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def results_digest(per_host_results):
    """{host: (server, name, status, changed)} of what the tasks returned, ids left out."""
    return digest(sorted(per_host_results.items()))


# Real runs ----------------------------------------------------------------------------------------


def batch_task():
    servers = "{{ dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, 'vps_server_id'))) }}"
    return {"name": "batch", "vps.cloud.vps_snapshot_batch": dict(servers=servers, name=NAME), "run_once": True, "delegate_to": "localhost"}


def per_host_task():
    return {"name": "per-host", "vps.cloud.vps_snapshot": dict(server_id="{{ vps_server_id }}", name=NAME), "delegate_to": "localhost"}


def request_server(entry):
    if entry["method"] == "POST":
        return (entry.get("body") or {}).get("server_id")
    value = (entry.get("query") or {}).get("server_id")
    return int(value) if value not in (None, "") else None


def count_entries(entries):
    return dict(
        requests=len(entries),
        posts=sum(1 for e in entries if e["method"] == "POST"),
        gets=sum(1 for e in entries if e["method"] == "GET"),
        deletes=sum(1 for e in entries if e["method"] == "DELETE"),
        rate_limited=sum(1 for e in entries if "rate_limited" in (e.get("fault") or "")),
    )


def real_run(runner, play, api_entries, cfg, path, size, forks, limited, rerun=False, others=None):
    with new_fleet_sim(cfg, cfg["T"], limited, tokens=[runner.token]) as sim:
        servers = sim.add_servers(size, cfg["existing"], start_id=FIRST_SERVER)
        if others:
            sim.add_servers(others["others"], others["per_other"], start_id=FIRST_OTHER)
        existing_ids = [s["id"] for s in sim.snapshots()]
        hosts = ["host%04d" % index for index in range(size)]
        server_of = dict(zip(hosts, servers))
        inventory = runner.inventory([(host, dict(vps_server_id=server_of[host])) for host in hosts])
        task = batch_task() if path == "batch" else per_host_task()
        sim.clear_log()
        run = runner.run([play("fleet", [task], sim.base_url)], inventory, sim, forks=forks, allow_failures=True)
        entries = api_entries(sim)
        timed = run.task(task["name"])
        record = dict(
            path=path,
            size=size,
            forks=forks,
            limited=limited,
            T=cfg["T"],
            source="measured",
            wall=timed.wall,
            playbook_wall=run.wall,
            cpu_tree=run.cpu_tree,
            **count_entries(entries),
        )
        record.update(judge_state(sim.snapshots(), servers, existing_ids))
        record["pages"] = listing_pages(cfg, size, others)
        record["others"] = others
        starts = dict((h, v.get("start")) for h, v in timed.hosts.items())
        ends = dict((h, v.get("end")) for h, v in timed.hosts.items())
        if path == "batch":
            (host,) = list(timed.hosts)
            result = timed.hosts[host].get("result") or {}
            returned = dict((r["host"], (r["server_id"], r["snapshot"]["name"], r["snapshot"]["status"], r["changed"])) for r in result.get("results", []))
            record["failed_hosts"] = sum(1 for r in result.get("results", []) if r["failed"]) + (0 if result.get("results") else size)
            record["module_requests"] = result.get("requests")
            times = [e["time"] for e in entries]
            record["overhead"] = [min(times) - starts[host], ends[host] - max(times)] if times else [0.0, 0.0]
        else:
            returned, pre, post = {}, [], []
            by_server = {}
            for entry in entries:
                by_server.setdefault(request_server(entry), []).append(entry["time"])
            for host, info in timed.hosts.items():
                result = info.get("result") or {}
                snapshot = result.get("snapshot") or {}
                returned[host] = (server_of[host], snapshot.get("name"), snapshot.get("status"), result.get("changed"))
                times = by_server.get(server_of[host])
                if times and starts.get(host) and ends.get(host):
                    pre.append(min(times) - starts[host])
                    post.append(ends[host] - max(times))
            record["failed_hosts"] = sum(1 for info in timed.hosts.values() if info.get("outcome") != "ok")
            record["overhead"] = [statistics.mean(pre), statistics.mean(post)] if pre else [0.0, 0.0]
            record["overhead_max"] = [max(pre), max(post)] if pre else [0.0, 0.0]
            spans = [ends[h] - starts[h] for h in timed.hosts if starts.get(h) and ends.get(h)]
            record["host_span_mean"] = statistics.mean(spans) if spans else None
        record["results_digest"] = results_digest(returned)
        record["changed_hosts"] = sum(1 for value in returned.values() if value[3])
        record["failures"] = sorted(set((info.get("result") or {}).get("msg", "")[:200] for info in timed.hosts.values() if info.get("outcome") != "ok"))[:3]
        if path == "batch" and record["failures"] == [] and record["failed_hosts"]:
            record["failures"] = [(timed.hosts[list(timed.hosts)[0]].get("result") or {}).get("msg", "")[:300]]
        if rerun:
            sim.clear_log()
            again = runner.run([play("fleet", [task], sim.base_url)], inventory, sim, forks=forks, allow_failures=True)
            again_entries = api_entries(sim)
            result = again.task(task["name"]).hosts
            changed = any((v.get("result") or {}).get("changed") for v in result.values())
            record["rerun"] = dict(wall=again.task(task["name"]).wall, changed=changed, **count_entries(again_entries))
            record["rerun"].update(judge_state(sim.snapshots(), servers, existing_ids))
    return record


# The model ----------------------------------------------------------------------------------------


def request_seconds(runner, cfg, size):
    """Median real time of one request to the loopback simulator: a listing page of the account, and a POST."""
    import requests  # pylint: disable=import-outside-toplevel

    with new_fleet_sim(cfg, cfg["T"], False, tokens=[runner.token]) as sim:
        servers = sim.add_servers(size, cfg["existing"], start_id=FIRST_SERVER)
        session = requests.Session()
        session.headers.update({"Authorization": "Bearer %s" % runner.token})
        times = []
        for index in range(40):
            started = time.perf_counter()
            if index % 2:
                session.get(sim.base_url + "/snapshots/", params={"page": 1 + index % 5}, timeout=30).json()
            else:
                body = {"server_id": servers[index % len(servers)], "name": "calibrate-%d" % index}
                session.post(sim.base_url + "/snapshots/", json=body, timeout=30).json()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def model_run(cfg, path, size, forks, limited, duration, cost, overhead, others=None):
    clock = SharedVirtualClock(time.time())
    sim = new_fleet_sim(cfg, duration, limited, clock=clock.time, tokens=["model-token"])
    servers = sim.add_servers(size, cfg["existing"], start_id=FIRST_SERVER)
    if others:
        sim.add_servers(others["others"], others["per_other"], start_id=FIRST_OTHER)
    existing_ids = [s["id"] for s in sim.snapshots()]
    sim.clear_log()
    model.seed(SEED)
    began = time.time()
    if path == "batch":
        out = model.run_batch(sim, clock, servers, NAME, cost, overhead, concurrency=cfg["concurrency"])
    else:
        out = model.run_per_host(sim, clock, servers, NAME, cost, overhead, forks)
    record = dict(
        path=path,
        size=size,
        forks=forks,
        limited=limited,
        T=duration,
        source="modelled",
        wall=out["wall"],
        failed_hosts=len(out["failed"]) if path == "per-host" else len(out["failed"]),
        overhead=list(overhead),
        request_seconds=cost,
        real_seconds=time.time() - began,
        **model.count_log(sim),
    )
    record.update(judge_state(sim.snapshots(), servers, existing_ids))
    record["pages"] = listing_pages(cfg, size, others)
    record["others"] = others
    if path == "per-host":
        record["rounds_formula"] = rounds_formula(cfg, size, forks, duration, overhead)
    sim.store.close()
    return record


def rounds_formula(cfg, size, forks, duration, overhead):
    """The back-of-envelope per-host model: ceil(N / forks) rounds of (T + poll delay + per-task overhead).

    The poll delay is when wait.py's schedule (no jitter) first polls at or after T, minus T.
    """
    from ansible_collections.vps.cloud.plugins.module_utils import wait  # pylint: disable=import-outside-toplevel

    elapsed, intervals = 0.0, wait.poll_intervals(rand=lambda: 0.0)
    while elapsed < duration:
        elapsed += next(intervals)
    return math.ceil(size / float(forks)) * (elapsed + sum(overhead))


def overhead_for(measured, path, size, forks, limited):
    """Per-task overhead (before the first request, after the last) measured in the real run of this cell,
    else in the real runs of the same path and forks (nearest N; unlimited first)."""
    same = [m for m in measured if m["path"] == path and m["forks"] == forks]
    if not same and path == "batch":
        same = [m for m in measured if m["path"] == path]
    if not same:
        same = [m for m in measured if m["path"] == path]
    exact = [m for m in same if m["size"] == size and m["limited"] == limited]
    pick = exact[0] if exact else sorted(same, key=lambda m: (abs(math.log(m["size"] / float(size))), m["limited"]))[0]
    origin = "%s N=%d forks %d%s" % (pick["path"], pick["size"], pick["forks"], ", rate-limited" if pick["limited"] else "")
    return tuple(pick["overhead"]), origin


def run_models(cfg, measured, cost, log=print):
    rows = []
    for duration in cfg["model_T"]:
        for limited in (False, True):
            for size in cfg["sizes"]:
                for path, forks_list in (("batch", (None,)), ("per-host", cfg["forks"])):
                    for forks in forks_list:
                        if path == "batch":
                            # forks do not reach the batch (one task, run once): model it with the forks of the real run.
                            source = [m for m in measured if m["path"] == "batch" and m["size"] == size and m["limited"] == limited]
                            forks = source[0]["forks"] if source else cfg["forks"][-1]
                        overhead, origin = overhead_for(measured, path, size, forks, limited)
                        record = model_run(cfg, path, size, forks, limited, duration, cost, overhead)
                        record["overhead_from"] = origin
                        rows.append(record)
                        log(
                            "    model %s N=%d forks %s %s T=%d: %.0f s, %d requests, %d 429s (%.1f s real)"
                            % (
                                path,
                                size,
                                forks,
                                "limited" if limited else "unlimited",
                                duration,
                                record["wall"],
                                record["requests"],
                                record["rate_limited"],
                                record["real_seconds"],
                            )
                        )
    return rows


def big_account(runner, play, api_entries, cfg, measured, cost, log=print):
    """A small batch in a big account, real where cfg["big"]["real_limited"] says, and modelled (batch and per-host)."""
    big = cfg["big"]
    real, modelled = [], []
    for limited in big["real_limited"]:
        began = time.time()
        record = real_run(runner, play, api_entries, cfg, "batch", big["size"], big["forks"], limited, others=big)
        real.append(record)
        log(
            "    big account, batch N=%d %s: task %.1f s, %d requests (%d POST), %d 429s, dup %d, lost %d (%.0f s)"
            % (
                big["size"],
                "limited" if limited else "unlimited",
                record["wall"],
                record["requests"],
                record["posts"],
                record["rate_limited"],
                record["duplicates"],
                record["lost"],
                time.time() - began,
            )
        )
    for limited in (False, True):
        for path in ("batch", "per-host"):
            overhead, origin = overhead_for(measured, path, big["size"], big["forks"], limited)
            record = model_run(cfg, path, big["size"], big["forks"], limited, cfg["T"], cost, overhead, others=big)
            record["overhead_from"] = origin
            modelled.append(record)
            twin = [r for r in real if r["limited"] == limited and path == "batch"]
            if twin:
                twin[0]["model_wall"] = record["wall"]
                twin[0]["model_ratio"] = record["wall"] / twin[0]["wall"]
                twin[0]["model_requests"] = record["requests"]
                twin[0]["model_rate_limited"] = record["rate_limited"]
            log(
                "    model big account %s N=%d %s: %.0f s, %d requests, %d 429s"
                % (path, big["size"], "limited" if limited else "unlimited", record["wall"], record["requests"], record["rate_limited"])
            )
    return dict(settings=big, measured=real, modelled=modelled)


def baseline_check(cfg, measured, cost):
    """The model of the issue's baseline (fixed 20 s creations), to set against the figures measured then."""
    overhead, origin = overhead_for(measured, "per-host", BASELINE["size"], BASELINE["forks"], False)
    fixed = dict(cfg, spread=(1.0, 1.0))
    row = model_run(fixed, "per-host", BASELINE["size"], BASELINE["forks"], False, BASELINE["T"], cost, overhead)
    row["overhead_from"] = origin
    return dict(BASELINE, model=row, wall_ratio=row["wall"] / BASELINE["wall"], requests_ratio=row["requests"] / float(BASELINE["requests"]))


# Goals ----------------------------------------------------------------------------------------------


def wall_bound(cfg, size, duration, limited):
    return 1.3 * (duration + 15.0) + (size / float(cfg["rps"]) if limited else 0.0)


def request_bound(cfg, size, duration):
    return size + (5.0 + duration / 15.0) * listing_pages(cfg, size)


def goals(cfg, measured, modelled):
    """Each batch cell against the issue's goals: ratios to the bounds, duplicates, lost; and the per-host/batch identity."""
    out = []
    for row in measured + [m for m in modelled if m["T"] != cfg["T"]]:
        if row["path"] != "batch":
            continue
        out.append(
            dict(
                kind="batch",
                size=row["size"],
                forks=row["forks"],
                limited=row["limited"],
                T=row["T"],
                source=row["source"],
                wall=row["wall"],
                wall_bound=wall_bound(cfg, row["size"], row["T"], row["limited"]),
                wall_ratio=row["wall"] / wall_bound(cfg, row["size"], row["T"], row["limited"]),
                requests=row["requests"],
                request_bound=request_bound(cfg, row["size"], row["T"]),
                request_ratio=row["requests"] / request_bound(cfg, row["size"], row["T"]),
                duplicates=row["duplicates"],
                lost=row["lost"],
                other_deleted=row["other_deleted"],
                failed_hosts=row["failed_hosts"],
            )
        )
    return out


def identity(measured, modelled):
    """Per-host and batch runs of the same inventory: same end state (digest of every server's snapshots' names and statuses)
    and same returned results (host -> server, name, status, changed)."""
    out = []
    for source, rows in (("measured", measured), ("modelled", modelled)):
        keys = sorted(set((r["size"], r["limited"], r["T"]) for r in rows))
        for size, limited, duration in keys:
            batch = [r for r in rows if (r["size"], r["limited"], r["T"], r["path"]) == (size, limited, duration, "batch")]
            hosts = [r for r in rows if (r["size"], r["limited"], r["T"], r["path"]) == (size, limited, duration, "per-host")]
            if not batch or not hosts:
                continue
            pairs = [(b, h) for b in batch for h in hosts]
            same_state = all(b["state_digest"] == h["state_digest"] for b, h in pairs)
            same_results = all(b["results_digest"] == h["results_digest"] for b, h in pairs) if all("results_digest" in r for r in batch + hosts) else None
            out.append(
                dict(
                    source=source,
                    size=size,
                    limited=limited,
                    T=duration,
                    runs=len(batch) + len(hosts),
                    same_state=same_state,
                    same_results=same_results,
                    per_host_failed=max(h["failed_hosts"] for h in hosts),
                    per_host_lost=max(h["lost"] for h in hosts),
                )
            )
    return out
