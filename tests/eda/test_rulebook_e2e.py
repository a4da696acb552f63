# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""End to end: ansible-rulebook (from .venvs/eda) runs the shipped rulebook vps.cloud.snapshots against the simulator.

A snapshot is made to fail, a second server reaches the limit of 5 and a third loses its only restore point; the
rules must fire, and their playbooks must have done their work at the simulator (its request log): the failed
snapshot deleted and taken again, a check-mode prune report of the full server (nothing deleted there), a new
snapshot of the third server. Bounded in time; ansible-rulebook's whole process group is always stopped.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from ansible_collections.vps.cloud.tests.harness.playbook import collections_path
from ansible_collections.vps.cloud.tests.harness.simulator import Simulator, api_calls

pytestmark = pytest.mark.timeout(420)

TOKEN = "eda-e2e-tok-SECRET-4Kz9"
SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "db-01", "status": "running"},
]
# Seconds: ansible-rulebook's JVM and its first poll, and then every rule's playbook, on a busy 2-core machine.
START_TIMEOUT = 150
RULES_TIMEOUT = 180


def eda_venv():
    """.venvs/eda: VPS_EDA_VENV (scripts/test.sh sets it), else beside the tool venv running this test."""
    path = Path(os.environ.get("VPS_EDA_VENV") or Path(sys.prefix).parent / ".venvs" / "eda")
    if not (path / "bin" / "ansible-rulebook").exists():
        pytest.fail("ansible-rulebook is not in %s: build the EDA venv first (bash scripts/eda.sh)" % path)
    return path


def wait_until(condition, timeout, what, process=None, output=None):
    """Poll `condition()` until it is true; fail early, with ansible-rulebook's output, if the process ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail("ansible-rulebook ended (exit %s) while waiting for %s:\n%s" % (process.returncode, what, output.read_text()[-5000:] if output else ""))
        time.sleep(0.2)
    pytest.fail("timed out after %ss waiting for %s:\n%s" % (timeout, what, output.read_text()[-5000:] if output else ""))


def api(sim, method=None, path=None):
    return [e for e in api_calls(sim.request_log(), method) if path is None or re.match(path, e["path"])]


def body(entry):
    value = entry.get("body")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return value or {}


def stop(process):
    """SIGTERM to ansible-rulebook's process group (it and every playbook it started), SIGKILL if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        except ProcessLookupError:
            pass
    # Anything of the group still there (a playbook that ignored SIGTERM).
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_the_shipped_rulebook_retakes_a_failed_snapshot_reports_a_full_server_and_takes_a_restore_point(tmp_path):
    venv = eda_venv()
    reports = tmp_path / "reports"
    reports.mkdir()
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=1, page_size=20) as sim:
        sim.seed_snapshots(101, ["base-101"])
        daily = sim.seed_snapshots(102, ["daily-1", "daily-2", "daily-3", "daily-4"], spacing=3600)
        only_103 = sim.seed_snapshots(103, ["only-103"])[0]
        (tmp_path / "inventory.yml").write_text(
            yaml.safe_dump({"all": {"hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": str(venv / "bin" / "python")}}}})
        )
        (tmp_path / "vars.yml").write_text(yaml.safe_dump({"vps_eda_interval": 1, "vps_eda_max_age_hours": 24, "eda_report_dir": str(reports)}))
        env = dict(
            os.environ,
            VPS_API_URL=sim.base_url,
            VPS_API_TOKEN=TOKEN,
            ANSIBLE_COLLECTIONS_PATH=collections_path(),
            ANSIBLE_NOCOLOR="1",
            NO_COLOR="1",
            ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
            TMPDIR=str(tmp_path),
            PATH=str(venv / "bin") + os.pathsep + os.environ.get("PATH", ""),
        )
        # As in a decision environment: nothing puts the collection on sys.path; the source finds its module_utils itself.
        for name in ("VIRTUAL_ENV", "PYTHONPATH"):
            env.pop(name, None)
        output = tmp_path / "rulebook.log"
        command = [
            str(venv / "bin" / "ansible-rulebook"),
            "--rulebook",
            "vps.cloud.snapshots",
            "-i",
            str(tmp_path / "inventory.yml"),
            "--vars",
            str(tmp_path / "vars.yml"),
            "--print-events",
            "-v",
        ]
        timeline = []
        started = time.monotonic()

        def mark(what):
            timeline.append("%6.1fs  %s" % (time.monotonic() - started, what))

        with open(output, "w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), start_new_session=True)
        try:
            # Two polls: the first one, the baseline, is surely taken.
            wait_until(lambda: len(api(sim, "GET", r"^/api/v1/snapshots/$")) >= 2, START_TIMEOUT, "the source's first two polls", process, output)
            mark("baseline taken (2 polls seen)")
            auth = {"Authorization": "Bearer " + TOKEN}

            # 1. A snapshot that fails.
            sim.set_faults(fail_next=1)
            answer = requests.post(sim.base_url + "/snapshots/", json={"server_id": 101, "name": "nightly"}, headers=auth, timeout=10)
            assert answer.status_code == 201, answer.text
            failed_id = answer.json()["id"]
            # 2. A server reaching the limit of 5.
            sim.seed_snapshots(102, ["daily-5"])
            # 3. A server losing its only restore point.
            assert requests.delete("%s/snapshots/%d/" % (sim.base_url, only_103), headers=auth, timeout=10).status_code == 204
            mark("changes made: snapshot %d of server 101 will fail, server 102 at 5, server 103's only snapshot deleted" % failed_id)

            def retaken():
                deleted = api(sim, "DELETE", r"^/api/v1/snapshots/%d/$" % failed_id)
                posts = [e for e in api(sim, "POST", r"^/api/v1/snapshots/$") if body(e).get("name") == "nightly"]
                return deleted and len(posts) >= 2 and posts[-1]["seq"] > deleted[0]["seq"] and posts[-1]

            def reported():
                return sorted(reports.glob("prune-report-102-*.json"))

            def restore_point():
                return [
                    e
                    for e in api(sim, "POST", r"^/api/v1/snapshots/$")
                    if body(e).get("server_id") == 103 and str(body(e).get("name", "")).startswith("eda-restore-point-")
                ]

            pending = {"retake of the failed snapshot": retaken, "prune report of server 102": reported, "restore point of server 103": restore_point}
            deadline = time.monotonic() + RULES_TIMEOUT
            while True:
                for what, condition in list(pending.items()):
                    if condition():
                        mark(what + " done")
                        del pending[what]
                if not pending:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "still waiting for %s after %ss (ansible-rulebook exit %s):\n%s"
                        % (", ".join(pending), RULES_TIMEOUT, process.returncode, output.read_text()[-6000:])
                    )
                time.sleep(0.2)

            # What each playbook did at the provider.
            retake = retaken()
            assert retake["status"] == 201 and body(retake)["server_id"] == 101
            assert [s["status"] for s in sim.snapshots() if s["id"] == failed_id] == []  # the failed one is gone
            assert not api(sim, "DELETE", r"^/api/v1/snapshots/(%s)/$" % "|".join(str(i) for i in daily)), (
                "the prune report ran in check mode: nothing of server 102 may be deleted"
            )
            report = json.loads(reported()[0].read_text())
            assert report["server"] == {"id": 102, "name": "web-02"} and report["keep"] == 4 and report["count"] == 5
            assert [s["name"] for s in report["would_delete"]] == ["daily-1"]
            assert len([e for e in restore_point() if e["status"] == 201]) == 1
            assert len(api(sim, "POST", r"^/api/v1/snapshots/$")) == 3  # ours, the retake, the restore point: no more
        finally:
            stop(process)
            mark("ansible-rulebook stopped (exit %s)" % process.returncode)
            print("\n".join(["timeline:"] + timeline))

    log = output.read_text()
    events = re.findall(r"""['"]type['"]: ['"]((?:snapshot|server)\.[a-z_]+)['"]""", log)
    print("events printed by ansible-rulebook: %s" % events)
    for expected in ("snapshot.created", "snapshot.failed", "server.at_limit", "snapshot.deleted", "server.no_restore_point"):
        assert expected in events, log[-5000:]
    assert events.count("snapshot.failed") == 1 and events.count("server.at_limit") == 1
    assert TOKEN not in log
    assert "Traceback" not in log, log[-5000:]
