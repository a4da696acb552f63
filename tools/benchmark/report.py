# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The benchmark's outputs from its results dict: the printed table, the chart and docs/performance.md."""

from __future__ import annotations


def verdict(met):
    return "met" if met else "MISSED"


def rows(results):
    """(measure, measured, goal, verdict) for every line of the table."""
    out = []
    for row in results["requests"]:
        out.append(("requests: %s" % row["task"], "%d (%s)" % (row["requests"], row["methods"]), row["goal"], verdict(row["met"])))
    over = results["overhead"]
    out.append(("per-task time: vps_snapshot_info / uri, median of %d" % over["iterations"],
                "%.2f (%.3f s / %.3f s; means %.2f)" % (over["ratio"], over["info_median"], over["uri_median"], over["ratio_mean"]),
                "<= 1.10", verdict(over["ratio"] <= 1.10)))
    imports = results["imports"]["seconds"]
    extra = (1000 * (imports["basic_requests"] - imports["basic"]), 1000 * (imports["basic_urls"] - imports["basic"]),
             1000 * imports["basic"])
    out.append(("fresh python: import requests / module_utils.urls", "+%.0f ms / +%.0f ms over basic (basic %.0f ms)" % extra,
                "-", "info"))
    for row in results["polling"]["rows"]:
        if row["source"].startswith("real"):
            measured = "%d requests, noticed %.1f s after completion" % (row["requests"], row["noticed_after"])
        else:
            spread = (row["requests_min"], row["requests"], row["requests_mean"], row["noticed_after"])
            measured = "%d-%d requests (mean %.1f), noticed <= %.1f s after" % spread
        out.append(("polling %d s creation, %s" % (row["seconds"], row["source"]), measured,
                    "<= %.1f req, <= 15 s" % row["goal"], verdict(row["met"])))
    for fleet in results["fleet"]:
        size = fleet["size"]
        for kind, label in (("uri", "uri GET"), ("present", "present (exists)"), ("create", "present (creates 1 s)")):
            item = fleet[kind]
            out.append(("fleet %d, forks %d: %s" % (size, fleet["forks"], label),
                        "task %.1f s, playbook %.1f s, %d req, CPU %.0f s (%.1f cores)" % (
                            item["task_wall"], item["playbook_wall"], item["requests"], item["cpu_tree"],
                            item["cpu_tree"] / item["playbook_wall"]), "-", "info"))
        out.append(("fleet %d: idempotent present / uri (task wall)" % size,
                    "%.2f (playbook wall %.2f)" % (fleet["ratio"], fleet["ratio_playbook"]), "<= 1.15", verdict(fleet["ratio"] <= 1.15)))
    listing = results["listing"]
    figures = (listing["ratio"], listing["info_seconds"], listing["bare_seconds"], listing["repeats"])
    out.append(("listing %d snapshots, %d pages: info task / bare requests process" % (listing["snapshots"], listing["pages"]),
                "%.2f (%.2f s / %.2f s, medians of %d)" % figures, "<= 1.2", verdict(listing["ratio"] <= 1.2)))
    out.append(("listing: same, fastest run of each", "%.2f" % listing["ratio_best"], "-", "info"))
    figures = (listing["ratio_module"], listing["module_seconds"], listing["bare_seconds"])
    out.append(("listing: the module's own process alone / bare process", "%.2f (%.2f s / %.2f s)" % figures, "-", "info"))
    figures = (listing["ratio_as_tasks"], listing["info_seconds"], listing["command_task_seconds"])
    out.append(("listing: info task / the bare loop as a command task", "%.2f (%.2f s / %.2f s)" % figures, "-", "info"))
    return out


def table(results):
    lines = rows(results)
    header = ("measure", "measured", "goal", "verdict")
    widths = [max(len(str(line[i])) for line in lines + [header]) for i in range(4)]

    def fmt(line):
        return "| " + " | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)) + " |"

    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(line) for line in lines])


def chart(results, path):
    import matplotlib  # pylint: disable=import-outside-toplevel  # only the report needs it
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    over = results["overhead"]
    ax = axes[0][0]
    ax.boxplot([over["info"], over["uri"]])
    ax.set_xticks([1, 2])
    ax.set_xticklabels(["vps_snapshot_info", "ansible.builtin.uri"])
    ax.set_ylabel("task wall time (s)")
    ax.set_title("Per-task time, %d interleaved runs each: ratio of medians %.2f (goal <= 1.10)" % (over["iterations"], over["ratio"]),
                 fontsize=9)

    polling = results["polling"]
    ax = axes[0][1]
    curve = polling["curve"]
    seconds = [c["seconds"] for c in curve]
    ax.plot(seconds, [c["goal"] - c["max"] for c in curve], label="worst of 100 jitter seeds (wait.py, fake clock)")
    ax.plot(seconds, [c["goal"] - c["min"] for c in curve], label="best of 100 seeds", linestyle=":")
    if polling["schedule"].get("cap_jittered", True):
        ax.plot(seconds, [c["goal"] - c["proposed_max"] for c in curve], label="worst, proposed schedule (exact cap)", linestyle="-.")
    real = [r for r in polling["rows"] if r["source"].startswith("real")]
    ax.scatter([r["seconds"] for r in real], [r["goal"] - r["requests"] for r in real], color="black", zorder=3,
               label="real waits (simulator)")
    ax.axhline(0, color="red", linewidth=1, label="goal: requests = 5 + T/15")
    ax.set_xlabel("creation time T (s)")
    ax.set_ylabel("headroom: (5 + T/15) - requests")
    ax.set_title("Polling cost of one create-and-wait (above the red line: goal met)", fontsize=9)
    ax.legend(fontsize=8)

    ax = axes[1][0]
    labels, values, colors = [], [], []
    for fleet in results["fleet"]:
        for kind, color in (("uri", "tab:gray"), ("present", "tab:blue"), ("create", "tab:orange")):
            labels.append("%d hosts\n%s" % (fleet["size"], kind))
            values.append(fleet[kind]["task_wall"])
            colors.append(color)
    ax.bar(range(len(values)), values, color=colors)
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("task wall time (s)")
    ax.set_title("Fleet, forks %d: uri GET vs present (exists) vs present (creates)" % results["fleet"][0]["forks"], fontsize=9)

    listing = results["listing"]
    ax = axes[1][1]
    bars = [("vps_snapshot_info\ntask", listing["info_seconds"], "tab:blue"),
            ("its module process\nalone", listing.get("module_seconds"), "tab:cyan"),
            ("bare loop as a\ncommand task", listing.get("command_task_seconds"), "tab:olive"),
            ("bare requests loop\n(own process)", listing["bare_seconds"], "tab:gray")]
    bars = [item for item in bars if item[1] is not None]
    ax.bar(range(len(bars)), [item[1] for item in bars], color=[item[2] for item in bars])
    ax.set_xticks(range(len(bars)))
    ax.set_xticklabels([item[0] for item in bars], fontsize=8)
    ax.set_ylabel("seconds (median)")
    ax.set_title("Listing %d snapshots in %d pages: task / bare process %.2f (goal <= 1.2)"
                 % (listing["snapshots"], listing["pages"], listing["ratio"]), fontsize=9)
    fig.suptitle("vps.cloud benchmark (%s run, %s CPUs, shared machine)" % (results["mode"], results["cpus"]))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _poll(results, seconds, source):
    for row in results["polling"]["rows"]:
        if row["seconds"] == seconds and row["source"].startswith(source):
            return row
    return None


def _fleet_text(fleet):
    uri, present, create = fleet["uri"], fleet["present"], fleet["create"]
    size = fleet["size"]
    return ("**Fleet, %d hosts.** Task wall time: uri GET %.1f s, present (exists) %.1f s, ratio %.2f; creating %.1f s with %d requests. "
            "The ansible-playbook process tree used %.0f s of CPU in the %.1f s present run (%.1f of %s cores busy, "
            "%.0f ms of CPU per host) against %.1f s (%.0f ms per host) for uri; the simulator used %.1f s."
            % (size, uri["task_wall"], present["task_wall"], fleet["ratio"], create["task_wall"], create["requests"],
               present["cpu_tree"], present["playbook_wall"], present["cpu_tree"] / present["playbook_wall"], "{cpus}",
               1000 * present["cpu_tree"] / size, uri["cpu_tree"], 1000 * uri["cpu_tree"] / size, present["cpu_sim"]))


def markdown(results, printed_table, path, chart_name=None):
    """docs/performance.md: the command, the table, the method and what dominates each cost, all from `results`."""
    over, imports, listing = results["overhead"], results["imports"]["seconds"], results["listing"]
    poll = results["polling"]
    schedule = poll["schedule"]
    long_wait = _poll(results, 600, "fake")
    proposed = dict((p["seconds"], p) for p in poll["proposed"])
    requests_ms = 1000 * (imports["basic_requests"] - imports["basic"])
    urls_ms = 1000 * (imports["basic_urls"] - imports["basic"])
    edge_ms = 1000 * (imports["vps_edge"] - imports["basic"])
    importtime = results["imports"]["importtime_us"]
    goals = [line for line in rows(results) if line[3] in ("met", "MISSED")]
    missed = [line for line in goals if line[3] == "MISSED"]
    out = []
    add = out.append
    add("# Performance")
    add("")
    when = (results["mode"], results["started"], results["total_seconds"])
    add("Measured by `tools/benchmark/bench.py` in one run (%s mode, %s, %.0f s). Every number below comes from that run; "
        "the script wrote this page, `performance.png` and `tools/benchmark/results.json`." % when)
    add("")
    add("```")
    add("bash tools/benchmark/run.sh          # full run: rewrites this page, the chart and the JSON")
    add("bash tools/benchmark/run.sh --quick  # smoke run (about a minute): writes under $VPS_LAYOUT_ROOT/bench-quick/")
    add("# re-render this page and the chart from the JSON, without measuring again:")
    add("python tools/benchmark/report.py tools/benchmark/results.json --markdown docs/performance.md --chart docs/performance.png")
    add("```")
    add("")
    add("`run.sh` sources `scripts/lib.sh`, ensures the venv, lays the collection out under `$VPS_LAYOUT_ROOT/ansible_collections/"
        "vps/cloud` and runs `python tools/benchmark/bench.py` from there with `ANSIBLE_COLLECTIONS_PATH` set. Every task is a real "
        "`ansible-playbook` run (connection local) against the loopback simulator (`tools/vps_simulator`), "
        "started in the benchmark's own process.")
    add("")
    add("**The machine:** %s CPUs, shared: other engineers ran their test suites on it during the run (1-minute load average "
        "%.1f at the start, %.1f at the end, right after the fleet's own forks). Absolute times therefore vary from run to run; "
        "the ratios are what to read, and each compares two things measured in the same run, interleaved where possible, so that load hits both sides alike."
        % (results["cpus"], results["load_before"][0], results["load_after"][0]))
    add("")
    add("## Results")
    add("")
    add("```")
    add(printed_table)
    add("```")
    add("")
    if chart_name:
        add("![Per-task time, polling cost, fleet and listing](%s)" % chart_name)
        add("")
    named = (" (" + "; ".join(line[0] for line in missed) + ")") if missed else ""
    add("Goals: %d met, %d missed%s." % (len(goals) - len(missed), len(missed), named))
    add("")
    add("## How each figure is measured")
    add("")
    add("- **Requests per task.** One single-host play whose tasks run one after another; a small callback plugin "
        "(`tools/benchmark/callback_plugins/bench_timer.py`) records when each task starts and when its result arrives, and the "
        "simulator's request log (`Simulator.request_log()`) is split by those times. Simulated creation and restore take 4 s, "
        "pages hold 20 snapshots, the paged server has 200.")
    add("- **Per-task overhead.** One play of %d `vps_snapshot_info` tasks and %d `ansible.builtin.uri` tasks making the same "
        "`GET /snapshots/?server_id=N` with the same token to the same simulator, interleaved in ABBA order after one warm-up of each. "
        "A task's time runs from `v2_playbook_on_task_start` to its host's `v2_runner_on_ok` in the controller, so it includes "
        "everything Ansible does for a task (worker fork, module packaging, temporary files, a fresh Python, the result's way back). "
        "The ratio is of the medians (the mean ratio is given too)." % (over["iterations"], over["iterations"]))
    add("- **Polling.** Real waits: `vps_snapshot` `state: present` against simulators with `create_seconds` %s, in one play "
        "(one host each, in parallel). Requests are counted from the log; the delay is from the moment the simulator completes "
        "the snapshot (its POST's log time + the duration) to the GET that saw it completed. 600 s (and 10 s, 60 s again): "
        "`wait_for` and `poll_intervals` from `plugins/module_utils/wait.py` itself, driven by a fake clock and sleep over %d "
        "random seeds for the jitter, counting the module's list + POST + one GET per check (`_wait_created`)."
        % (" and ".join(str(r["seconds"]) for r in poll["rows"] if r["source"].startswith("real")),
           results["polling"].get("seeds", 500)))
    add("- **Fleet.** An inventory of N hosts (`ansible_connection=local`), each with its own server in the simulator "
        "(`add_servers(N, 1)`: one completed snapshot `snap-1` each), forks %d. Separate `ansible-playbook` runs, alternated: a "
        "`uri` GET per host, `present` on `snap-1` (the idempotent pass, nothing to do), repeated %d time(s) and averaged, then "
        "`present` of a new snapshot with a 1 s creation. The ratio is of task wall times (first host start to last result); "
        "whole-playbook ratios are in the table too. CPU is `getrusage(RUSAGE_CHILDREN)` around each run: the whole "
        "ansible-playbook tree, workers and module processes included; the simulator's CPU is the benchmark's own "
        "`RUSAGE_SELF` over the same span." % (results["fleet"][0]["forks"], results["fleet"][0]["repeats"]))
    add("- **Listing.** %d servers x %d snapshots = %d, pages of %d (%d requests). The module side is a `vps_snapshot_info` task "
        "listing everything (task time, as above). The baseline is `tools/benchmark/bare_list.py`: one `requests.Session` "
        "following `next` and decoding every page, run as its own process and timed from its start to its exit, so it too pays "
        "for a fresh interpreter and `import requests`, as the module's process does. A loop timed inside the benchmark would "
        "skip start-up and compete with the simulator for the benchmark process's GIL, so it is not like for like. The module "
        "side still carries Ansible's per-task cost: that is the point of the goal (what a user pays for the module instead of a "
        "script). To split that cost out, the same run also times the module's own process alone (the `AnsiballZ_vps_snapshot_info.py` "
        "that `ANSIBLE_KEEP_REMOTE_FILES` kept from a warm-up run, arguments inside, run directly) and the bare loop as an "
        "`ansible.builtin.command` task next to the info task. Medians of %d repeats, in ABBA order."
        % (listing["servers"], listing["snapshots"] // listing["servers"], listing["snapshots"], listing["page_size"],
           listing["pages"], listing["repeats"]))
    add("")
    add("## What dominates each cost")
    add("")
    add("- **Requests.** The counts are the design's minimum: one list per lookup (the list is filtered by `server_id`, so a "
        "server's at most 5 snapshots fit one page), one POST or DELETE per change, then one GET per poll. A create-and-wait "
        "costs 2 requests plus the polls; a restore adds `GET /servers/{id}/` before it and polls that endpoint.")
    diff_ms = requests_ms - urls_ms
    text = ("- **Per-task overhead.** Ansible's own per-task work dominates both tasks (worker fork, module packaging, temporary "
            "files, a fresh Python, the result's way back): %.0f ms median for `uri`, %.0f ms for `vps_snapshot_info` (ratio %.2f). "
            "In a fresh interpreter `ansible.module_utils.basic` costs %.0f ms, interpreter included; on top of it `import requests` "
            "adds %.0f ms, `ansible.module_utils.urls` (what `uri` imports) %.0f ms, and the collection's `module_utils.edge` with "
            "`requests` %.0f ms (`-X importtime`, cumulative: requests %s us, urls %s us). "
            % (1000 * over["uri_median"], 1000 * over["info_median"], over["ratio"], 1000 * imports["basic"], requests_ms, urls_ms,
               edge_ms, importtime.get("requests"), importtime.get("urls")))
    if over["ratio"] <= 1.0:
        text += ("Importing `requests` costs %.0f ms more than `urls`, %.0f%% of a task, and `uri` more than makes it up with its "
                 "own heavier work (a bigger module to package and run, its result handling), so `vps_snapshot_info` is the faster "
                 "task." % (diff_ms, 100 * diff_ms / (1000 * over["uri_median"])))
    else:
        text += ("Importing `requests` costs %.0f ms more than `urls`, %.0f%% of a task." % (diff_ms, 100 * diff_ms / (1000 * over["uri_median"])))
    add(text)
    real_rows = [r for r in poll["rows"] if r["source"].startswith("real")]
    cap_jittered = schedule.get("cap_jittered", long_wait["no_jitter"] != long_wait["all_jitter"])
    text = ("- **Polling.** Polls, not the per-request cost, make the cost of a wait: the schedule polls after about %g s, "
            "doubling to a %g s cap (ramp checks near 2, 6 and 14 s), so a wait of T s costs the list and the POST, 3 ramp GETs "
            "and one GET per %g s after 14 s: about 4 + T/15 requests. " % (schedule["initial"], schedule["cap"], schedule["cap"]))
    if cap_jittered:
        text += ("Jitter (up to %d%%) shortens every interval including the capped ones, so the steady interval averages %.2f s and "
                 "long waits pay more: for 600 s, %d-%d requests (mean %.1f) against a goal of %.0f; %.0f%% of seeds are over. "
                 % (round(100 * schedule["jitter"]), schedule["cap"] * (1 - schedule["jitter"] / 2), long_wait["requests_min"],
                    long_wait["requests"], long_wait["requests_mean"], long_wait["goal"], 100 * long_wait["share_over_goal"]))
    else:
        text += ("Jitter (up to %d%%) applies to the ramp only; at the cap the intervals are exact, so for 600 s every seed makes "
                 "%d-%d requests against a goal of %.0f. " % (round(100 * schedule["jitter"]), long_wait["requests_min"],
                                                              long_wait["requests"], long_wait["goal"]))
    text += ("The delay before a completion is noticed is bounded by the interval in force: at most %.1f s on the fake clock, "
             "%s in the real waits (cap %g s); the real waits add the request and Python time the fake clock leaves out."
             % (long_wait["noticed_after"], " and ".join("%.1f s" % r["noticed_after"] for r in real_rows), schedule["cap"]))
    add(text)
    for fleet in results["fleet"]:
        add("- %s" % _fleet_text(fleet).replace("{cpus}", str(results["cpus"])))
    biggest = results["fleet"][-1]
    used = biggest["present"]["cpu_tree"] / biggest["present"]["playbook_wall"]
    if used >= 0.75 * results["cpus"]:
        add("  On this %s-CPU machine the fleet is CPU-bound, not waiting: %.1f cores stay busy for the whole run. The controller "
            "forks a worker per host and task, each packages and starts a Python module process, and that CPU per host (about "
            "%.0f ms, the same for `uri` and `vps_snapshot`) divided by the cores gives the wall time; forks 50 cannot help past "
            "%s cores. The API wait is one loopback GET of a few ms per host, and the simulator's own CPU is small beside the "
            "tree's. The create pass adds the wait schedule's first poll (about 2 s after a 1 s creation) per host, overlapped "
            "across forks, so it costs little more wall time than the idempotent pass."
            % (results["cpus"], used, 1000 * biggest["present"]["cpu_tree"] / biggest["size"], results["cpus"]))
    else:
        add("  Only %.1f of %s cores were busy on average: waiting (on the API or on the forks' scheduling) is a large share."
            % (used, results["cpus"]))
    sim_share = listing["sim_cpu_bare"] / listing["bare_seconds"]
    ansible_part = listing["info_seconds"] - listing["module_seconds"]
    lead = ("The simulator dominates the loop on both sides" if sim_share >= 0.5
            else "Start-up, not the loop, dominates at this size")
    add("- **Listing.** %s: for every page request it builds and sorts the whole "
        "%d-snapshot list and slices out one page, %.1f s of its CPU during the bare loop's %.2f s "
        "(%.0f%%). The bare process took %.2f s (%.2f s inside the loop, the rest start-up). The module's own process took "
        "%.2f s (%.2f of the bare loop's time): the same requests plus AnsiballZ start-up, sorting and cleaning, and "
        "`exit_json`, which scans every returned string for the no_log token (`remove_values`) and writes %.1f MB of JSON; "
        "its CPU was %.2f s against the bare loop's %.2f s, mostly hidden behind the waits on the simulator. "
        "The task took %.2f s: %.2f s more than the module's process, which is Ansible's per-task cost (about the uri median, "
        "%.2f s) plus carrying that result back through the worker and the controller. Measured as tasks on both sides, the "
        "ratio is %.2f; the fastest run of each gives %.2f."
        % (lead, listing["snapshots"], listing["sim_cpu_bare"], listing["bare_seconds"], 100 * sim_share, listing["bare_seconds"],
           listing["bare_inside"], listing["module_seconds"], listing["ratio_module"], listing["result_bytes"] / 1e6,
           listing["module_cpu"], listing["bare_cpu"],
           listing["info_seconds"], ansible_part, over["uri_median"], listing["ratio_as_tasks"], listing["ratio_best"]))
    add("")
    add("## Goals")
    add("")
    for line in goals:
        add("- %s: **%s**, %s (goal %s)." % (line[0], line[3], line[1], line[2]))
    add("")
    if long_wait and not long_wait["met"]:
        add("## Proposed fix: polling over long waits")
        add("")
        add("Cause: `plugins/module_utils/wait.py`, `poll_intervals()` jitters every interval downward, including the capped "
            "ones, so a long wait polls every %.2f s on average instead of every %g s. Proposed change, in `poll_intervals()`: "
            "jitter only the ramp (intervals below the cap) and yield exactly `cap` once it is reached, e.g. "
            "`yield ceiling * (1.0 - jitter * rand()) if ceiling < cap else cap`. Parallel tasks still drift apart by the ramp's "
            "jitter and keep that offset, and the notice delay stays under the cap. The same fake-clock run with that schedule "
            "(`proposed_intervals` in `bench.py`): %s; over T = 5..900 s it is over the goal at %s."
            % (schedule["cap"] * (1 - schedule["jitter"] / 2), schedule["cap"],
               ", ".join("%d s: at most %d requests, noticed within %.1f s" % (d, proposed[d]["requests"], proposed[d]["noticed_after"])
                         for d in sorted(proposed)),
               ", ".join("%d s" % d for d in poll["proposed_over_goal"]) or "no T"))
        add("")
    if listing["ratio"] > 1.2:
        add("## Listing: where the missing time goes")
        add("")
        add("The module's own process is %.2f times the bare loop's, so the collection's code (request loop, paging, sorting, "
            "cleaning) is %s. The rest of the gap is Ansible's: a fixed per-task cost of about %.2f s (the uri median) and "
            "carrying a %.1f MB result from the module process through the worker to the controller, which a script printing "
            "nothing does not pay. Neither is in `plugins/`; trimming the returned snapshots would break the documented return "
            "value. What users can do is ask for less: `server_id` is sent to the API as a filter, so one server's snapshots "
            "are one page and one request, whatever the account's size. At %d snapshots the loop itself takes %.2f s; the "
            "fixed costs weigh less as the list grows, or as the real API's page latency (far above the simulator's) grows."
            % (listing["ratio_module"], "not what misses the goal" if listing["ratio_module"] <= 1.1 else "part of the cost",
               over["uri_median"], listing["result_bytes"] / 1e6, listing["snapshots"], listing["bare_inside"]))
        add("")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")


def main():
    """Re-render the page and the chart from a results JSON the benchmark wrote (no new measurement)."""
    import argparse  # pylint: disable=import-outside-toplevel
    import json  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("results")
    parser.add_argument("--markdown")
    parser.add_argument("--chart")
    args = parser.parse_args()
    with open(args.results, encoding="utf-8") as handle:
        results = json.load(handle)
    printed = table(results)
    print(printed)
    if args.chart:
        chart(results, args.chart)
    if args.markdown:
        markdown(results, printed, args.markdown, chart_name=args.chart.rsplit("/", 1)[-1] if args.chart else None)


if __name__ == "__main__":
    main()
