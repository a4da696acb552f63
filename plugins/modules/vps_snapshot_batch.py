#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: vps_snapshot_batch
short_description: Take or delete snapshots of many VPS servers in one task, waiting once for all
version_added: 0.2.0
description:
  - Ensures a snapshot for every server of O(servers) or O(snapshots) (O(state=present)), or deletes the snapshots given
    (O(state=absent)), in one task run once on the controller.
  - Per server, O(state=present) gives exactly the guarantees of M(vps.cloud.vps_snapshot) with
    O(vps.cloud.vps_snapshot#module:state=present). It is idempotent, waits for a snapshot still in progress rather than
    taking another, keeps to the provider's limit of 5 per server, applies O(retention) with the same selection rules,
    never sends two POSTs after an ambiguous failure, and supports check mode and diff.
  - Creations and deletions run at most O(concurrency) servers at a time. All requests share one pace
    (O(requests_per_second)), and a C(Retry-After) from the provider holds every request of the batch, not only the one that got it.
  - The wait is shared, a whole batch waits about one creation time. Each poll is one listing of the account
    (followed across its pages) that covers every snapshot still in progress, instead of one request per server.
  - One server failing never stops the others. Every server ends with its own entry in RV(results), and the task fails
    naming the servers that failed. Its RV(msg) quotes the first failures only, so that a batch of many servers stays
    readable; every failure is whole in RV(results), RV(by_host) and RV(failed_servers).
  - Restores are not batched. The API has no listing of servers to follow many restores with, so restore per host with
    M(vps.cloud.vps_snapshot) and bound their number with the C(throttle) keyword.
author:
  - vps.cloud maintainers (@vps-cloud)
extends_documentation_fragment:
  - vps.cloud.api
  - vps.cloud.batch
  - vps.cloud.selection
  - vps.cloud.attributes
  - vps.cloud.attributes.change_module
options:
  state:
    description:
      - V(present) ensures one snapshot per server.
      - V(absent) deletes the snapshots given, if they exist. The options of V(present) that a deletion has no use for
        (O(retention), O(resume_match), O(description), O(wait_for=first), O(quiesce_release)) are refused with it, as
        M(vps.cloud.vps_snapshot) refuses them.
    type: str
    choices: [present, absent]
    default: present
  servers:
    description:
      - The servers, as a mapping of inventory host to server id (the usual way, see the examples), or a list of server ids.
      - Each gets a snapshot named O(name) with O(description) (O(state=present)), or loses its snapshot named O(name)
        (O(state=absent)).
      - Two hosts with the same server id share one snapshot. The first of them takes it and reports the change; the
        others return the same snapshot, not changed.
    type: raw
  name:
    description:
      - With O(servers), the snapshot's name on every server. ASCII letters, digits, hyphens and underscores.
      - Refused with O(snapshots) or O(snapshot_ids), where each entry gives its own.
    type: str
  description:
    description:
      - With O(servers) and O(state=present), free text stored with each new snapshot.
      - Refused with O(snapshots), where each entry gives its own.
    type: str
  snapshots:
    description:
      - Instead of O(servers), one entry per snapshot, each with its own name.
      - With O(state=present) each entry needs C(server_id) and C(name); two different names for one server in one batch are refused.
      - The same server and name twice is one snapshot, taken once. The first entry reports the change, the others the same
        snapshot, not changed, and a warning says so when their descriptions differ (the first one is stored).
      - With O(state=absent) each entry needs C(snapshot_id), or C(server_id) and C(name). Entries naming the same snapshot
        the same way share one deletion, reported by the first.
    type: list
    elements: dict
    suboptions:
      server_id:
        description:
          - The server's id.
        type: int
      name:
        description:
          - The snapshot's name.
        type: str
      snapshot_id:
        description:
          - With O(state=absent), the id of the snapshot to delete.
        type: int
      description:
        description:
          - Free text stored with a new snapshot.
        type: str
      host:
        description:
          - A label of yours, usually the inventory host, returned in the entry's result and as the key of RV(by_host).
        type: str
      quiesce:
        description:
          - >-
            With O(state=present), how the host is quiesced while this snapshot is taken (the vps.cloud.snapshot_guard role
            sets it): V(none), V(sync), V(freeze) or V(tasks). It is noted at the end of the new snapshot's description, for
            example C([vps.cloud quiesce: freeze held until completed]), so that M(vps.cloud.vps_snapshot_info) can say
            which snapshots are consistent and restores can prefer them (O(vps.cloud.vps_snapshot#module:prefer_quiesced)).
          - The API cannot change a description later, so the note says what was applied when the snapshot was requested.
        type: str
        choices: [none, sync, freeze, tasks]
  quiesce_release:
    description:
      - The release point noted with C(quiesce), V(completed) (the host is held until the snapshot has completed) or
        V(accepted) (until the provider accepted the creation). Unset, V(completed) is noted.
      - Refused with O(state=absent).
    type: str
    choices: [accepted, completed]
  snapshot_ids:
    description:
      - With O(state=absent), instead of O(servers) and O(name), the ids of the snapshots to delete.
    type: list
    elements: int
  wait:
    description:
      - Wait until every snapshot is completed (O(state=present)), or gone (O(state=absent)).
    type: bool
    default: true
  wait_for:
    description:
      - With O(state=present) and O(wait), V(all) waits until every snapshot has completed (or failed).
      - V(first) returns as soon as at least one of the snapshots still in progress has completed or failed; the others
        are returned in progress, listed in RV(pending_servers), and a rerun waits for them without taking another. The
        vps.cloud.snapshot_guard role uses it to release each quiesced host as soon as its own snapshot has completed.
    type: str
    choices: [all, first]
    default: all
  wait_timeout:
    description:
      - How long to wait for all of them, in seconds of wall clock.
      - After a timeout the snapshots go on at the provider, and rerunning the task resumes waiting for the same ones.
    type: int
    default: 1800
notes:
  - Run it once for the whole play (C(run_once=true)) on the controller (C(delegate_to=localhost)), with the servers
    mapped from C(hostvars); see the examples.
  - With C(run_once), a failed task fails every host of the batch. Let the task carry on (C(ignore_errors=true)) and fail
    each host on its own entry of RV(by_host), as the examples and the vps.cloud.snapshot_guard role do.
seealso:
  - module: vps.cloud.vps_snapshot
  - module: vps.cloud.vps_snapshot_prune
"""

EXAMPLES = r"""
# Each example is a block of tasks for a play on the hosts to change (hosts: webservers, gather_facts: false), each host
# with the id of its server at the provider in the host variable vps_server_id. Each one fails closed: a host goes on
# only with a snapshot of its own, so a failed entry, a host the batch task could not read (no or an invalid
# vps_server_id) or a batch task that failed before it gave any entry fails the host, never lets it through.

- name: Snapshot the servers of the play's hosts at once, and go on only with the hosts whose own snapshot was taken
  module_defaults:
    group/vps.cloud.vps:
      api_token: "{{ vault_vps_api_token }}"
  block:
    - name: One task on the controller for the hosts of this batch (each host's vps_server_id from the inventory)
      vps.cloud.vps_snapshot_batch:
        servers: "{{ dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, 'vps_server_id'))) }}"
        name: pre-upgrade
        retention: 3
        retention_match: "pre-upgrade*"
      run_once: true
      delegate_to: localhost
      register: batch
      # One server failing must not fail the others: each host checks its own entry below.
      ignore_errors: true

    - name: Fail each host without a snapshot of its own (its entry failed, or the task failed before it gave any)
      ansible.builtin.assert:
        that:
          - inventory_hostname in (batch.by_host | default({}))
          - not batch.by_host[inventory_hostname].failed | default(false)
        fail_msg: >-
          No snapshot for {{ inventory_hostname }}:
          {{ ((batch.by_host | default({}))[inventory_hostname] | default(batch)).msg | default('the batch task gave no result') }}
        quiet: true

- name: Snapshot each server under a name of its own, and go on only with the hosts whose own snapshot was taken
  module_defaults:
    group/vps.cloud.vps:
      api_token: "{{ vault_vps_api_token }}"
  block:
    - name: Say which snapshot this host needs (a host without vps_server_id fails here, and is left out of the batch)
      ansible.builtin.set_fact:
        snapshot_request:
          host: "{{ inventory_hostname }}"
          server_id: "{{ vps_server_id }}"
          name: "before-{{ upgrade_step | default('upgrade') }}"

    - name: One task on the controller for the hosts still in the play
      vps.cloud.vps_snapshot_batch:
        snapshots: "{{ ansible_play_batch | map('extract', hostvars, 'snapshot_request') | list }}"
        concurrency: 4
        requests_per_second: 5
      run_once: true
      delegate_to: localhost
      register: named_batch
      ignore_errors: true

    - name: Fail each host without a snapshot of its own
      ansible.builtin.assert:
        that:
          - inventory_hostname in (named_batch.by_host | default({}))
          - not named_batch.by_host[inventory_hostname].failed | default(false)
        fail_msg: >-
          No snapshot for {{ inventory_hostname }}:
          {{ ((named_batch.by_host | default({}))[inventory_hostname] | default(named_batch)).msg | default('the batch task gave no result') }}
        quiet: true

# After the change, in the same play as the first example: delete the snapshots of the hosts still in the play (their
# change went well), and those that ended failed (no restore point). A host whose change failed has left the play, and
# keeps its snapshot: the way back.
- name: Delete the snapshots the batch took that are no longer needed, all at once
  vps.cloud.vps_snapshot_batch:
    api_token: "{{ vault_vps_api_token }}"
    state: absent
    snapshot_ids: "{{ batch_cleanup_ids }}"
  vars:
    batch_cleanup_ids: >-
      {{ ((batch.results | default([]) | rejectattr('failed', 'defined') | selectattr('host', 'in', ansible_play_batch) | list)
      + (batch.results | default([]) | selectattr('snapshot.status', 'defined') | selectattr('snapshot.status', 'in', ['failed', 'error'])
      | list)) | map(attribute='snapshot.id') | select | unique | list }}
  when: batch_cleanup_ids | length > 0
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description:
    - >-
      What the task did, counted once per server (O(state=present)) or per snapshot (O(state=absent)), for example
      C(Snapshots: 2 taken, 1 already there, 1 failed.) or C(Deletions: 2 deleted, 1 already gone.) Snapshots deleted to make
      room or by retention are counted too, and listed in each entry's C(pruned).
    - On failure, then the first failures in full and the number of the others; each is whole in its entry of RV(results).
  returned: always
  type: str
  sample: "Snapshots: 2 taken, 1 already there."
results:
  description:
    - One entry per entry of O(snapshots), in the same order.
    - With O(state=present), each has C(server_id), C(host), C(changed), C(created), C(snapshot) (as M(vps.cloud.vps_snapshot) returns it),
      C(pruned) (when O(retention) is set or anything was deleted), C(msg), C(diff), and C(failed) with the reason when that
      server failed.
    - With O(state=absent), each has C(changed), C(snapshot) (the one deleted, empty when there was none), C(msg) and C(failed).
  returned: always
  type: list
  elements: dict
  sample: [{"server_id": 101, "host": "web-1", "changed": true, "msg": "Took snapshot before-upgrade (id 802, completed, ...)",
            "snapshot": {"id": 802, "name": "before-upgrade", "status": "completed"}}]
by_host:
  description: The entries of RV(results) that have a C(host), by host.
  returned: always
  type: dict
  sample: {"web-1": {"server_id": 101, "changed": true, "snapshot": {"id": 802}}}
failed_servers:
  description: The ids of the servers whose entry failed.
  returned: always
  type: list
  elements: int
  sample: [102]
pending_servers:
  description:
    - With O(state=present), the ids of the servers whose snapshot is still in progress (not waited for, or not yet with
      O(wait_for=first)).
  returned: with O(state=present)
  type: list
  elements: int
  sample: [102]
requests:
  description: How many HTTP requests the task sent, and how many of them the provider answered 429.
  returned: always
  type: dict
  sample: {"sent": 27, "rate_limited": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vps.cloud.plugins.module_utils.batch import batch_absent, batch_present
from ansible_collections.vps.cloud.plugins.module_utils.module_boundary import run, snapshot_service, vps_argument_spec
from ansible_collections.vps.cloud.plugins.module_utils.options import batch_requests, option_problems
from ansible_collections.vps.cloud.plugins.module_utils.selection import QUIESCE_MODES, QUIESCE_RELEASES


def main():
    argument_spec = vps_argument_spec(
        parallel=True,
        selection=True,
        state=dict(type="str", default="present", choices=["present", "absent"]),
        servers=dict(type="raw"),
        name=dict(type="str"),
        description=dict(type="str"),
        snapshots=dict(
            type="list",
            elements="dict",
            options=dict(
                server_id=dict(type="int"),
                name=dict(type="str"),
                snapshot_id=dict(type="int"),
                description=dict(type="str"),
                host=dict(type="str"),
                quiesce=dict(type="str", choices=list(QUIESCE_MODES)),
            ),
        ),
        quiesce_release=dict(type="str", choices=list(QUIESCE_RELEASES)),
        snapshot_ids=dict(type="list", elements="int"),
        wait=dict(type="bool", default=True),
        wait_for=dict(type="str", default="all", choices=["all", "first"]),
        wait_timeout=dict(type="int", default=1800),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("servers", "snapshots", "snapshot_ids")],
        mutually_exclusive=[("servers", "snapshots", "snapshot_ids")],
        required_by={"servers": "name"},
    )
    params = module.params
    problems = option_problems(params, positive=("wait_timeout",), names=("name",), patterns=("retention_match", "resume_match"))
    requests, more = batch_requests(params)
    service = snapshot_service(module, problems + more)
    if params["state"] == "present":
        run(module, lambda: batch_present(service, requests, params))
    else:
        run(module, lambda: batch_absent(service, requests, params))


if __name__ == "__main__":
    main()
