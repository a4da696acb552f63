# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one test harness for everything that runs ansible-playbook against the simulator (tests/e2e, tests/playbooks,
tests/faults, tests/runner, and the benchmark, tools/benchmark), and the one virtual clock of every suite.

Imported as ``ansible_collections.vps.cloud.tests.harness.<module>``: the scripts (scripts/test.sh, scripts/test_one.sh)
lay the collection out under ansible_collections/vps/cloud and put the folder holding ansible_collections on PYTHONPATH.
No sys.path changes, no ``from conftest import``. Fixtures stay in each suite's conftest.py; the helpers are here:

- ``simulator``: the simulator (tools/vps_simulator) and what it saw: its request log read as API calls, creation and
  restore POSTs, DELETEs, deleted ids, listings, a server's snapshots;
- ``seeding``: snapshots with exact names, statuses and ages, servers gone, creations finished early;
- ``playbook``: running ansible-playbook: a list of tasks (``run_playbook``, each result registered) or a playbook as
  a user types it (``Runner``, with the events callback and the fact cache); both check the API token appears nowhere;
- ``background``: a run going on while the test watches (``Background``), independent runs at once (``Concurrent``),
  runs started at the beginning of the session (``EarlyStart``), the processes a run left, a snapshot counter;
- ``waiting``: ``wait_until``, the one way to wait for a condition (never a fixed sleep);
- ``clock``: the one virtual clock (``VirtualClock``: time that passes only when the code sleeps), which the unit tests,
  the simulator tests, the event source's tests and the benchmark use (standard library only: it imports anywhere).
"""
