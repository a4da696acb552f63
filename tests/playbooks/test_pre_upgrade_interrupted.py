# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Issue "pre_upgrade leaks a snapshot per interrupted run": runs of vps.cloud.pre_upgrade interrupted like Ctrl-C
(SIGINT to ansible-playbook's process group, as a terminal sends it) while their snapshot is being created, then a
rerun. One scenario, several tests on it:

1. five runs, each interrupted as soon as its creation POST is in the simulator's request log; between them the
   provider finishes the interrupted run's snapshot (completed, or failed for one of them), so each next run
   takes a new one and the server's snapshots pile up to the provider's limit of 5 (with the user's own one);
2. a sixth run is interrupted the same way, and its snapshot is left in progress;
3. a rerun, which must resume that snapshot (no second POST), finish the upgrade and clean up.

Creations take 600 s in the simulator, so nothing completes unless the test says so (finish_creation): every step
waits for a condition in the request log, never for a fixed time.
"""

import warnings
from contextlib import ExitStack

import pytest

from ansible_collections.vps.cloud.tests.harness.background import (
    SnapshotCounter,
    alive,
    command_line,
    kill,
    processes_of,
)
from ansible_collections.vps.cloud.tests.harness.playbook import Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.seeding import add_snapshot, finish_creation
from ansible_collections.vps.cloud.tests.harness.simulator import (
    calls,
    creation_posts,
    deleted_ids,
    deletes,
    last_seq,
    listings,
    of_server,
    restore_posts,
)
from ansible_collections.vps.cloud.tests.harness.waiting import wait_until
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import LIMIT, simulator

pytestmark = pytest.mark.timeout(600)

INTERRUPTED_RUNS = 6
FAILED_CYCLE = 1  # the provider ends this run's snapshot failed


def _set_outcome(sim, snapshot_id, outcome):
    with sim.store.lock:
        sim.store.snapshots[snapshot_id]["outcome"] = outcome


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("interrupted")
    with simulator(create_seconds=600) as sim:
        # A snapshot the user took by hand: not a pre-upgrade one, it must never be touched.
        manual = add_snapshot(sim, 101, "manual-before-migration", days_old=3)
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", {"web-1": 101})
        cycles, handles = [], []
        with SnapshotCounter(sim) as counter, ExitStack() as stack:
            stack.callback(lambda: [handle.close() for handle in handles])
            for cycle in range(INTERRUPTED_RUNS):
                mark = last_seq(sim)
                before = of_server(sim, 101)
                run = runner.start("vps.cloud.pre_upgrade", inventory)
                handles.append(run)
                post = run.wait_for(
                    lambda m=mark: [p for p in creation_posts(calls(sim, since=m)) if p["status"] == 201],
                    what="the creation POST of interrupted run %d" % cycle,
                )[0]
                run.interrupt()
                result = run.wait()
                if run.survivors:
                    # Reaped by the harness before the provider finishes anything; the product's own guard against them is
                    # test_a_module_left_running_by_a_killed_run_changes_nothing.
                    warnings.warn("interrupted run %d left processes running after ansible-playbook ended: %s" % (cycle, run.survivors), stacklevel=2)
                taken = max(s["id"] for s in of_server(sim, 101))
                after = of_server(sim, 101)
                if cycle < INTERRUPTED_RUNS - 1:
                    # The provider finishes the interrupted run's snapshot before the next run.
                    if cycle == FAILED_CYCLE:
                        _set_outcome(sim, taken, "failed")
                    finish_creation(sim, taken)
                cycles.append({"run": result, "before": before, "after": after, "post": post, "taken": taken, "requests": calls(sim, since=mark)})
            # The rerun: it must find the last interrupted run's snapshot in progress and resume it.
            mark = last_seq(sim)
            rerun = runner.start("vps.cloud.pre_upgrade", inventory)
            handles.append(rerun)
            rerun.wait_for(lambda: listings(calls(sim, since=mark), server_id=101), what="the rerun's listing")
            # The rerun has seen the snapshot in progress; now the provider completes it.
            finish_creation(sim, cycles[-1]["taken"])
            final = rerun.wait()
            rerun_requests = calls(sim, since=mark)
        yield {
            "sim": sim,
            "manual": manual,
            "cycles": cycles,
            "final": final,
            "rerun_requests": rerun_requests,
            "most": counter.most.get(101, 0),
            "end": of_server(sim, 101),
            "all": calls(sim),
        }


def test_interrupted_run_stops_with_its_snapshot_left_in_progress(interrupted):
    for cycle in interrupted["cycles"]:
        run = cycle["run"]
        assert run.rc != 0, run
        assert "User interrupted execution" in run.stdout + run.stderr, run
        # Exactly one creation per interrupted run, and its snapshot was there, in progress, when the run stopped.
        assert len(creation_posts(cycle["requests"])) == 1, cycle["requests"]
        left = [s for s in cycle["after"] if s["id"] == cycle["taken"]]
        assert left and left[0]["status"] == "in_progress", cycle["after"]
        assert not restore_posts(cycle["requests"])


def test_rerun_resumes_the_interrupted_runs_snapshot_instead_of_taking_another(interrupted):
    final, last = interrupted["final"], interrupted["cycles"][-1]
    assert final.rc == 0, final
    assert not creation_posts(interrupted["rerun_requests"]), "the rerun must not take a second snapshot"
    name = last["post"]["body"]["name"]
    assert final.said("web-1", "snapshot '%s' (id %s, status completed) of server 101 for web-1" % (name, last["taken"])), final
    # The batch module's entry for the host says so.
    entry = final.task_results("Snapshot the servers of this batch")[0]["result"]["by_host"]["web-1"]
    assert entry["msg"].startswith("Ensured snapshot %s (id %s" % (name, last["taken"])), entry
    assert any("is reused instead of taking" in w for w in entry.get("warnings", [])), entry
    assert final.said("web-1", "UPGRADED: web-1 (server 101) passed the health check"), final
    # And cleans it up at the end, like an uninterrupted run.
    assert last["taken"] in deleted_ids(interrupted["rerun_requests"], gone_too=True)
    assert last["taken"] not in [s["id"] for s in interrupted["end"]]


def test_interrupted_runs_never_push_a_server_past_the_limit(interrupted):
    everything = interrupted["all"]
    assert interrupted["most"] <= LIMIT, interrupted["most"]
    refused = [e for e in creation_posts(everything) if e["status"] != 201]
    assert not refused, refused
    # One creation POST per run, however often interrupted: 6 runs, 6 snapshots, the rerun none.
    assert len(creation_posts(everything)) == INTERRUPTED_RUNS
    for cycle in interrupted["cycles"]:
        assert len(cycle["after"]) <= LIMIT, cycle["after"]


def test_interrupted_runs_make_room_with_failed_snapshots_first_and_never_the_last_completed(interrupted):
    manual = interrupted["manual"]
    for cycle in interrupted["cycles"]:
        gone = sorted(deleted_ids(cycle["requests"], gone_too=True))
        before = dict((s["id"], s) for s in cycle["before"])
        # Exactly as many as the limit forces, and only pre-upgrade snapshots: nothing of retention, which waits for a
        # completed snapshot that an interrupted run never sees.
        assert len(gone) == max(0, len(before) + 1 - LIMIT), (gone, cycle["before"])
        kept = sorted((s["created_at"], i) for i, s in before.items() if s["status"] == "completed" and s["name"].startswith("pre-upgrade-"))[-2:]
        assert not set(i for unused, i in kept) & set(gone), (kept, gone)
        assert manual not in gone
        assert all(before[i]["name"].startswith("pre-upgrade-") for i in gone), (gone, cycle["before"])
        for deletion in deletes(cycle["requests"]):
            assert deletion["seq"] < cycle["post"]["seq"], "room is made before the creation"
        completed = sorted(i for i, s in before.items() if s["status"] == "completed")
        failed = [i for i, s in before.items() if s["status"] == "failed" and s["name"].startswith("pre-upgrade-")]
        if gone and failed:
            assert gone[0] in failed, "a failed snapshot goes before any completed one: %s %s" % (gone, cycle["before"])
        # The server's newest completed snapshot (its last restore point) is never deleted before the new one completes.
        if completed:
            newest = max(completed, key=lambda i: (before[i]["created_at"], i))
            assert newest not in gone, (newest, gone)


def test_rerun_after_interruptions_leaves_retention_and_the_users_snapshot(interrupted):
    end = dict((s["id"], s) for s in interrupted["end"])
    manual = interrupted["manual"]
    assert manual in end and end[manual]["status"] == "completed", "the user's own snapshot is never touched"
    pre_upgrade = sorted(i for i, s in end.items() if s["name"].startswith("pre-upgrade-"))
    # pre_upgrade_retention 2 (the default) counts the rerun's snapshot, which the rerun then deletes: one stays.
    assert len(pre_upgrade) == 1 and end[pre_upgrade[0]]["status"] == "completed", interrupted["end"]
    assert len(end) == 2
    # Nothing was deleted twice, nothing that was not a pre-upgrade snapshot.
    everything = deleted_ids(interrupted["all"], gone_too=True)
    assert len(everything) == len(set(everything)), everything


def test_rerun_says_it_reuses_the_interrupted_runs_snapshot(interrupted):
    final, last = interrupted["final"], interrupted["cycles"][-1]
    assert not creation_posts(interrupted["rerun_requests"])
    name = last["post"]["body"]["name"]
    assert final.said("web-1", "Reusing existing snapshot '%s' (id %s, status completed)" % (name, last["taken"])), final
    # And the module's note that it resumed an interrupted run's snapshot reaches the screen as a warning.
    shown = " ".join((final.stdout + final.stderr).split())  # warnings are wrapped to the terminal's width
    assert "[WARNING]: server 101 (web-1): snapshot %s (id %s" % (name, last["taken"]) in shown, final
    assert "it is reused instead of taking" in shown, final


def test_a_module_left_running_by_a_killed_run_changes_nothing(tmp_path):
    """The batch module of a run whose ansible-playbook and worker were killed (SIGKILL, a crashed controller, or an
    interruption that does not reach the module) is left running on its own. Its result can no longer reach anybody,
    so once its snapshot completes it must not apply retention: it stops at its next look, having deleted nothing."""
    with simulator(create_seconds=600) as sim:
        older = [add_snapshot(sim, 101, "pre-upgrade-2026010%d-000000" % day, days_old=10 - day) for day in (1, 2)]
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", {"web-1": 101})
        run = runner.start("vps.cloud.pre_upgrade", inventory)
        try:
            post = run.wait_for(lambda: [p for p in creation_posts(calls(sim)) if p["status"] == 201], what="the creation POST")[0]
            modules = [
                pid
                for pid in processes_of(run.run_dir)  # the Python running it, not the shells that started it
                if "AnsiballZ_vps_snapshot_batch" in command_line(pid) and not command_line(pid).startswith("/bin/sh")
            ]
            assert len(modules) == 1, dict((pid, command_line(pid)) for pid in processes_of(run.run_dir))
            # ansible-playbook and its worker (a fork of it) die; the module, and the shells between, stay.
            for pid in processes_of(run.run_dir):
                if "ansible-playbook" in command_line(pid):
                    kill(pid)
            mark = last_seq(sim)
            taken = max(s["id"] for s in of_server(sim, 101))
            finish_creation(sim, taken)
            # Left alone, it would see its snapshot completed and delete the oldest pre-upgrade one (retention 2).
            wait_until(lambda: not alive(modules[0]), timeout=120, what="the orphaned module to stop")
        finally:
            run.close()
        after = calls(sim, since=mark)
        assert post["body"]["server_id"] == 101
        assert not deletes(after), after
        assert not creation_posts(after) and not restore_posts(after), after
        assert sorted(s["id"] for s in of_server(sim, 101)) == older + [taken]
