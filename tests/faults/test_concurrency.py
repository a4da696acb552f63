# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Several hosts (forks) creating snapshots of one server at once, up to and past the provider's limit of 5.

Both races run in the background while the suite's other tests run (conftest.py); the tests judge them.
"""

from __future__ import annotations

import threading

import pytest

from ansible_collections.vps.cloud.tests.faults.fault_harness import (
    BACKGROUND,
    SERVERS,
    TALLY,
    TOKEN,
    lost_restore_points,
    run_counted,
)
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator, api_calls

pytestmark = pytest.mark.timeout(300)

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


RACES = {
    "empty-server": (0, []),
    # 502/503 on the racing POSTs (each looked for, then re-sent only if not applied), and 429s on anything.
    # 502/503 on reads too would only add backoff: a read is retried as it is, the races are in the POSTs.
    "two-existing-and-edge-faults": (2, [{"error_rate": 0.25, "random_seed": 5, "methods": ["POST"]}, {"rate_limit_burst": 4, "retry_after": 1}]),
}


def race(seeded, faults, tmp_path):
    """Every host creates its own snapshot of server 101 at once; returns what the test judges."""
    server_id = 101
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=1) as sim:
        if seeded:
            sim.add_snapshots(server_id, seeded)
        before = sim.snapshots()
        for scoped in faults:
            sim.set_faults(**scoped)
        task = {"name": "snapshot my own name", "vps.cloud.vps_snapshot": {"server_id": server_id, "name": "race-{{ inventory_hostname }}"}}
        with Watcher(sim, server_id) as watcher:
            run = run_counted(tmp_path, [task], api_url=sim.base_url, hosts=HOSTS, forks=len(HOSTS))
        sim.reset()
        snapshots = [s for s in sim.snapshots() if s["server"]["id"] == server_id]
        return before, run, watcher.peak, snapshots, sim.request_log()


def start_background(tmp_path_factory):
    return dict((label, BACKGROUND.submit(label, race, seeded, faults, tmp_path_factory.mktemp("race"))) for label, (seeded, faults) in RACES.items())


@pytest.mark.parametrize("label", list(RACES))
def test_racing_hosts_never_pass_the_limit(tmp_path_factory, label):
    seeded = RACES[label][0]
    before, run, peak, snapshots, log = BACKGROUND.started(start_background, tmp_path_factory)[label].result()
    existing = {s["id"] for s in before}
    names = [s["name"] for s in snapshots]
    TALLY.add("duplicates", len(names) - len(set(names)))
    TALLY.add("unexpected deletions", len(existing - {s["id"] for s in snapshots}))
    TALLY.add("lost restore points", len(lost_restore_points(before, snapshots, log)))
    assert "Traceback" not in run.stdout + run.stderr
    assert peak <= LIMIT, "the server held %d snapshots at one point" % peak
    assert len(snapshots) <= LIMIT
    assert existing <= {s["id"] for s in snapshots}, "a pre-existing snapshot was deleted"
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
