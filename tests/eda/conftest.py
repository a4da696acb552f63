# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The event source's suite (scripts/test.sh eda): unit tests with the HTTP mocked, and the ansible-rulebook run.

Run from the collection laid out under ansible_collections/vps/cloud, with the folder holding ansible_collections
on PYTHONPATH (scripts/test.sh and scripts/test_one.sh do both).
"""

from __future__ import annotations
