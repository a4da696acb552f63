# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures and the end-of-run tally of the fault suite.

tests/faults is a package, so this conftest is `faults.conftest` and never shadows tests/e2e's `conftest`.
The helpers live in fault_harness, imported as a plain module from this directory.
"""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
for folder in (HERE, os.path.dirname(HERE)):  # fault_harness, and the shared playbook_harness
    if folder not in sys.path:
        sys.path.insert(0, folder)

from fault_harness import SERVERS, TALLY, TOKEN, Simulator  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture
def sim():
    with Simulator(tokens=[TOKEN], servers=SERVERS, create_seconds=1, restore_seconds=1, page_size=20) as simulator:
        yield simulator


def pytest_terminal_summary(terminalreporter):
    if not TALLY.counts["playbook runs"]:
        return
    terminalreporter.write_sep("=", "vps.cloud fault suite tally")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
    bad = TALLY.bad()
    terminalreporter.write_line("invariants (duplicates, unexpected deletions, tracebacks, token leaks, unclear failures all 0): %s"
                                % ("FAILED %s" % bad if bad else "ok"))


def pytest_sessionfinish(session):
    # The invariants hold across the whole suite, not only inside each test.
    if TALLY.bad() and session.exitstatus == 0:
        session.exitstatus = 1
