# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures and the end-of-run tally of the fault suite.

The suite's own parts (the tally, its detectors, the recorder) are in fault_harness.py, the runs and the simulator in
the harness (ansible_collections.vps.cloud.tests.harness).
"""

from __future__ import annotations

import pytest

from ansible_collections.vps.cloud.tests.faults.fault_harness import BACKGROUND, SERVERS, TALLY, TOKEN
from ansible_collections.vps.cloud.tests.harness.simulator import fast_simulator


def pytest_collection_modifyitems(items):
    """The tests that judge background runs go last, so that the other tests run while those runs do."""

    def judges_background(item):
        return hasattr(getattr(item, "module", None), "start_background")

    items[:] = [item for item in items if not judges_background(item)] + [item for item in items if judges_background(item)]


@pytest.fixture(scope="session", autouse=True)
def background_runs(request, tmp_path_factory):
    """Start the long playbook runs of every selected test module that has some (start_background), in the order of
    the tests, before the first test: they run while the other tests do."""
    modules = []
    for item in request.session.items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "start_background") and module not in modules:
            modules.append(module)
    for module in modules:
        BACKGROUND.started(module.start_background, tmp_path_factory)


@pytest.fixture
def sim():
    with fast_simulator(TOKEN, SERVERS, page_size=20) as simulator:
        yield simulator


def pytest_terminal_summary(terminalreporter):
    if not TALLY.counts["playbook runs"]:
        return
    terminalreporter.write_sep("=", "vps.cloud fault suite tally")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
    bad = TALLY.bad()
    terminalreporter.write_line("invariants (%s all 0): %s" % (", ".join(TALLY.MUST_BE_ZERO), "FAILED %s" % bad if bad else "ok"))


def pytest_sessionfinish(session):
    # The invariants hold across the whole suite, not only inside each test.
    if TALLY.bad() and session.exitstatus == 0:
        session.exitstatus = 1
