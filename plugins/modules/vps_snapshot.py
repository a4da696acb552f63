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
  - Two runs taking the same snapshot at the same moment, from one controller or two, end with one snapshot, which both return.
  - The provider allows 5 snapshots per server; O(retention) deletes the oldest ones to make room, and never a server's
    last restore point.
author:
  - vps.cloud maintainers (@vps-cloud)
extends_documentation_fragment:
  - vps.cloud.api
  - vps.cloud.selection
  - vps.cloud.attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the server too, so that it fails like the real run would for a server that does not exist.
  diff_mode:
    support: full
options:
  state:
    description:
      - V(present) takes the snapshot if the server has none with that O(name). Needs O(server_id) and O(name).
        A snapshot of that name that ended failed is no restore point, so it is deleted and the snapshot taken again
        (see the notes).
      - V(absent) deletes the snapshot if it exists. Takes O(snapshot_id) (O(server_id) may narrow the lookup), or
        O(server_id) and O(name).
      - V(restored) restores the server from the snapshot given by O(snapshot_id), by O(server_id) and O(name), or by
        O(server_id) and O(name_match). It is an action, not a state. Each run that finds the server running or stopped
        starts a restore. What a rerun does is in the notes.
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
      - Names are not unique at the provider. With O(state=present) the oldest of several is used; with O(state=absent) or
        O(state=restored) the module fails and asks for O(snapshot_id).
    type: str
  snapshot_id:
    description:
      - The snapshot's id, for O(state=absent) and O(state=restored).
      - With O(server_id) too, a snapshot that belongs to another server is an error naming the server it belongs to.
    type: int
  name_match:
    description:
      - With O(state=restored), restore from the newest completed snapshot of O(server_id) whose name matches this
        shell-style pattern, for example V(pre-upgrade-*) after timestamped pre-upgrade snapshots.
      - A failed or in-progress snapshot is never picked; with no completed match the module fails and lists the matching ones.
    type: str
  prefer_quiesced:
    description:
      - With O(name_match), restore from the newest completed matching snapshot that was taken with its host quiesced
        (frozen or its services stopped, as the vps.cloud.snapshot_guard role notes in the description), when there is one,
        even if a newer matching one was not quiesced. Without a quiesced match, the newest completed match is used.
    type: bool
    default: false
  description:
    description:
      - With O(state=present), free text stored with a new snapshot.
      - The API cannot change the description of an existing snapshot; a different value draws a warning, and the snapshot is kept.
    type: str
  safety_snapshot:
    description:
      - With O(state=restored), take a snapshot of the server's current state, and wait for it, before the restore starts,
        so that the restore itself can be undone. It is returned as RV(safety_snapshot).
      - It follows the rules of O(state=present). If the server has no free slot and O(safety_snapshot.retention) may not
        make one, the module fails before anything is deleted or restored.
      - Not taken when the server is already restoring and the task only follows that restore.
    type: dict
    suboptions:
      name:
        description:
          - The safety snapshot's name. It must be new. An existing completed snapshot with this name holds an older state,
            so the module refuses it; put a timestamp in the name.
          - An existing one still in progress, left by an interrupted run, is waited for and used.
        type: str
        required: true
      description:
        description:
          - Free text stored with it.
        type: str
      retention:
        description:
          - As O(retention), for the safety snapshot. The snapshot being restored is never deleted.
        type: int
      retention_match:
        description:
          - As O(retention_match), for the safety snapshot.
        type: str
        default: "*"
  wait:
    description:
      - Wait until the snapshot is completed, deleted, or the server has finished restoring.
      - Polls with exponential backoff from 2 to 15 seconds, with jitter.
    type: bool
    default: true
  wait_timeout:
    description:
      - How long to wait, in seconds of wall clock, before failing. With O(state=restored) it also bounds the wait for a
        busy server to become idle.
      - The default covers the provider's 15-minute restores with a wide margin.
      - After a timeout the operation goes on at the provider. Rerunning a O(state=present) or O(state=absent) task resumes
        the wait. For a restore, wait with M(vps.cloud.vps_server_info) instead (see the notes).
    type: int
    default: 1800
notes:
  - The provider takes a snapshot of a running server as it is, which may leave the filesystem inconsistent; stop the server
    first for snapshots that matter.
  - "With O(state=present), a snapshot of the same name that ended failed (or error) is retaken: the task deletes it, then
    takes the snapshot again, so that a daily job that failed once still leaves a way back that day. A failed snapshot is
    not a restore point, so nothing that could be restored is lost. The deletion is a change: it is named in RV(msg) and
    in RV(pruned), and a warning says why. M(vps.cloud.vps_snapshot_batch) does the same for each server."
  - "Every refusal the provider made that changed what the task did is in its result, in the provider's words. For example,
    a creation refused with HTTP 400 while the server was busy, or while it then read idle, is sent again and the warning
    says so. A refusal that ends the task is in RV(msg)."
  - "A server in a failure status (V(error), V(failed) or any status naming a failure) is never waited for, since no wait
    would end it. A creation that must first delete snapshots to make room fails at once and deletes nothing. A creation
    the provider refuses fails at once, naming the status. A restore is asked for at once, because restoring is the way out
    of a broken server and only the provider knows whether it allows it; a refusal fails at once, naming the status and
    the provider's words. A status this collection does not know is waited for like a transitional one, and a warning
    names it at once."
  - "A restore overwrites all current data on the server and cannot be undone, except from a O(safety_snapshot).
    What a run of O(state=restored) does depends on the server it finds.
    B(Running or stopped): it starts a restore. This includes a rerun after an earlier restore has ended, so never rerun a
    restore task to wait for a restore it started.
    B(Restoring): it starts no second restore and follows the one under way (reporting no change). The exception is when
    the API names another snapshot as the source, which it waits out and then restores from this one.
    B(Stopping, starting, snapshotting or any other transitional status): it waits until the server is running or stopped,
    within O(wait_timeout), then restores once. A refusal (HTTP 400) while the server is busy is waited out the same way,
    and any other refusal fails at once with the provider's words."
  - To wait for a restore that was started with O(wait=false), or whose wait timed out or was interrupted, use
    M(vps.cloud.vps_server_info) with O(vps.cloud.vps_server_info#module:wait=true). It only reads, so it is safe to rerun.
  - Waiting for a restore reads C(GET /servers/{id}/), which the provider does not document; if it is missing the module
    says so. Use O(wait=false) then.
seealso:
  - module: vps.cloud.vps_snapshot_info
  - module: vps.cloud.vps_server_info
  - module: vps.cloud.vps_snapshot_batch
  - module: vps.cloud.vps_snapshot_prune
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

- name: Restore the server from a snapshot id, after a safety snapshot of its current state, and wait for it
  vps.cloud.vps_snapshot:
    api_token: "{{ vault_vps_api_token }}"
    snapshot_id: 801
    state: restored
    safety_snapshot:
      name: "before-restore-{{ now(utc=true, fmt='%Y%m%d-%H%M%S') }}"
      retention: 1
      retention_match: "before-restore-*"
  delegate_to: localhost

- name: Restore from the newest completed pre-upgrade snapshot, whatever its timestamp
  vps.cloud.vps_snapshot:
    api_token: "{{ vault_vps_api_token }}"
    server_id: 12345
    name_match: "pre-upgrade-*"
    state: restored
  delegate_to: localhost

- name: Start a restore without waiting, and wait for it later without ever restoring twice
  block:
    - name: Start the restore
      vps.cloud.vps_snapshot:
        api_token: "{{ vault_vps_api_token }}"
        snapshot_id: 801
        state: restored
        wait: false
      delegate_to: localhost

    - name: Wait until the server is running or stopped again (safe to rerun)
      vps.cloud.vps_server_info:
        api_token: "{{ vault_vps_api_token }}"
        server_id: 12345
        wait: true
      delegate_to: localhost

- name: Credentials once for every vps.cloud module
  module_defaults:
    group/vps.cloud.vps:
      api_token: "{{ vault_vps_api_token }}"
      api_url: https://admin.vps.org/api/v1
  block:
    - name: Daily snapshot, keeping the 3 newest completed daily ones (older and failed ones are pruned)
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

- name: Snapshot one host's server per task (for many hosts at once, vps.cloud.vps_snapshot_batch waits once for all)
  hosts: webservers
  gather_facts: false
  tasks:
    - name: Take the pre-upgrade snapshot of this host's server
      vps.cloud.vps_snapshot:
        api_token: "{{ vault_vps_api_token }}"
        server_id: "{{ vps_server_id }}"
        name: pre-upgrade
      delegate_to: localhost

- name: Per-host tasks that do not hold a fork while the provider works (async, then wait)
  hosts: webservers
  gather_facts: false
  tasks:
    - name: Start each host's snapshot in the background
      vps.cloud.vps_snapshot:
        api_token: "{{ vault_vps_api_token }}"
        server_id: "{{ vps_server_id }}"
        name: pre-upgrade
      delegate_to: localhost
      async: 1800
      poll: 0
      register: snapshot_job

    - name: Collect every host's result
      ansible.builtin.async_status:
        jid: "{{ snapshot_job.ansible_job_id }}"
      delegate_to: localhost
      register: snapshot_result
      until: snapshot_result.finished
      retries: 120
      delay: 15

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

        - name: Fail the host, the upgrade did not happen (the play must not end green after a rollback)
          ansible.builtin.fail:
            msg: "The upgrade failed ({{ ansible_failed_result.msg | default('see above') }}); the server was rolled back."
"""

RETURN = r"""
msg:
  description: What the task did or would do, naming every snapshot created, deleted or restored from.
  returned: always
  type: str
  sample: "Took snapshot before-upgrade (id 802, completed, created 2025-01-16T16:15:00Z)."
snapshot:
  description:
    - The snapshot, with exactly the fields the provider documents. With O(state=restored), the snapshot restored from.
    - Empty after O(state=absent) found nothing. In check mode before a creation, the planned snapshot with a null RV(snapshot.id).
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
created:
  description: Whether this task created the snapshot it returns (false when it reused or resumed one, or in check mode).
  returned: when O(state=present)
  type: bool
  sample: true
server:
  description:
    - The server after O(state=restored), C(id), C(name) and C(status), as the API last showed it.
    - With O(wait=false), and in check mode, its status is V(restoring), the state the API promises once a restore has started.
  returned: when O(state=restored)
  type: dict
  sample: {"id": 12345, "name": "web-server-01", "status": "running"}
safety_snapshot:
  description: The snapshot of the server's state taken before the restore, with the fields of RV(snapshot).
  returned: when O(safety_snapshot) is set and a restore was started (or would be, in check mode)
  type: dict
  sample: {"id": 803, "name": "before-restore-20250116", "status": "completed"}
pruned:
  description:
    - The snapshots this task deleted, or would delete in check mode, with the same fields as RV(snapshot).
    - Returned on failure too, when the task deleted anything before it failed.
  returned: when O(retention) or O(safety_snapshot.retention) is set, or when anything was deleted
  type: list
  elements: dict
  sample: [{"id": 798, "name": "daily-20250108", "status": "completed"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vps.cloud.plugins.module_utils.absent import ensure_absent
from ansible_collections.vps.cloud.plugins.module_utils.batch import present_options
from ansible_collections.vps.cloud.plugins.module_utils.module_boundary import run, snapshot_service, vps_argument_spec
from ansible_collections.vps.cloud.plugins.module_utils.options import snapshot_problems
from ansible_collections.vps.cloud.plugins.module_utils.present import ensure_present
from ansible_collections.vps.cloud.plugins.module_utils.request import SnapshotRequest
from ansible_collections.vps.cloud.plugins.module_utils.restore import SafetySnapshot, ensure_restored
from ansible_collections.vps.cloud.plugins.module_utils.results import absent_result, entry_result, task_result


def main():
    argument_spec = vps_argument_spec(
        selection=True,
        state=dict(type="str", default="present", choices=["present", "absent", "restored"]),
        server_id=dict(type="int"),
        name=dict(type="str"),
        snapshot_id=dict(type="int"),
        name_match=dict(type="str"),
        prefer_quiesced=dict(type="bool", default=False),
        description=dict(type="str"),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=1800),
        safety_snapshot=dict(
            type="dict",
            options=dict(
                name=dict(type="str", required=True),
                description=dict(type="str"),
                retention=dict(type="int"),
                retention_match=dict(type="str", default="*"),
            ),
        ),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[
            ("state", "present", ("server_id", "name")),
            ("state", "absent", ("snapshot_id", "name"), True),
            ("state", "restored", ("snapshot_id", "name", "name_match"), True),
        ],
        required_by={"name": "server_id", "name_match": "server_id"},
        mutually_exclusive=[("snapshot_id", "name", "name_match")],
    )
    params = module.params
    service = snapshot_service(module, snapshot_problems(params))
    request = SnapshotRequest.from_params(params)
    state = params["state"]
    if state == "present":
        run(module, present, service, request, params)
    elif state == "absent":
        run(module, absent, service, request, params)
    else:
        run(module, restored, service, request, params)


def present(service, request, params):
    options = present_options(params)
    entry = ensure_present(service, [request], options)[0]
    result = entry_result(entry, options, service.check_mode, service.now())
    del result["server_id"]
    return task_result(result)


def absent(service, request, params):
    entry = ensure_absent(service, [request], params["wait"], params["wait_timeout"])[0]
    return task_result(absent_result(entry, service.check_mode, service.now()))


def restored(service, request, params):
    safety = params["safety_snapshot"]
    return ensure_restored(
        service,
        request,
        wait=params["wait"],
        wait_timeout=params["wait_timeout"],
        safety=SafetySnapshot(**safety) if safety else None,
        protect_last_completed=params["protect_last_completed"],
        prefer_quiesced=params["prefer_quiesced"],
    )


if __name__ == "__main__":
    main()
