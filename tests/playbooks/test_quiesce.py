# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Consistent restore points: pre_upgrade (and so the snapshot_guard role) quiesces each host while its snapshot is taken.

The freeze cases freeze real ext4 filesystems, loop-mounted (root only). A writer thread appends to a file on each of
them all along and records when each write started and returned: a write that blocks shows the freeze window, which
is compared with the simulator's request log (when the creation was requested) and the snapshot's completion time.
Without loop devices the freeze cases are skipped, saying why; with VPS_REQUIRE_LOOP=1 (scripts/test.sh sets it when
run as root) they fail instead, so that CI cannot pass them silently.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from ansible_collections.vps.cloud.tests.harness.playbook import Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.seeding import finish_creation
from ansible_collections.vps.cloud.tests.harness.simulator import calls, creation_posts, of_server
from ansible_collections.vps.cloud.tests.harness.waiting import wait_until
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import simulator

pytestmark = pytest.mark.timeout(300)

PRE_UPGRADE = "vps.cloud.pre_upgrade"
KEEP = "pre_upgrade_keep_snapshot=true"


# Real filesystems to freeze ------------------------------------------------------------------------


def _loop_problem():
    if os.geteuid() != 0:
        return "not root: loop mounts need root"
    for tool in ("mkfs.ext4", "mount", "umount", "fsfreeze", "losetup", "setsid", "pgrep"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    return None


class Mount:
    """An ext4 image loop-mounted on a folder of its own, with a writer that records every write's start and end."""

    def __init__(self, base):
        self.base = Path(tempfile.mkdtemp(prefix="vps-freeze-", dir=base))
        self.image = self.base / "fs.img"
        self.path = self.base / "mnt"
        self.path.mkdir()
        subprocess.run(["truncate", "-s", "32M", str(self.image)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(self.image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(self.image), str(self.path)], check=True)
        self.writes = []  # (started, returned), time.time()
        self._stop = threading.Event()
        self._thread = None

    def start_writer(self):
        self.writes = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()
        wait_until(lambda: len(self.writes) >= 3, 10, what="the writer to write")

    def _write(self):
        with open(self.path / "journal.log", "a") as handle:
            while not self._stop.is_set():
                started = time.time()
                handle.write("%.6f\n" % started)
                handle.flush()
                os.fsync(handle.fileno())
                self.writes.append((started, time.time()))
                time.sleep(0.02)

    def stop_writer(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            assert not self._thread.is_alive(), "the writer is still blocked: %s is frozen" % self.path

    def longest_block(self):
        """The write that blocked longest: (started, returned)."""
        return max(self.writes, key=lambda w: w[1] - w[0])

    def frozen_since_request(self, requested):
        """The writer has written nothing since `requested` (its write is held by a freeze from before then)."""
        return not [w for w in list(self.writes) if w[0] > requested]

    def frozen(self):
        """True if the filesystem is frozen now (a freeze of a frozen filesystem fails with EBUSY)."""
        result = subprocess.run(["fsfreeze", "-f", str(self.path)], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            subprocess.run(["fsfreeze", "-u", str(self.path)], check=True)
            return False
        return True

    def remove(self):
        subprocess.run(["fsfreeze", "-u", str(self.path)], capture_output=True, check=False)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        subprocess.run(["umount", "-l", str(self.path)], check=False)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def mounts(tmp_path):
    problem = _loop_problem()
    if problem:
        if os.environ.get("VPS_REQUIRE_LOOP") == "1":
            pytest.fail("the freeze tests must run here (VPS_REQUIRE_LOOP=1) but cannot: %s" % problem)
        pytest.skip("no loop-mounted filesystem to freeze: %s" % problem)
    made = []

    def make():
        mount = Mount(str(tmp_path))
        made.append(mount)
        return mount

    yield make
    for mount in made:
        mount.remove()


# Helpers -------------------------------------------------------------------------------------------


def run_pre_upgrade(sim, tmp_path, hosts, extra, check=False):
    tmp_path.mkdir(parents=True, exist_ok=True)
    runner = Runner(sim, tmp_path)
    inventory = write_inventory(tmp_path / "inventory.yml", hosts)
    return runner.run(PRE_UPGRADE, inventory, list(extra), check=check)


def freeze_args(mount, *more):
    return ["pre_upgrade_quiesce=freeze", "pre_upgrade_freeze_paths=%s" % mount.path, KEEP] + list(more)


def quiesce_result(run, host):
    return run.facts(host).get("snapshot_guard_quiesce_result")


def post_time(sim, server_id):
    (post,) = [p for p in creation_posts(calls(sim)) if p["body"]["server_id"] == server_id]
    return post["time"]


def ready_time(sim, snapshot_id):
    with sim.store.lock:
        return sim.store.snapshots[snapshot_id]["ready"]


# The freeze ----------------------------------------------------------------------------------------


def test_a_freeze_holds_writes_from_before_the_request_until_the_snapshot_completed(mounts, tmp_path):
    mount = mounts()
    with simulator(create_seconds=3) as sim:
        mount.start_writer()
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, freeze_args(mount))
        mount.stop_writer()

        assert run.rc == 0, run
        (snapshot,) = of_server(sim, 101)
        assert snapshot["status"] == "completed"
        assert snapshot["description"].endswith("[vps.cloud quiesce: freeze held until completed]")
        blocked_from, blocked_until = mount.longest_block()
        requested, completed = post_time(sim, 101), ready_time(sim, snapshot["id"])
        # Writes stopped before the creation was requested, and resumed only once the snapshot had completed.
        assert blocked_from < requested < completed <= blocked_until, (blocked_from, requested, completed, blocked_until)
        assert [w for w in mount.writes if w[0] > blocked_until], "writes resume after the thaw"
        assert not mount.frozen()
        result = quiesce_result(run, "web-1")
        assert result["quiesced"] is True and result["mode"] == "freeze" and result["release"] == "completed", result
        assert result["detail"] == "freeze held until the snapshot was completed"
        assert float(result["armed_at"]) <= float(result["quiesced_at"]) < requested < float(result["thawed_at"])
        assert run.said("web-1", "freeze held until the snapshot was completed")
        # The snapshot this run took is called taken, not reused (the held wait is a second batch call).
        assert run.said("web-1", "Took snapshot '%s' (id %s" % (snapshot["name"], snapshot["id"])), run
        print(
            "freeze window: frozen %.3f s before the request, released %.3f s after it, thawed %.3f s after it;"
            " writes blocked %.3f s"
            % (
                requested - float(result["quiesced_at"]),
                float(result["released_at"]) - requested,
                float(result["thawed_at"]) - requested,
                blocked_until - blocked_from,
            )
        )


def test_release_at_acceptance_thaws_before_the_snapshot_completes_then_waits_for_it(mounts, tmp_path):
    mount = mounts()
    with simulator(create_seconds=8) as sim:
        mount.start_writer()
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, freeze_args(mount, "pre_upgrade_quiesce_release=accepted"))
        mount.stop_writer()

        assert run.rc == 0, run
        (snapshot,) = of_server(sim, 101)
        assert snapshot["status"] == "completed"
        assert snapshot["description"].endswith("[vps.cloud quiesce: freeze held until accepted]")
        assert len(creation_posts(calls(sim))) == 1, "the wait never sends the creation again"
        blocked_from, blocked_until = mount.longest_block()
        requested, completed = post_time(sim, 101), ready_time(sim, snapshot["id"])
        assert blocked_from < requested < blocked_until < completed, (blocked_from, requested, blocked_until, completed)
        result = quiesce_result(run, "web-1")
        assert result["quiesced"] is True and result["release"] == "accepted", result
        assert run.said("web-1", "Took snapshot '%s' (id %s" % (snapshot["name"], snapshot["id"])), run


def test_a_refused_creation_thaws_and_fails_the_host(mounts, tmp_path):
    mount = mounts()
    with simulator() as sim:
        sim.add_snapshots(101, 5)  # at the limit, and nothing may be deleted: the creation is refused
        mount.start_writer()
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, freeze_args(mount))
        mount.stop_writer()

        assert run.rc != 0 and run.failed_hosts() == ["web-1"], run
        assert not mount.frozen()
        assert not creation_posts(calls(sim))
        assert len(of_server(sim, 101)) == 5
        assert run.said("web-1", "No snapshot of server 101")
        assert run.task_results("Run the upgrade task file") == [] and "UPGRADED" not in run.stdout


def test_a_failed_snapshot_thaws_and_fails_the_host_while_the_other_host_of_the_batch_is_quiesced(mounts, tmp_path):
    good, bad = mounts(), mounts()
    with simulator(create_seconds=2) as sim:
        sim.set_faults(fail_next=1)
        good.start_writer()
        bad.start_writer()
        hosts = {
            "web-1": {"vps_server_id": 101, "pre_upgrade_freeze_paths": str(good.path)},
            "web-2": {"vps_server_id": 102, "pre_upgrade_freeze_paths": str(bad.path)},
        }
        run = run_pre_upgrade(sim, tmp_path, hosts, ["pre_upgrade_quiesce=freeze", KEEP])
        good.stop_writer()
        bad.stop_writer()

        statuses = dict((s["server"]["id"], s["status"]) for s in sim.snapshots())
        failed = [server for server, status in statuses.items() if status == "failed"]
        assert sorted(statuses.values()) == ["completed", "failed"], statuses
        failed_host = {101: "web-1", 102: "web-2"}[failed[0]]
        other_host = {"web-1": "web-2", "web-2": "web-1"}[failed_host]
        assert run.failed_hosts() == [failed_host], run
        assert not good.frozen() and not bad.frozen()
        assert quiesce_result(run, other_host)["quiesced"] is True
        assert run.said(other_host, "UPGRADED")


def test_max_seconds_shorter_than_the_creation_thaws_on_time_and_fails_the_host_naming_the_snapshot(mounts, tmp_path):
    mount = mounts()
    with simulator(create_seconds=12) as sim:
        mount.start_writer()
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, freeze_args(mount, "pre_upgrade_quiesce_max_seconds=3"))
        mount.stop_writer()

        assert run.failed_hosts() == ["web-1"], run
        (snapshot,) = of_server(sim, 101)
        assert snapshot["status"] == "completed", "the snapshot is kept, a crash-consistent restore point"
        blocked_from, blocked_until = mount.longest_block()
        completed = ready_time(sim, snapshot["id"])
        # The guard thawed after 3 s, long before the snapshot completed.
        assert blocked_until < completed, (blocked_until, completed)
        assert blocked_until - blocked_from < 3 + 3
        assert run.said("web-1", "QUIESCE NOT HELD")
        assert run.said("web-1", "(id %s, completed)" % snapshot["id"])
        assert quiesce_result(run, "web-1")["quiesced"] is False
        assert run.task_results("Run the upgrade task file") == [] and "UPGRADED" not in run.stdout
        assert not mount.frozen()


def test_max_seconds_running_out_is_a_warning_when_the_quiesce_is_not_required(mounts, tmp_path):
    mount = mounts()
    with simulator(create_seconds=6) as sim:
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, freeze_args(mount, "pre_upgrade_quiesce_max_seconds=2", "pre_upgrade_quiesce_required=false"))

        assert run.rc == 0, run
        assert run.said("web-1", "WARNING: web-1:") and run.said("web-1", "UPGRADED")
        assert quiesce_result(run, "web-1")["quiesced"] is False
        assert not mount.frozen()


def test_a_killed_ansible_playbook_leaves_no_frozen_filesystem(mounts, tmp_path):
    mount = mounts()
    with simulator(create_seconds=600) as sim:
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", {"web-1": 101})
        mount.start_writer()
        handle = runner.start(PRE_UPGRADE, inventory, freeze_args(mount, "pre_upgrade_quiesce_max_seconds=8"))
        try:
            handle.wait_for(lambda: creation_posts(calls(sim)), timeout=120, what="the creation request")
            assert mount.frozen()
            killed_at = time.time()
            os.killpg(handle.pgid, signal.SIGKILL)
            # Within max_seconds of the freeze (at most, counted from the kill) plus a few seconds, writes go on.
            wait_until(lambda: not mount.frozen(), 8 + 5, interval=0.2, what="the guard to thaw the filesystem")
            thawed_after = time.time() - killed_at
        finally:
            handle.close()
        mount.stop_writer()
        blocked_from, blocked_until = mount.longest_block()
        assert blocked_until - blocked_from <= 8 + 5, (blocked_from, blocked_until)
        print("killed while frozen: thawed %.1f s after the kill, writes blocked %.1f s" % (thawed_after, blocked_until - blocked_from))


# Refusals before anything is snapshotted ------------------------------------------------------------


@pytest.mark.parametrize(
    "paths, words",
    [
        ("/", "is the root filesystem (/)"),
        ("NOT_A_MOUNT", "is not a mount point"),
        ("relative/path", "is not an absolute path"),
    ],
)
def test_freeze_refuses_root_and_what_is_not_a_mount_point_before_anything_is_snapshotted(tmp_path, paths, words):
    plain = tmp_path / "plain-folder"
    plain.mkdir()
    paths = paths.replace("NOT_A_MOUNT", str(plain))
    with simulator() as sim:
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, ["pre_upgrade_quiesce=freeze", "pre_upgrade_freeze_paths=%s" % paths, KEEP])

        assert run.failed_hosts() == ["web-1"], run
        assert run.said("web-1", words)
        assert run.said("web-1", "Nothing was frozen or snapshotted")
        assert not [e for e in calls(sim) if e["method"] != "GET"]


def test_an_unknown_way_to_quiesce_is_refused_naming_the_choices(tmp_path):
    with simulator() as sim:
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, ["pre_upgrade_quiesce=pause"])

        assert run.failed_hosts() == ["web-1"], run
        # The role's argument spec refuses it before any task runs.
        assert "snapshot_guard_quiesce" in run.stdout and "none, sync, freeze, tasks" in run.stdout and "pause" in run.stdout
        assert not creation_posts(calls(sim))


# Check mode, sync, none, tasks ----------------------------------------------------------------------


def test_check_mode_says_what_would_be_frozen_and_touches_nothing(mounts, tmp_path):
    mount = mounts()
    with simulator() as sim:
        mount.start_writer()
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, freeze_args(mount), check=True)
        mount.stop_writer()

        assert run.rc == 0, run
        assert run.said("web-1", "Check mode: would freeze %s (checked: mount points, not /)" % mount.path)
        assert run.said("web-1", "hold it until the snapshot is completed")
        assert not [e for e in calls(sim) if e["method"] != "GET"]
        blocked_from, blocked_until = mount.longest_block()
        assert blocked_until - blocked_from < 1, "nothing was frozen"
        assert quiesce_result(run, "web-1")["quiesced"] is False


@pytest.mark.parametrize(
    "mode, note, detail",
    [
        ("sync", "[vps.cloud quiesce: sync]", "filesystems flushed (sync) right before the request; not held"),
        ("none", "[vps.cloud quiesce: none]", "taken without quiescing"),
    ],
)
def test_sync_and_none_note_how_the_snapshot_was_taken(tmp_path, mode, note, detail):
    with simulator() as sim:
        extra = [KEEP] if mode == "sync" else [KEEP, "pre_upgrade_quiesce=none"]  # sync is the default
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, extra)

        assert run.rc == 0, run
        (snapshot,) = of_server(sim, 101)
        assert snapshot["description"].endswith(note)
        result = quiesce_result(run, "web-1")
        assert result["mode"] == mode and result["quiesced"] is False and result["detail"] == detail
        assert ("Flush the host's filesystems" in run.stdout) is (mode == "sync")


def write_task_files(folder, fail_quiesce=False):
    journal = folder / "order.log"
    quiesce = folder / "quiesce.yml"
    thaw = folder / "thaw.yml"
    quiesce.write_text(
        "- name: Record the quiesce\n"
        '  ansible.builtin.shell: echo "quiesce $(date +%%s.%%N)" >> %s\n'
        "  changed_when: true\n"
        % journal
        + ("- name: Fail the quiesce\n  ansible.builtin.fail:\n    msg: the database did not checkpoint\n" if fail_quiesce else "")
    )
    thaw.write_text('- name: Record the thaw\n  ansible.builtin.shell: echo "thaw $(date +%%s.%%N)" >> %s\n  changed_when: true\n' % journal)
    return journal, ["pre_upgrade_quiesce=tasks", "pre_upgrade_quiesce_tasks_file=%s" % quiesce, "pre_upgrade_thaw_tasks_file=%s" % thaw, KEEP]


def journal_of(journal):
    return [(word, float(at)) for word, at in (line.split() for line in journal.read_text().splitlines())]


def test_tasks_mode_runs_the_quiesce_file_before_the_request_and_the_thaw_file_after_completion(tmp_path):
    journal, extra = write_task_files(tmp_path)
    with simulator(create_seconds=2) as sim:
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, extra)

        assert run.rc == 0, run
        (snapshot,) = of_server(sim, 101)
        entries = journal_of(journal)
        assert [entry[0] for entry in entries] == ["quiesce", "thaw"]
        assert entries[0][1] < post_time(sim, 101) < ready_time(sim, snapshot["id"]) <= entries[1][1]
        assert snapshot["description"].endswith("[vps.cloud quiesce: tasks held until completed]")
        assert quiesce_result(run, "web-1")["quiesced"] is True
        assert run.said("web-1", "Took snapshot '%s' (id %s" % (snapshot["name"], snapshot["id"])), run


def test_a_failed_quiesce_task_still_runs_the_thaw_file_and_takes_no_snapshot(tmp_path):
    journal, extra = write_task_files(tmp_path, fail_quiesce=True)
    with simulator() as sim:
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, extra)

        assert run.failed_hosts() == ["web-1"], run
        assert [entry[0] for entry in journal_of(journal)] == ["quiesce", "thaw"]
        assert not creation_posts(calls(sim))
        assert run.said("web-1", "QUIESCE FAILED on web-1")
        assert run.said("web-1", "the database did not checkpoint")


def test_the_report_shows_which_snapshots_are_consistent(mounts, tmp_path):
    mount = mounts()
    with simulator() as sim:
        frozen = run_pre_upgrade(sim, tmp_path / "a", {"web-1": 101}, freeze_args(mount))
        synced = run_pre_upgrade(sim, tmp_path / "b", {"web-2": 102}, [KEEP])
        assert frozen.rc == 0 and synced.rc == 0, (frozen, synced)
        inventory = write_inventory(tmp_path / "report.yml", {"web-1": 101, "web-2": 102})
        report = Runner(sim, tmp_path / "c").run("vps.cloud.report", inventory)

        assert report.rc == 0, report
        lines = [e for e in report.events if e.get("task", "").endswith("Show the snapshots as a table")][0]["result"]["msg"]
        assert "CONSISTENCY" in lines[1]
        assert [line for line in lines if " web-1 " in line and "quiesced (freeze until completed)" in line], lines
        assert [line for line in lines if " web-2 " in line and "flushed (sync)" in line], lines


def test_each_host_of_a_batch_is_thawed_as_soon_as_its_own_snapshot_has_completed(mounts, tmp_path):
    quick, slow = mounts(), mounts()
    # The slow snapshot completes only when the test says so, once the quick host's writes have resumed: the order is
    # decided by conditions, not by how busy the machine is.
    with simulator(create_seconds_by_server={101: 2, 102: 3600}) as sim:
        quick.start_writer()
        slow.start_writer()
        hosts = {
            "quick-1": {"vps_server_id": 101, "pre_upgrade_freeze_paths": str(quick.path)},
            "slow-1": {"vps_server_id": 102, "pre_upgrade_freeze_paths": str(slow.path)},
        }
        tmp_path.mkdir(parents=True, exist_ok=True)
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", hosts)
        background = runner.start(PRE_UPGRADE, inventory, ["pre_upgrade_quiesce=freeze", KEEP])
        try:

            def posted(server_id):
                return [p for p in creation_posts(calls(sim)) if p["body"]["server_id"] == server_id]

            # A write that starts after the quick host's request: the freeze that held it from before the request is gone.
            wait_until(
                lambda: posted(101) and any(w[0] > posted(101)[0]["time"] for w in list(quick.writes)),
                240,
                what="the quick host's writes to resume after its snapshot",
            )
            wait_until(lambda: posted(102) and of_server(sim, 102), 60, what="the slow host's snapshot to be requested")
            (slow_snapshot,) = of_server(sim, 102)
            assert slow_snapshot["status"] != "completed" and slow.frozen_since_request(posted(102)[0]["time"])
            finish_creation(sim, slow_snapshot["id"])
            run = background.wait(timeout=300)
        finally:
            background.close()
        quick.stop_writer()
        slow.stop_writer()

        assert run.rc == 0, run
        snaps = dict((s["server"]["id"], s) for s in sim.snapshots())
        quick_done, slow_done = ready_time(sim, snaps[101]["id"]), ready_time(sim, snaps[102]["id"])
        quick_from, quick_until = quick.longest_block()
        slow_from, slow_until = slow.longest_block()
        # Both held from before their request until their own completion; the quick one thawed before the slow one completed.
        assert quick_from < post_time(sim, 101) < quick_done <= quick_until < slow_done <= slow_until, (
            quick_from,
            quick_done,
            quick_until,
            slow_done,
            slow_until,
        )
        assert slow_from < post_time(sim, 102)
        assert len(creation_posts(calls(sim))) == 2, "the waits never send a creation again"
        for host in hosts:
            assert quiesce_result(run, host)["quiesced"] is True, host


def test_a_creation_that_outlasts_wait_timeout_thaws_at_the_timeout_not_at_max_seconds(mounts, tmp_path):
    mount = mounts()
    with simulator(create_seconds=60) as sim:
        mount.start_writer()
        run = run_pre_upgrade(sim, tmp_path, {"web-1": 101}, freeze_args(mount, "pre_upgrade_quiesce_max_seconds=120", "snapshot_guard_wait_timeout=4"))
        mount.stop_writer()

        assert run.failed_hosts() == ["web-1"], run
        (snapshot,) = of_server(sim, 101)
        assert snapshot["status"] == "in_progress", "the snapshot goes on at the provider"
        blocked_from, blocked_until = mount.longest_block()
        # Thawed when the wait gave up (4 s), long before the guard's 120 s.
        assert blocked_until - blocked_from < 60, (blocked_from, blocked_until)
        assert not mount.frozen()
        assert run.said("web-1", "No snapshot of server 101")
