# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Several hosts (forks) creating snapshots of one server at once, up to and past the provider's limit of 5."""

from __future__ import annotations

import threading

import pytest

from fault_harness import SERVERS, TALLY, TOKEN, Simulator, api_calls, run_playbook

HOSTS = ["racer%d" % n for n in range(1, 9)]
LIMIT = 5


class Watcher:
    """Samples the server's snapshot count while the playbook runs: the peak must never pass the limit."""

    def __init__(self, sim, server_id):
        self.sim, self.server_id, self.peak = sim, server_id, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self):
        while not self.stop.is_set():
            count = len([s for s in self.sim.snapshots() if s["server"]["id"] == self.server_id])
            self.peak = max(self.peak, count)
            self.stop.wait(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


@pytest.mark.parametrize("seeded, faults", [
    pytest.param(0, {}, id="empty-server"),
    pytest.param(2, {"error_rate": 0.25, "random_seed": 5, "rate_limit_burst": 4, "retry_after": 1}, id="two-existing-and-edge-faults"),
])
def test_racing_hosts_never_pass_the_limit(tmp_path, seeded, faults):
    server_id = 101
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=1) as sim:
        if seeded:
            sim.add_snapshots(server_id, seeded)
        existing = {s["id"] for s in sim.snapshots()}
        if faults:
            sim.set_faults(**faults)
        task = {"name": "snapshot my own name", "vps.cloud.vps_snapshot": {"server_id": server_id, "name": "race-{{ inventory_hostname }}"}}
        with Watcher(sim, server_id) as watcher:
            run = run_playbook(tmp_path, [task], api_url=sim.base_url, hosts=HOSTS, forks=len(HOSTS))
        sim.reset()
        snapshots = [s for s in sim.snapshots() if s["server"]["id"] == server_id]
        log = sim.request_log()

    assert "Traceback" not in run.stdout + run.stderr
    assert watcher.peak <= LIMIT, "the server held %d snapshots at one point" % watcher.peak
    assert len(snapshots) <= LIMIT
    assert existing <= {s["id"] for s in snapshots}, "a pre-existing snapshot was deleted"
    names = [s["name"] for s in snapshots]
    assert len(names) == len(set(names)), "a host created its snapshot twice: %s" % names
    created = [c for c in api_calls(log, "POST") if c["status"] == 201]
    assert len(created) == len(snapshots) - seeded

    successes = {}
    for host in HOSTS:
        result = run.by_host[host][0]
        kind = TALLY.task(result)
        assert kind != "unclear", "%s: %r" % (host, result.get("msg"))
        if kind == "success":
            successes[host] = result["snapshot"]
        else:
            assert "limit" in result["msg"], "%s failed for another reason than the limit: %s" % (host, result["msg"])
    # Every success is a real, completed snapshot of its own name, and every snapshot made belongs to a success.
    assert sorted(s["name"] for s in successes.values()) == sorted(n for n in names if n.startswith("race-"))
    assert all(s["status"] == "completed" and s["name"] == "race-%s" % host for host, s in successes.items())
    assert len(successes) == LIMIT - seeded
