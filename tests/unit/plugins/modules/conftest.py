# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures for the module tests: the virtual clock injected where the modules build their client and service."""

from __future__ import annotations

import functools

import pytest

from ansible_collections.vps.cloud.plugins.module_utils import client, module_boundary, service
from ansible_collections.vps.cloud.tests.unit.helpers import VirtualTime, run_module


@pytest.fixture(autouse=True)
def vtime(monkeypatch):
    """Inject the virtual clock where the module boundary builds the client and the service (tests/unit/conftest.py
    forbids the real sleep)."""
    clock = VirtualTime()
    monkeypatch.setattr(module_boundary, "VpsClient", functools.partial(client.VpsClient, sleep=clock.sleep, clock=clock.monotonic))
    monkeypatch.setattr(
        module_boundary, "SnapshotService", functools.partial(service.SnapshotService, sleep=clock.sleep, clock=clock.monotonic, now=clock.time)
    )
    return clock


@pytest.fixture
def run(capsys):
    """run(module, args, check_mode=False, diff=False) -> the module's result, with `rc`."""
    return functools.partial(run_module, capsys=capsys)
