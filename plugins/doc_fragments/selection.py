# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How a creation makes room and keeps snapshots; mirrors selection_argument_spec() in module_utils/module_boundary.py.
    # The rules themselves live in module_utils/selection.py, and hold the same in every module, the role and the playbooks.
    DOCUMENTATION = r"""
options:
  retention:
    description:
      - Keep at most this many completed snapshots of the server whose names match O(retention_match), counting the new one,
        from 1 to 5.
      - A failed snapshot is not a restore point. Every failed matching snapshot is deleted, before any completed one,
        and none counts towards the number kept.
      - A failed snapshot with the very name the task takes is deleted and the snapshot taken again, with or without
        O(retention), so that a job that failed once is not blocked for good; the deletion is reported like any other.
      - Before the creation, only as many as the provider's limit of 5 per server forces are deleted, failed ones first,
        and only after the server was checked to exist and be idle. The rest are deleted once the new snapshot has completed.
        If it fails, nothing more is deleted.
      - Never deleted are a snapshot in progress (or in any status the collection does not know), the snapshot the task
        ensures, and while O(protect_last_completed) is true, the server's last completed snapshot.
      - Every deletion is returned in C(pruned) (per server with the batch module), and named in the message, whether the task
        succeeds or fails.
      - Without it, a server at the limit makes the module fail before anything is sent, listing its snapshots.
    type: int
  retention_match:
    description:
      - Shell-style pattern (V(*), V(?), V([...])) of the snapshot names O(retention) counts and may delete.
    type: str
    default: "*"
  resume_match:
    description:
      - Shell-style pattern. If the server has no snapshot with the requested name but has one still in progress whose name
        matches, that snapshot is waited for and returned instead of taking another one.
      - This is how a rerun after an interrupted run reuses the snapshot that run had started, when names carry a timestamp.
    type: str
  protect_last_completed:
    description:
      - Never delete the server's last completed snapshot, its newest restore point whatever its name, to make room for a
        new one. Once the new one has completed, the older one may go by O(retention).
      - Set V(false) only to allow a server with no other restore point to lose it before the new snapshot exists.
    type: bool
    default: true
  retake_failed:
    description:
      - When the server's snapshot named O(name) ended failed, it is no restore point. V(true) deletes it (reported in
        C(pruned), in the message and in a warning) and takes the snapshot again.
      - V(false) fails instead, naming the failed snapshot. The C(vps.cloud.snapshot_guard) role sets it when it comes back
        to wait for the snapshots it took, so that one that failed meanwhile fails its host instead of being taken again
        once the host is no longer quiesced.
    type: bool
    default: true
"""
