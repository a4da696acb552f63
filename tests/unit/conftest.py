# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures shared by every unit test: a strict HTTP mock, the virtual clock, and no real sleep anywhere."""

from __future__ import annotations

import time

import pytest
import responses

from ansible_collections.vps.cloud.tests.unit.helpers import VirtualTime


def _no_real_sleep(seconds):
    raise AssertionError("the code under test called the real time.sleep(%r)" % (seconds,))


@pytest.fixture(autouse=True)
def no_real_sleep(monkeypatch):
    monkeypatch.setattr(time, "sleep", _no_real_sleep)


@pytest.fixture
def vt():
    return VirtualTime()


@pytest.fixture
def rsps():
    """Strict HTTP mock: an unregistered request raises ConnectionError, an unused registration fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
