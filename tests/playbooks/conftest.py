# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tests/playbooks: real ansible-playbook runs of the snapshot_guard role and the pre_upgrade, prune and report
playbooks against the embedded simulator. Run from the collection laid out under ansible_collections/vps/cloud,
with the python of the ansible-core venv to test (scripts/test.sh playbooks does both).
"""

import os
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
for folder in (HERE, os.path.dirname(HERE)):
    if folder not in sys.path:
        sys.path.insert(0, folder)
