# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""tests/playbooks: real ansible-playbook runs of the snapshot_guard role and the pre_upgrade, prune and report
playbooks against the embedded simulator. Run from the collection laid out under ansible_collections/vps/cloud,
with the python of the ansible-core venv to test (scripts/test.sh playbooks does both). The runs are the harness's
(ansible_collections.vps.cloud.tests.harness); the suite's token, servers and simulator are in pb_helpers.py.
"""
