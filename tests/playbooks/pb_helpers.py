# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What tests/playbooks share beyond the harness (tests/harness): the suite's token, servers and simulator.

Imported as ansible_collections.vps.cloud.tests.playbooks.pb_helpers. The runs themselves (Runner, Concurrent, ...)
are the harness's.
"""

from __future__ import annotations

from pathlib import Path

from ansible_collections.vps.cloud.tests.harness.simulator import fast_simulator

# Distinctive, so that a leak anywhere is found by a plain substring search.
TOKEN = "pbk-Tok-4Rz8-Wq2M-SECRET-never-shown"
FILES = Path(__file__).resolve().parent / "files"
SERVERS = [
    {"id": 101, "name": "web-01", "status": "running"},
    {"id": 102, "name": "web-02", "status": "running"},
    {"id": 103, "name": "web-03", "status": "running"},
    {"id": 104, "name": "db-01", "status": "running"},
    {"id": 105, "name": "db-02", "status": "running"},
]
# The provider's limit of snapshots per server.
LIMIT = 5


def simulator(servers=None, **settings):
    """A simulator with the suite's token and servers and fast operations (1 s creations and restores) unless the test
    says otherwise."""
    return fast_simulator(TOKEN, servers or SERVERS, **settings)
