#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vps_snapshot_prune
short_description: Delete old snapshots of many VPS servers by count or age, keeping every server a way back
version_added: 0.2.0
description:
  - Deletes, on each server of O(servers), the snapshots whose names match O(match) beyond the O(keep) newest and/or older
    than O(older_than_days) days.
  - The rules are the collection's one selection logic, the same as O(vps.cloud.vps_snapshot#module:retention).
  - A failed snapshot is not a restore point. With O(keep), every failed matching snapshot is deleted and none counts
    towards the O(keep) kept. With O(older_than_days), old failed ones are deleted like old completed ones.
  - The server's last completed snapshot, its newest restore point whatever its name, is never deleted unless
    O(protect_last_completed=false).
  - A snapshot in progress, or in a status the collection does not know, is never deleted.
  - In check mode nothing is deleted, and RV(preview) lists the id, name, status and age of each snapshot that would go.
  - Works on all servers in one task, at most O(concurrency) at a time, waiting once for all deletions.
  - A server without any snapshot is read (C(GET /servers/{id}/)), also in check mode, so that a mistyped id fails
    naming the server instead of pruning nothing in silence.
  - Every deletion this task made is reported in RV(pruned), whatever the API's answer looked like. A 2xx answer to a
    C(DELETE) is a deletion whatever its body. When the answer to a C(DELETE) was lost (no answer, a dropped connection,
    a 5xx) and the snapshot is then found gone (a second C(DELETE) answered 404, or the listing no longer holds it), the
    deletion is this task's, with a warning that the answer was lost. A snapshot that was gone before this task's first
    C(DELETE) reached the API (404) was deleted by someone else; it is counted as already gone, not in RV(pruned).
  - "The task's C(msg) counts what was done, such as C(Prune: deleted 3 snapshot(s) on 2 server(s), 1 already gone)."
author:
  - vps.cloud maintainers (@vps-cloud)
extends_documentation_fragment:
  - vps.cloud.api
  - vps.cloud.batch
  - vps.cloud.attributes
  - vps.cloud.attributes.change_module
options:
  servers:
    description:
      - The servers, as a mapping of inventory host to server id, or a list of server ids.
    type: raw
    required: true
  match:
    description:
      - Shell-style pattern (V(*), V(?), V([...])) of the snapshot names considered. Others are never deleted.
    type: str
    default: "*"
  keep:
    description:
      - Keep this many of the newest completed matching snapshots per server, and delete the older ones and every failed one.
    type: int
  older_than_days:
    description:
      - Delete the matching snapshots created more than this many days ago.
    type: int
  protect_last_completed:
    description:
      - Never delete a server's newest completed snapshot, whatever O(match), O(keep) and O(older_than_days) say.
      - Set V(false) only to really let a server lose its last restore point.
    type: bool
    default: true
  wait:
    description:
      - Wait until every deleted snapshot has left the provider's listing.
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds of wall clock.
    type: int
    default: 1800
seealso:
  - module: vps.cloud.vps_snapshot_batch
  - module: vps.cloud.vps_snapshot
"""

EXAMPLES = r"""
- name: Preview, then prune, the snapshots of every host's server
  hosts: all
  gather_facts: false
  module_defaults:
    group/vps.cloud.vps:
      api_token: "{{ vault_vps_api_token }}"
  tasks:
    - name: Keep the 2 newest pre-upgrade snapshots per server, and none older than 14 days
      vps.cloud.vps_snapshot_prune:
        servers: "{{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'vps_server_id'))) }}"
        match: "pre-upgrade-*"
        keep: 2
        older_than_days: 14
      run_once: true
      delegate_to: localhost
      register: pruned

    - name: Show what went
      ansible.builtin.debug:
        var: pruned.preview
      run_once: true
"""

RETURN = r"""
pruned:
  description: Every snapshot deleted (in check mode, that would be deleted), with the fields M(vps.cloud.vps_snapshot_info) returns.
  returned: always
  type: list
  elements: dict
  sample: [{"id": 798, "name": "pre-upgrade-20250108", "status": "completed", "created_at": "2025-01-08T12:00:00Z"}]
preview:
  description: One line per snapshot deleted (or that would be), with its server, id, name, status and age.
  returned: always
  type: list
  elements: str
  sample: ["server 101: 798  pre-upgrade-20250108  completed  19d 4h old"]
results:
  description:
    - One entry per entry of O(servers), with C(server_id), C(host), C(changed), C(pruned), C(already_gone) (the snapshots
      someone else deleted before this task's C(DELETE) reached the API), C(kept) (the matching snapshots that stay, newest
      first), C(preview), C(msg), and C(failed) with the reason when that server failed.
  returned: always
  type: list
  elements: dict
by_host:
  description: The entries of RV(results) by host, when O(servers) maps hosts.
  returned: always
  type: dict
failed_servers:
  description: The ids of the servers whose pruning failed.
  returned: always
  type: list
  elements: int
requests:
  description: How many HTTP requests the task sent, and how many of them the provider answered 429.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vps.cloud.plugins.module_utils.batch import batch_prune
from ansible_collections.vps.cloud.plugins.module_utils.module_boundary import run, snapshot_service, vps_argument_spec
from ansible_collections.vps.cloud.plugins.module_utils.options import prune_problems
from ansible_collections.vps.cloud.plugins.module_utils.results import counted_prune


def main():
    argument_spec = vps_argument_spec(
        parallel=True,
        servers=dict(type="raw", required=True),
        match=dict(type="str", default="*"),
        keep=dict(type="int"),
        older_than_days=dict(type="int"),
        protect_last_completed=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("keep", "older_than_days")])
    params = module.params
    servers, problems = prune_problems(params)
    service = snapshot_service(module, problems)
    run(module, lambda: counted_prune(lambda: batch_prune(service, servers, params), module.check_mode))


if __name__ == "__main__":
    main()
