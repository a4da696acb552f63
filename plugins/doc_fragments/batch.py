# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of the modules that work on many servers in one task; mirrors parallel_argument_spec() in module_utils/module_boundary.py.
    DOCUMENTATION = r"""
options:
  concurrency:
    description:
      - At most this many servers are worked on at the same time (creations, deletions, per-server reads), from 1 to 64.
      - Waiting is shared and costs no concurrency.
    type: int
    default: 8
  requests_per_second:
    description:
      - Pace every request of the task to at most this many per second, with about one second's worth allowed at once.
      - Unset, requests are not paced in advance; whenever the provider answers 429 with C(Retry-After), every request of
        the task waits that long, not only the one that got it.
    type: float
"""
