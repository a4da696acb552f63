# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every supported ansible-core runs this suite (2.16 and 2.21 in CI, 2.19 as the tool venv): the same results on each
are what proves the role and playbooks behave identically. This module pins the issue reported on 2.16-2.18,
"argument 'snapshot_guard_retention' is of type <class 'str'> ... ''": extra vars typed on a command line are
strings, and optional variables left unset must reach no integer option as an empty string."""

import pytest

from ansible_collections.vps.cloud.tests.harness.playbook import CORE, Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.seeding import add_snapshot
from ansible_collections.vps.cloud.tests.harness.simulator import calls, creation_posts, deleted_ids, of_server
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import simulator

pytestmark = pytest.mark.timeout(600)

# Every pre_upgrade variable, as a user types it after -e: all strings.
STRINGS = [
    "pre_upgrade_retention=2",
    "pre_upgrade_retention_match=pre-upgrade-*",
    "pre_upgrade_serial=2",
    "pre_upgrade_max_fail_percentage=50",
    "pre_upgrade_keep_snapshot=no",
    "pre_upgrade_restore_concurrency=2",
    "pre_upgrade_reconnect_timeout=5",
    "pre_upgrade_safety_snapshot=false",
    "pre_upgrade_hosts=all",
]


def test_pre_upgrade_takes_string_extra_vars_and_leaves_unset_options_out(tmp_path):
    assert CORE >= (2, 16)
    with simulator() as sim:
        old = {
            "old-1": add_snapshot(sim, 101, "pre-upgrade-20250101-000000", days_old=3),
            "old-2": add_snapshot(sim, 101, "pre-upgrade-20250102-000000", days_old=2),
            "failed": add_snapshot(sim, 101, "pre-upgrade-20250103-000000", status="failed", days_old=1),
            "manual": add_snapshot(sim, 101, "manual-1", days_old=4),
        }
        runner = Runner(sim, tmp_path)
        inventory = write_inventory(tmp_path / "inventory.yml", {"web-1": 101, "web-2": 102})
        run = runner.run("vps.cloud.pre_upgrade", inventory, STRINGS)
        log = calls(sim)

        assert run.rc == 0, run
        assert "is of type" not in run.stdout + run.stderr, run
        for host in ("web-1", "web-2"):
            assert run.said(host, "UPGRADED: %s" % host), run
        assert len(creation_posts(log)) == 2
        # pre_upgrade_retention=2 (a string) counted the new snapshot: the failed one and the oldest completed one went,
        # then the new one was deleted after the upgrade; the user's manual snapshot was never a candidate.
        taken = [run.facts(host)["snapshot_guard_snapshot"]["id"] for host in ("web-1", "web-2")]
        assert sorted(deleted_ids(log, gone_too=True)) == sorted([old["failed"], old["old-1"]] + taken), log
        assert sorted(s["id"] for s in of_server(sim, 101)) == sorted([old["old-2"], old["manual"]])
        assert of_server(sim, 102) == []
