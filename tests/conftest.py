# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared by every suite under tests/: each test has a timeout (pytest-timeout), so a hang fails that test
instead of stalling the run. A test module may set its own with `pytestmark = pytest.mark.timeout(N)`."""

from __future__ import annotations

import pytest

# Seconds per test, by suite (the folder under tests/). Units and simulator tests take well under a second; the
# others run real ansible-playbook processes against the simulator.
SUITE_TIMEOUTS = {"unit": 60, "simulator": 60, "e2e": 300, "faults": 300, "playbooks": 600, "runner": 600}
DEFAULT_TIMEOUT = 300


def suite_of(nodeid):
    """The folder under the last `tests/` of a test's path ('unit', 'e2e', ...)."""
    parts = nodeid.split("::")[0].split("/")
    index = len(parts) - 1 - parts[::-1].index("tests") if "tests" in parts else -1
    return parts[index + 1] if 0 <= index < len(parts) - 1 else None


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("timeout"):
        raise pytest.UsageError(
            "pytest-timeout is not installed: every test here has a timeout "
            "(tests/unit/requirements.txt, tests/requirements-core.txt, tests/requirements-dev.txt)"
        )
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(SUITE_TIMEOUTS.get(suite_of(item.nodeid), DEFAULT_TIMEOUT)))
