# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""vps.cloud.report: the table, the CSV and JSON files, report_group, and the HOST OUTCOME of pre_upgrade."""

import csv
import io
import json

import pytest

from ansible_collections.vps.cloud.tests.harness.background import Concurrent
from ansible_collections.vps.cloud.tests.harness.playbook import Runner, write_inventory
from ansible_collections.vps.cloud.tests.harness.seeding import add_snapshot
from ansible_collections.vps.cloud.tests.playbooks.pb_helpers import FILES, simulator

pytestmark = pytest.mark.timeout(600)

HOSTS = {"web-1": 101, "web-2": 102, "db-1": 104, "nomap-1": None}
GROUPS = {"web": ["web-1", "web-2"], "db": ["db-1"]}
UPGRADE_HOSTS = {
    "web-1": 101,
    "web-2": {"vps_server_id": 102, "upgrade_mode": "fail"},
    "web-3": {"vps_server_id": 103, "upgrade_mode": "breaks_health"},
}
# Descriptions a spreadsheet would run as formulas, and text that needs quoting.
HOSTILE = {
    "formula-eq": '=HYPERLINK("http://evil.example/x","click me")',
    "formula-plus": "+cmd|' /C calc'!A0",
    "formula-minus": "-2+3",
    "formula-at": "@SUM(1+1)",
    "quoted": 'say "hi", then \\ back, café',
}


def seed_report(sim):
    return {
        "formula-eq": add_snapshot(sim, 101, "pre-upgrade-1", days_old=2, description=HOSTILE["formula-eq"]),
        "formula-plus": add_snapshot(sim, 101, "weekly-1", days_old=1, description=HOSTILE["formula-plus"]),
        "formula-minus": add_snapshot(sim, 102, "weekly-2", days_old=3, description=HOSTILE["formula-minus"]),
        "formula-at": add_snapshot(sim, 104, "db-1", days_old=1, description=HOSTILE["formula-at"]),
        "quoted": add_snapshot(sim, 104, "db-2", status="failed", description=HOSTILE["quoted"]),
        # A server of the account that no inventory host maps to.
        "orphan": add_snapshot(sim, 103, "orphan-1", days_old=4, description="no host"),
    }


@pytest.fixture(scope="module")
def report_runs(tmp_path_factory):
    """Three runs at the same time: two reports of one account (the whole account to CSV, group web to JSON), and
    pre_upgrade followed by report in one ansible-playbook invocation (a wrapper importing both), on its own account."""
    tmp_path = tmp_path_factory.mktemp("report")
    csv_path, json_path, after_path = tmp_path / "snapshots.csv", tmp_path / "web.out", tmp_path / "after.csv"
    wrapper = tmp_path / "upgrade_and_report.yml"
    wrapper.write_text("---\n- name: Upgrade\n  import_playbook: vps.cloud.pre_upgrade\n- name: Report\n  import_playbook: vps.cloud.report\n")
    together = Concurrent(tmp_path, simulator)
    try:
        sim = together.start("table", "vps.cloud.report", HOSTS, ["report_output_path=%s" % csv_path], groups=GROUPS, setup=seed_report, scan=[csv_path])
        together.start(
            "grouped", "vps.cloud.report", HOSTS, ["report_group=web", "report_output_path=%s" % json_path], groups=GROUPS, sim=sim, scan=[json_path]
        )
        together.start(
            "wrapper",
            str(wrapper),
            UPGRADE_HOSTS,
            [
                "pre_upgrade_tasks_file=%s" % (FILES / "upgrade.yml"),
                "pre_upgrade_health_tasks_file=%s" % (FILES / "health.yml"),
                "report_output_path=%s" % after_path,
            ],
            setup=lambda sim: add_snapshot(sim, 101, "weekly-1", days_old=1),
            scan=[after_path],
        )
        outcomes = together.finish()
        yield {
            "table": outcomes["table"].run,
            "grouped": outcomes["grouped"].run,
            "snaps": outcomes["table"].prepared,
            "requests": outcomes["grouped"].log,
            "csv": csv_path.read_text(),
            "json": json_path.read_text(),
            "wrapper": outcomes["wrapper"],
            "after_csv": after_path.read_text(),
        }
    finally:
        together.close()


def table_lines(run):
    """The report's lines, as shown by the 'Show the snapshots as a table' task."""
    results = [e for e in run.events if e.get("task", "").endswith("Show the snapshots as a table")]
    assert len(results) == 1, run
    lines = results[0]["result"]["msg"]
    for line in lines:
        assert line in run.stdout, line
    return lines


def test_report_shows_every_snapshot_of_the_account_as_a_table(report_runs):
    run, snaps = report_runs["table"], report_runs["snaps"]
    assert run.rc == 0, run
    lines = table_lines(run)
    assert lines[0] == "Snapshots of every server of the account"
    assert lines[1].split() == [
        "SERVER",
        "SERVER",
        "NAME",
        "HOST",
        "SNAP",
        "ID",
        "SNAPSHOT",
        "NAME",
        "STATUS",
        "SIZE",
        "MB",
        "CREATED",
        "(UTC)",
        "CONSISTENCY",
        "HOST",
        "OUTCOME",
    ]
    rows = [line.split() for line in lines[2:-1]]
    assert len(rows) == 6 and lines[-1] == "6 snapshot(s) on 4 server(s).", lines
    # By server, oldest first; the host of each server (or -), and no outcome yet.
    assert [(r[0], r[2], int(r[3])) for r in rows] == [
        ("101", "web-1", snaps["formula-eq"]),
        ("101", "web-1", snaps["formula-plus"]),
        ("102", "web-2", snaps["formula-minus"]),
        ("103", "-", snaps["orphan"]),
        ("104", "db-1", snaps["formula-at"]),
        ("104", "db-1", snaps["quoted"]),
    ], lines
    assert all(r[-1] == "-" for r in rows), lines
    # Snapshots seeded without a note of how they were taken: their consistency is unknown.
    assert all(r[-2] == "unknown" for r in rows), lines
    failed = [r for r in rows if int(r[3]) == snaps["quoted"]][0]
    assert failed[5] == "failed" and failed[6] == "-", failed
    assert set(e["method"] for e in report_runs["requests"]) == {"GET"}, "a report only reads"


def csv_rows(report_runs):
    rows = list(csv.DictReader(io.StringIO(report_runs["csv"])))
    return dict((int(r["snapshot_id"]), r) for r in rows), rows


def test_report_csv_is_valid_and_no_cell_starts_a_formula(report_runs):
    snaps = report_runs["snaps"]
    by_id, rows = csv_rows(report_runs)
    assert list(rows[0].keys()) == [
        "server_id",
        "server_name",
        "host",
        "snapshot_id",
        "name",
        "status",
        "size_mb",
        "created_at",
        "description",
        "consistency",
        "host_outcome",
    ]
    assert sorted(by_id) == sorted(snaps.values())
    # Text that only needs quoting comes back exactly.
    assert by_id[snaps["quoted"]]["description"] == HOSTILE["quoted"]
    assert by_id[snaps["orphan"]]["host"] == "" and by_id[snaps["formula-at"]]["host"] == "db-1"
    assert by_id[snaps["quoted"]]["status"] == "failed" and by_id[snaps["quoted"]]["size_mb"] == ""
    # No cell of the file starts with a character that makes a spreadsheet run it as a formula.
    for row in csv.reader(io.StringIO(report_runs["csv"])):
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (row, cell)


def test_report_csv_neutralises_formula_cells_with_a_leading_quote_and_keeps_the_text(report_runs):
    snaps = report_runs["snaps"]
    by_id = csv_rows(report_runs)[0]
    for key in ("formula-eq", "formula-plus", "formula-minus", "formula-at"):
        cell = by_id[snaps[key]]["description"]
        assert cell == "'" + HOSTILE[key], (key, cell)


def test_report_json_is_valid_and_report_group_filters(report_runs):
    run, snaps = report_runs["grouped"], report_runs["snaps"]
    assert run.rc == 0, run
    data = json.loads(report_runs["json"])
    assert sorted(d["snapshot_id"] for d in data) == sorted([snaps["formula-eq"], snaps["formula-plus"], snaps["formula-minus"]])
    assert set(d["host"] for d in data) == {"web-1", "web-2"}
    by_id = dict((d["snapshot_id"], d) for d in data)
    assert by_id[snaps["formula-eq"]]["description"] == HOSTILE["formula-eq"], "JSON keeps the text as it is"
    assert all(d["host_outcome"] is None for d in data)
    lines = table_lines(run)
    assert lines[0] == "Snapshots of the servers of group web"
    assert lines[-1] == "3 snapshot(s) on 2 server(s).", lines
    assert run.said("localhost", "(json)"), run


def test_report_after_pre_upgrade_in_the_same_run_shows_each_hosts_outcome(report_runs):
    wrapper = report_runs["wrapper"]
    run, kept = wrapper.run, wrapper.prepared
    assert run.rc != 0, run
    assert run.failed_hosts() == ["web-2", "web-3"], run
    # The HOST OUTCOME column is the last one of the table.
    outcome_of = dict((int(line.split()[3]), line.rstrip()) for line in table_lines(run)[2:-1])
    rows_csv = dict((int(r["snapshot_id"]), r) for r in csv.DictReader(io.StringIO(report_runs["after_csv"])))
    rolled_back = [s["id"] for s in wrapper.snapshots if s["server"]["id"] == 102]
    unhealthy = [s["id"] for s in wrapper.snapshots if s["server"]["id"] == 103]
    assert len(rolled_back) == 1 and len(unhealthy) == 1, wrapper.snapshots
    assert sorted(rows_csv) == sorted([kept] + rolled_back + unhealthy), rows_csv
    assert rows_csv[kept]["host_outcome"] == "upgraded"
    assert rows_csv[rolled_back[0]]["host_outcome"] == "rolled back and healthy"
    assert rows_csv[unhealthy[0]]["host_outcome"] == "rolled back but unhealthy"
    assert sorted(outcome_of) == sorted(rows_csv), outcome_of
    assert outcome_of[kept].endswith(" upgraded"), outcome_of
    assert outcome_of[rolled_back[0]].endswith(" rolled back and healthy"), outcome_of
    assert outcome_of[unhealthy[0]].endswith(" rolled back but unhealthy"), outcome_of


def test_report_in_a_run_of_its_own_shows_the_outcome_of_the_last_real_upgrade_from_the_fact_cache(tmp_path):
    """pre_upgrade, then a --check of the next upgrade, then report, three runs sharing a jsonfile fact cache (what "The
    report" in docs/docsite/rst/pre_upgrade.rst tells a user to set, and scripts/demo.sh does): the report shows each
    host's last real outcome. A dry run does not overwrite it with what it would do."""
    facts = tmp_path / "fact-cache"
    shared = {"ANSIBLE_CACHE_PLUGIN": "jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(facts)}
    out = tmp_path / "report.csv"
    with simulator() as sim:
        runner = Runner(sim, tmp_path)
        runner.extra_scan = [str(out)]
        inventory = write_inventory(tmp_path / "inventory.yml", {"web-1": 101, "web-2": {"vps_server_id": 102, "upgrade_mode": "fail"}, "db-1": 104})
        upgrade = runner.run(
            "vps.cloud.pre_upgrade",
            inventory,
            ["pre_upgrade_hosts=web-1,web-2", "pre_upgrade_keep_snapshot=true", "pre_upgrade_tasks_file=%s" % (FILES / "upgrade.yml")],
            env=shared,
        )
        assert upgrade.failed_hosts() == ["web-2"], upgrade
        dry_run = runner.run("vps.cloud.pre_upgrade", inventory, ["pre_upgrade_hosts=web-1,web-2"], check=True, env=shared)
        assert dry_run.rc == 0, dry_run
        assert dry_run.facts("web-2")["pre_upgrade_outcome"] == "would upgrade", "the dry run itself says what it would do"
        report = runner.run("vps.cloud.report", inventory, ["report_output_path=%s" % out], env=shared)
        assert report.rc == 0, report
        snapshot_of = dict((s["server"]["id"], s["id"]) for s in sim.snapshots())

    assert sorted(snapshot_of) == [101, 102], snapshot_of
    rows = dict((int(r["snapshot_id"]), r) for r in csv.DictReader(io.StringIO(out.read_text())))
    assert rows[snapshot_of[101]]["host_outcome"] == "upgraded", rows
    assert rows[snapshot_of[102]]["host_outcome"] == "rolled back and healthy", rows
    shown = dict((int(line.split()[3]), line.rstrip()) for line in table_lines(report)[2:-1])
    assert shown[snapshot_of[101]].endswith(" upgraded"), shown
    assert shown[snapshot_of[102]].endswith(" rolled back and healthy"), shown
