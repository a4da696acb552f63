#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vps_snapshot
short_description: Take, delete and restore from snapshots of your VPS servers
version_added: 0.1.0
description:
  - Takes a named snapshot of a server and waits until it is really there (O(state=present)).
  - Deletes a snapshot (O(state=absent)).
  - Restores a server from a snapshot and waits for the server to come back (O(state=restored)).
  - A snapshot still in progress, for example after a run that timed out, is waited for, never taken twice.
  - The provider allows 5 snapshots per server; O(retention) prunes the oldest ones to make room.
author:
  - vps.cloud maintainers (@vps-cloud)
extends_documentation_fragment:
  - vps.cloud.api
  - vps.cloud.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  state:
    description:
      - V(present) takes the snapshot if the server has none with that O(name). Needs O(server_id) and O(name).
      - V(absent) deletes the snapshot if it exists.
      - V(restored) restores the server from the snapshot. This is an action, like M(vmware.vmware.vm_snapshot_revert)
        it reports a change every time it starts a restore; a restore already under way is waited for instead of started again.
      - V(absent) and V(restored) take O(snapshot_id) alone (O(server_id) may narrow the lookup), or O(server_id) and O(name).
    type: str
    choices: [present, absent, restored]
    default: present
  server_id:
    description:
      - The id of the server the snapshot belongs to.
    type: int
  name:
    description:
      - The snapshot's name. ASCII letters, digits, hyphens and underscores, at most 255 characters.
      - Names are not unique at the provider; if two snapshots of a server share the name, the module fails and asks for O(snapshot_id).
    type: str
  snapshot_id:
    description:
      - The snapshot's id, for O(state=absent) and O(state=restored).
    type: int
  description:
    description:
      - Free text stored with a new snapshot.
      - The API cannot change the description of an existing snapshot; a different value draws a warning, and the snapshot is kept.
    type: str
  wait:
    description:
      - Wait until the snapshot is completed, deleted, or the server has finished restoring.
      - Polls with exponential backoff from 2 to 15 seconds, with jitter.
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds of wall clock, before failing.
      - The default covers the provider's 15-minute restores with a wide margin.
      - After a timeout the operation goes on at the provider; rerunning the task resumes the wait.
    type: int
    default: 1800
  retention:
    description:
      - With O(state=present), keep at most this many snapshots of the server, counting the new one, among those whose names match O(retention_match).
      - Before the creation, only as many as the provider's limit of 5 forces are deleted, oldest completed first;
        the rest are deleted after the new snapshot has completed.
      - Snapshots in progress and the new snapshot are never deleted. The deleted snapshots are returned as RV(pruned).
      - Without it, a server at the limit makes the module fail before anything is sent, listing the existing snapshots.
    type: int
  retention_match:
    description:
      - Shell-style pattern of the snapshot names O(retention) counts and may delete.
    type: str
    default: "*"
notes:
  - The provider takes a snapshot of a running server as it is, which may leave the filesystem inconsistent; stop the server first for snapshots that matter.
  - A restore overwrites all current data on the server and cannot be undone.
  - Waiting for a restore reads C(GET /servers/{id}/), which the provider does not document; if it is missing the module says so. Use O(wait=false) then.
seealso:
  - module: vps.cloud.vps_snapshot_info
"""

EXAMPLES = r"""
- name: Take a snapshot before an upgrade and wait until it is completed
  vps.cloud.vps_snapshot:
    api_token: "{{ vault_vps_api_token }}"
    server_id: 12345
    name: before-upgrade
    description: Before the kernel upgrade
  delegate_to: localhost

- name: Delete it by name once the upgrade went well
  vps.cloud.vps_snapshot:
    api_token: "{{ vault_vps_api_token }}"
    server_id: 12345
    name: before-upgrade
    state: absent
  delegate_to: localhost

- name: Restore the server from a snapshot id, and wait for it to run again
  vps.cloud.vps_snapshot:
    api_token: "{{ vault_vps_api_token }}"
    snapshot_id: 801
    state: restored
  delegate_to: localhost

- name: Credentials once for every vps.cloud module
  module_defaults:
    group/vps.cloud.vps:
      api_token: "{{ vault_vps_api_token }}"
      api_url: https://admin.vps.org/api/v1
  block:
    - name: Daily snapshot, keeping the 3 newest daily ones (older ones are pruned)
      vps.cloud.vps_snapshot:
        server_id: 12345
        name: "daily-{{ now(utc=true, fmt='%Y%m%d') }}"
        retention: 3
        retention_match: "daily-*"
      delegate_to: localhost
      register: daily

    - name: Say what was pruned
      ansible.builtin.debug:
        msg: "{{ daily.pruned | map(attribute='name') | list }}"

- name: Snapshot every server of a group at once (API calls on the controller, one per host, in parallel across forks)
  hosts: webservers
  gather_facts: false
  tasks:
    - name: Take the pre-upgrade snapshot of this host's server
      vps.cloud.vps_snapshot:
        api_token: "{{ vault_vps_api_token }}"
        server_id: "{{ vps_server_id }}"
        name: pre-upgrade
      delegate_to: localhost

- name: Upgrade, and roll the server back if the upgrade fails
  hosts: webservers
  tasks:
    - name: Upgrade with a way back
      module_defaults:
        group/vps.cloud.vps:
          api_token: "{{ vault_vps_api_token }}"
      block:
        - name: Snapshot first
          vps.cloud.vps_snapshot:
            server_id: "{{ vps_server_id }}"
            name: pre-upgrade
          delegate_to: localhost

        - name: Upgrade every package
          ansible.builtin.apt:
            upgrade: dist
      rescue:
        - name: Roll the server back to the snapshot
          vps.cloud.vps_snapshot:
            server_id: "{{ vps_server_id }}"
            name: pre-upgrade
            state: restored
          delegate_to: localhost
"""

RETURN = r"""
snapshot:
  description:
    - The snapshot, with exactly the fields the provider documents.
    - Empty after O(state=absent) found nothing; in check mode before a creation, the planned snapshot with a null RV(snapshot.id).
  returned: always
  type: dict
  contains:
    id:
      description: The snapshot's id.
      type: int
      sample: 802
    server:
      description: The server it belongs to, C(id) and C(name).
      type: dict
      sample: {"id": 12345, "name": "web-server-01"}
    name:
      description: The snapshot's name.
      type: str
      sample: before-upgrade
    status:
      description: V(in_progress), V(completed), or a failure state.
      type: str
      sample: completed
    size_mb:
      description: Size in MiB; null while in progress.
      type: int
      sample: 5120
    created_at:
      description: When it was taken, ISO 8601 in UTC.
      type: str
      sample: "2025-01-16T16:15:00Z"
    description:
      description: Free text given at creation.
      type: str
      sample: Before the kernel upgrade
server:
  description: The server after O(state=restored), C(id), C(name) and C(status).
  returned: when O(state=restored)
  type: dict
  sample: {"id": 12345, "name": "web-server-01", "status": "running"}
pruned:
  description: The snapshots O(retention) deleted, or would delete in check mode, with the same fields as RV(snapshot).
  returned: when O(retention) is set
  type: list
  elements: dict
  sample: [{"id": 798, "name": "daily-20250108", "status": "completed"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vps.cloud.plugins.module_utils.api import vps_argument_spec
from ansible_collections.vps.cloud.plugins.module_utils.edge import option_problems, run, snapshot_service
from ansible_collections.vps.cloud.plugins.module_utils.snapshots import MAX_SNAPSHOTS_PER_SERVER


def identity_problems(params):
    """The identity rules: present needs server_id and name; absent and restored take snapshot_id, or server_id and name."""
    state, snapshot_id, server_id, name = params["state"], params["snapshot_id"], params["server_id"], params["name"]
    if state == "present":
        if snapshot_id is not None:
            return ["snapshot_id is not used with state=present, which identifies the snapshot by server_id and name"]
        missing = [option for option in ("server_id", "name") if params[option] is None]
        return ["state=present needs %s" % " and ".join(missing)] if missing else []
    if snapshot_id is not None and name is not None:
        return ["give snapshot_id alone or server_id with name, not both snapshot_id and name"]
    if snapshot_id is None and (server_id is None or name is None):
        return ["state=%s needs snapshot_id, or server_id and name" % state]
    return []


def input_problems(params):
    problems = option_problems(params, positive=("server_id", "snapshot_id", "wait_timeout"), names=("name",))
    problems += identity_problems(params)
    retention = params["retention"]
    if retention is not None:
        if params["state"] != "present":
            problems.append("retention is only used with state=present")
        elif not 1 <= retention <= MAX_SNAPSHOTS_PER_SERVER:
            problems.append("retention must be between 1 and %d (the provider's limit per server), got %s" % (MAX_SNAPSHOTS_PER_SERVER, retention))
    if not params["retention_match"]:
        problems.append("retention_match must be a non-empty pattern")
    return problems


def main():
    argument_spec = vps_argument_spec()
    argument_spec.update(
        state=dict(type="str", default="present", choices=["present", "absent", "restored"]),
        server_id=dict(type="int"),
        name=dict(type="str"),
        snapshot_id=dict(type="int"),
        description=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        retention=dict(type="int"),
        retention_match=dict(type="str", default="*"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    problems = input_problems(params)
    if problems:
        module.fail_json(msg="; ".join(problems))

    service = snapshot_service(module)
    wait = dict(wait=params["wait"], wait_timeout=params["wait_timeout"])
    identity = dict(snapshot_id=params["snapshot_id"], server_id=params["server_id"], name=params["name"])
    if params["state"] == "present":
        run(module, lambda: service.ensure_present(params["server_id"], params["name"], description=params["description"],
                                                   retention=params["retention"], retention_match=params["retention_match"], **wait))
    elif params["state"] == "absent":
        run(module, lambda: service.ensure_absent(**dict(identity, **wait)))
    else:
        run(module, lambda: service.ensure_restored(**dict(identity, **wait)))


if __name__ == "__main__":
    main()
