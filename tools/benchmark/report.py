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
                "%.2f (%.2f s / %.2f s, median of %d)" % figures, "<= 1.2", verdict(listing["ratio"] <= 1.2)))
    figures = (listing["ratio_as_tasks"], listing["info_seconds"], listing["command_task_seconds"])
    out.append(("listing: info task / same loop as a command task", "%.2f (%.2f s / %.2f s)" % figures, "-", "info"))
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
    ax.plot([c["seconds"] for c in curve], [c["max"] for c in curve], label="max requests (wait.py schedule, fake clock)")
    ax.plot([c["seconds"] for c in curve], [c["min"] for c in curve], label="min requests", linestyle=":")
    ax.plot([c["seconds"] for c in curve], [c["goal"] for c in curve], label="goal 5 + T/15", linestyle="--")
    ax.plot([c["seconds"] for c in curve], [c["proposed_max"] for c in curve], label="max with the proposed schedule (exact cap)",
            linestyle="-.")
    real = [r for r in polling["rows"] if r["source"].startswith("real")]
    ax.scatter([r["seconds"] for r in real], [r["requests"] for r in real], color="black", zorder=3, label="real waits (simulator)")
    ax.set_xlabel("creation time T (s)")
    ax.set_ylabel("requests per task")
    ax.set_title("Polling cost of one create-and-wait", fontsize=9)
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
    ax.bar([0, 1], [listing["info_seconds"], listing["bare_seconds"]], color=["tab:blue", "tab:gray"])
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["vps_snapshot_info task", "bare requests loop\n(own process)"])
    ax.set_ylabel("seconds (median)")
    ax.set_title("Listing %d snapshots in %d pages: ratio %.2f (goal <= 1.2)" % (listing["snapshots"], listing["pages"], listing["ratio"]),
                 fontsize=9)
    fig.suptitle("vps.cloud benchmark (%s run, %s CPUs, shared machine)" % (results["mode"], results["cpus"]))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(results, printed_table, path, chart_name=None):
    text = "# Performance\n\n```\n%s\n```\n\n%s\n" % (printed_table, "![chart](%s)" % chart_name if chart_name else "")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
