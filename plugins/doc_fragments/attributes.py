# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Attributes every module declares; the action group must match meta/runtime.yml.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return a prediction of the change without modifying the target.
  diff_mode:
    description: Returns details on what has changed, or would change in check mode, when run with C(--diff).
  action_group:
    description: Use C(group/vps.cloud.vps) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - vps.cloud.vps
"""

    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module only reads; it never changes anything.
  diff_mode:
    support: N/A
    details:
      - This module only reads; it never changes anything.
"""

    # The modules that change snapshots of many servers: check mode and diff as complete as the real run.
    CHANGE_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""
