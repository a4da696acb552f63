# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The benchmark's outputs from its results dict: the printed tables, the chart and docs/performance.md.

Re-render without measuring again:
python tools/benchmark/report.py tools/benchmark/results.json --markdown docs/performance.md --chart docs/performance.png
"""

from __future__ import annotations

import argparse
import json
import math


def verdict(met):
    return "met" if met else "MISSED"


def grid_table(header, lines):
    widths = [max(len(str(line[i])) for line in lines + [header]) for i in range(len(header))]

    def fmt(line):
        return "| " + " | ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(line)) + " |"

    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(line) for line in lines])


def seconds(value):
    if value is None:
        return "-"
    if value >= 3600:
        return "%.0f s (%.1f h)" % (value, value / 3600.0)
    return "%.0f s" % value if value >= 100 else "%.1f s" % value


# Fleet ---------------------------------------------------------------------------------------------


def _limit(limited, settings):
    return "%g rps, bucket %d" % (settings["rps"], settings["bucket"]) if limited else "none"


def fleet_cell(fleet, path, size, forks, limited, duration):
    """The measured run of this cell, else its modelled one (the batch's model has no forks: forks do not reach it)."""
    for row in fleet["measured"]:
        if (row["path"], row["size"], row["forks"], row["limited"], row["T"]) == (path, size, forks, limited, duration):
            return row
    for row in fleet["modelled"]:
        if (row["path"], row["size"], row["limited"], row["T"]) == (path, size, limited, duration) and (path == "batch" or row["forks"] == forks):
            return row
    return None


def fleet_rows(fleet, duration):
    settings = fleet["settings"]
    out = []
    for limited in (False, True):
        for size in settings["sizes"]:
            for path in ("per-host", "batch"):
                for forks in settings["forks"]:
                    row = fleet_cell(fleet, path, size, forks, limited, duration)
                    if row is not None:
                        out.append((forks, row))
    return out


def _failures(row):
    return "%d / %d / %d" % (row["duplicates"], row["lost"], row["failed_hosts"])


def fleet_table_measured(fleet):
    settings = fleet["settings"]
    header = ("path", "N", "forks", "rate limit", "source", "wall", "requests (POST)", "429s", "dup / lost / failed hosts", "model", "model / measured")
    lines = []
    for forks, row in fleet_rows(fleet, settings["T"]):
        measured = row["source"] == "measured"
        source = "measured" if measured else ("modelled (forks do not reach it)" if row["path"] == "batch" else "modelled")
        model = seconds(row.get("model_wall")) if measured else "-"
        ratio = "%.2f" % row["model_ratio"] if measured and row.get("model_ratio") else "-"
        lines.append(
            (
                row["path"],
                row["size"],
                forks,
                _limit(row["limited"], settings),
                source,
                seconds(row["wall"]),
                "%d (%d)" % (row["requests"], row["posts"]),
                row["rate_limited"],
                _failures(row),
                model,
                ratio,
            )
        )
    return grid_table(header, lines)


def fleet_table_long(fleet):
    settings = fleet["settings"]
    longer = [t for t in settings["model_T"] if t != settings["T"]]
    header = ["path", "N", "forks", "rate limit"]
    for duration in longer:
        header += ["T=%d: wall" % duration, "requests (POST)", "429s", "dup / lost / failed"]
    header += ["rounds formula, T=%s" % "/".join(str(t) for t in longer)]
    lines = []
    keys = []
    for limited in (False, True):
        for size in settings["sizes"]:
            keys += [("per-host", size, forks, limited) for forks in settings["forks"]] + [("batch", size, None, limited)]
    for path, size, forks, limited in keys:
        line = [path, size, forks if forks else "any", _limit(limited, settings)]
        formulas = []
        for duration in longer:
            row = next(
                (
                    r
                    for r in fleet["modelled"]
                    if (r["path"], r["size"], r["limited"], r["T"]) == (path, size, limited, duration) and (path == "batch" or r["forks"] == forks)
                ),
                None,
            )
            if row is None:
                line += ["-"] * 4
                continue
            line += [seconds(row["wall"]), "%d (%d)" % (row["requests"], row["posts"]), row["rate_limited"], _failures(row)]
            formulas.append(seconds(row["rounds_formula"]) if row.get("rounds_formula") else "-")
        line.append(" / ".join(formulas) if path == "per-host" else "-")
        lines.append(tuple(line))
    return grid_table(tuple(header), lines)


def goal_met(goal):
    return (
        goal["wall_ratio"] <= 1.0
        and goal["request_ratio"] <= 1.0
        and goal["duplicates"] == 0
        and goal["lost"] == 0
        and goal["failed_hosts"] == 0
        and goal["other_deleted"] == 0
    )


def goals_table(fleet):
    settings = fleet["settings"]
    header = ("N", "forks", "rate limit", "T", "source", "wall / bound", "requests / bound", "dup", "lost", "others deleted", "verdict")
    lines = []
    for goal in fleet["goals"]:
        lines.append(
            (
                goal["size"],
                goal["forks"] if goal["source"] == "measured" else "any",
                _limit(goal["limited"], settings),
                "%d s" % goal["T"],
                goal["source"],
                "%.2f (%s / %s)" % (goal["wall_ratio"], seconds(goal["wall"]), seconds(goal["wall_bound"])),
                "%.2f (%d / %.0f)" % (goal["request_ratio"], goal["requests"], goal["request_bound"]),
                goal["duplicates"],
                goal["lost"],
                goal["other_deleted"],
                verdict(goal_met(goal)),
            )
        )
    return grid_table(header, lines)


def identity_table(fleet):
    settings = fleet["settings"]
    header = ("N", "rate limit", "T", "source", "runs", "same end state", "same returned results", "per-host failed / lost", "verdict")
    lines = []
    for item in fleet["identity"]:
        same = item["same_state"] and item["same_results"] is not False
        lines.append(
            (
                item["size"],
                _limit(item["limited"], settings),
                "%d s" % item["T"],
                item["source"],
                item["runs"],
                "yes" if item["same_state"] else "NO",
                {True: "yes", False: "NO", None: "-"}[item["same_results"]],
                "%d / %d" % (item["per_host_failed"], item["per_host_lost"]),
                verdict(same),
            )
        )
    return grid_table(header, lines)


def big_table(fleet):
    big = fleet["big"]
    settings = fleet["settings"]
    header = ("path", "N", "forks", "rate limit", "source", "wall", "requests (POST)", "429s", "dup / lost / failed hosts", "model / measured")
    lines = []
    for row in big["measured"] + big["modelled"]:
        ratio = "%.2f" % row["model_ratio"] if row.get("model_ratio") else "-"
        lines.append(
            (
                row["path"],
                row["size"],
                row["forks"],
                _limit(row["limited"], settings),
                row["source"],
                seconds(row["wall"]),
                "%d (%d)" % (row["requests"], row["posts"]),
                row["rate_limited"],
                _failures(row),
                ratio,
            )
        )
    return grid_table(header, lines)


# The earlier sections ---------------------------------------------------------------------------------


def other_rows(results):
    """(measure, measured, goal, verdict) for the sections kept from the earlier benchmark."""
    out = []
    for row in results.get("requests", []):
        out.append(("requests: %s" % row["task"], "%d (%s)" % (row["requests"], row["methods"]), row["goal"], verdict(row["met"])))
    over = results.get("overhead")
    if over:
        out.append(
            (
                "per-task time: vps_snapshot_info / uri, median of %d" % over["iterations"],
                "%.2f (%.3f s / %.3f s; means %.2f)" % (over["ratio"], over["info_median"], over["uri_median"], over["ratio_mean"]),
                "<= 1.10",
                verdict(over["ratio"] <= 1.10),
            )
        )
    imports = (results.get("imports") or {}).get("seconds")
    if imports:
        extra = (1000 * (imports["basic_requests"] - imports["basic"]), 1000 * (imports["basic_urls"] - imports["basic"]), 1000 * imports["basic"])
        out.append(("fresh python: import requests / module_utils.urls", "+%.0f ms / +%.0f ms over basic (basic %.0f ms)" % extra, "-", "info"))
    for row in (results.get("polling") or {}).get("rows", []):
        spread = (row["requests_min"], row["requests"], row["requests_mean"], row["noticed_after"])
        out.append(
            (
                "polling %d s creation, %s" % (row["seconds"], row["source"]),
                "%d-%d requests (mean %.1f), noticed <= %.1f s after" % spread,
                "<= %.1f req, <= 15 s" % row["goal"],
                verdict(row["met"]),
            )
        )
    listing = results.get("listing")
    if listing:
        figures = (listing["ratio"], listing["info_seconds"], listing["bare_seconds"], listing["repeats"])
        out.append(
            (
                "listing %d snapshots, %d pages: info task / bare requests process" % (listing["snapshots"], listing["pages"]),
                "%.2f (%.2f s / %.2f s, medians of %d)" % figures,
                "<= 1.2",
                verdict(listing["ratio"] <= 1.2),
            )
        )
        out.append(("listing: same, fastest run of each", "%.2f" % listing["ratio_best"], "-", "info"))
        figures = (listing["ratio_module"], listing["module_seconds"], listing["bare_seconds"])
        out.append(("listing: the module's own process alone / bare process", "%.2f (%.2f s / %.2f s)" % figures, "-", "info"))
        figures = (listing["ratio_as_tasks"], listing["info_seconds"], listing["command_task_seconds"])
        out.append(("listing: info task / the bare loop as a command task", "%.2f (%.2f s / %.2f s)" % figures, "-", "info"))
    return out


def other_table(results):
    lines = other_rows(results)
    return grid_table(("measure", "measured", "goal", "verdict"), lines) if lines else ""


def text(results):
    """Everything printed at the end of a run."""
    parts = []
    fleet = results.get("fleet")
    if fleet:
        parts += [
            "Fleet, T = %d s (measured, and modelled where marked):" % fleet["settings"]["T"],
            fleet_table_measured(fleet),
            "",
            "Fleet, longer creations (modelled):",
            fleet_table_long(fleet),
            "",
            "Goals of the batch path:",
            goals_table(fleet),
            "",
            "Per-host and batch, same inventory:",
            identity_table(fleet),
            "",
            "A small batch in a big account:",
            big_table(fleet),
            "",
        ]
    table = other_table(results)
    if table:
        parts += ["Per task, polling, listing:", table]
    return "\n".join(parts)


# Chart ---------------------------------------------------------------------------------------------------

STYLES = {
    ("per-host", 5): ("tab:red", "o", "per-host tasks, forks 5"),
    ("per-host", 50): ("tab:orange", "s", "per-host tasks, forks 50"),
    ("batch", 5): ("tab:blue", "D", "batch, forks 5"),
    ("batch", 50): ("tab:cyan", "^", "batch, forks 50"),
}


def _series(ax, fleet, duration, limited, value="wall"):
    settings = fleet["settings"]
    for (path, forks), (color, marker, label) in STYLES.items():
        if forks not in settings["forks"]:
            continue
        points = []
        for size in settings["sizes"]:
            row = fleet_cell(fleet, path, size, forks, limited, duration)
            if row is not None:
                points.append((size, row[value], row["source"] == "measured"))
        if not points:
            continue
        offset = 1.04 if (path, forks) in (("batch", 50), ("per-host", 50)) else 1.0
        ax.plot([p[0] * offset for p in points], [p[1] for p in points], color=color, linewidth=1, alpha=0.7)
        for size, figure, measured in points:
            ax.scatter([size * offset], [figure], color=color if measured else "white", edgecolors=color, marker=marker, s=45, zorder=3, label=None)
        ax.scatter([], [], color=color, marker=marker, label=label)


def _bound_line(ax, fleet, duration, limited, kind="wall"):
    settings = fleet["settings"]
    sizes = list(settings["sizes"])
    if kind == "wall":
        values = [1.3 * (duration + 15.0) + (n / float(settings["rps"]) if limited else 0.0) for n in sizes]
        label = "goal: 1.3 (T + 15 s)%s" % (" + N/R" if limited else "")
    else:
        pages = [max(1, math.ceil(n * (settings["existing"] + 1) / float(settings["page_size"]))) for n in sizes]
        values = [n + (5.0 + duration / 15.0) * p for n, p in zip(sizes, pages)]
        label = "goal: N + (5 + T/15) pages"
    ax.plot(sizes, values, color="green", linestyle="--", linewidth=1.2, label=label)


def _plain_axes(ax):
    from matplotlib.ticker import FuncFormatter, NullFormatter  # pylint: disable=import-outside-toplevel

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: "%g" % value))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def chart(results, path):
    import matplotlib  # pylint: disable=import-outside-toplevel  # only the report needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    fleet = results["fleet"]
    settings = fleet["settings"]
    duration = settings["T"]
    fig, axes = plt.subplots(2, 2, figsize=(13, 10))
    for ax, limited in ((axes[0][0], False), (axes[0][1], True)):
        _series(ax, fleet, duration, limited)
        _bound_line(ax, fleet, duration, limited)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(settings["sizes"])
        ax.set_xticklabels([str(n) for n in settings["sizes"]])
        ax.set_xlabel("servers N")
        ax.set_ylabel("task wall time (s)")
        ax.set_title("T = %d s, rate limit: %s" % (duration, _limit(limited, settings)), fontsize=10)
        _plain_axes(ax)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")

    ax = axes[1][0]
    for limited, style in ((False, "-"), (True, ":")):
        for (path_, forks), (color, marker, label) in STYLES.items():
            if forks != settings["forks"][-1]:
                continue
            points = [(n, fleet_cell(fleet, path_, n, forks, limited, duration)) for n in settings["sizes"]]
            points = [(n, row) for n, row in points if row is not None]
            ax.plot(
                [n for n, _row in points],
                [row["requests"] for _n, row in points],
                color=color,
                linestyle=style,
                label="%s, limit %s" % (label, "on" if limited else "off"),
            )
            for n, row in points:
                ax.scatter([n], [row["requests"]], color=color if row["source"] == "measured" else "white", edgecolors=color, marker=marker, s=40, zorder=3)
    _bound_line(ax, fleet, duration, False, kind="requests")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(settings["sizes"])
    ax.set_xticklabels([str(n) for n in settings["sizes"]])
    ax.set_xlabel("servers N")
    ax.set_ylabel("API requests (429s included)")
    ax.set_title("Requests, T = %d s" % duration, fontsize=10)
    _plain_axes(ax)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")

    ax = axes[1][1]
    size = max(settings["sizes"])
    times = list(settings["model_T"])
    for (path_, forks), (color, marker, label) in STYLES.items():
        if path_ == "batch" and forks != settings["forks"][-1]:
            continue
        rows = [fleet_cell(fleet, path_, size, forks, False, t) for t in times]
        points = [(t, row) for t, row in zip(times, rows) if row is not None]
        ax.plot([t for t, _row in points], [row["wall"] for _t, row in points], color=color, label=label if path_ == "per-host" else "batch (any forks)")
        for t, row in points:
            ax.scatter([t], [row["wall"]], color=color if row["source"] == "measured" else "white", edgecolors=color, marker=marker, s=40, zorder=3)
    ax.plot(times, [1.3 * (t + 15.0) for t in times], color="green", linestyle="--", linewidth=1.2, label="goal: 1.3 (T + 15 s)")
    ax.set_yscale("log")
    ax.set_xticks(times)
    ax.set_xlabel("creation time T (s)")
    ax.set_ylabel("task wall time (s)")
    ax.set_title("N = %d, no rate limit, longer creations (modelled past T = %d s)" % (size, duration), fontsize=10)
    _plain_axes(ax)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "vps.cloud fleet benchmark (%s run, %s CPUs, shared machine): filled markers measured, hollow modelled" % (results["mode"], results["cpus"]),
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# Markdown --------------------------------------------------------------------------------------------------


def _measured(fleet, **match):
    return [r for r in fleet["measured"] if all(r[k] == v for k, v in match.items())]


def _ratio_text(values):
    return "%.2f-%.2f" % (min(values), max(values)) if values else "-"


def fleet_markdown(results, add):
    fleet = results["fleet"]
    settings = fleet["settings"]
    duration = settings["T"]
    low, high = settings["spread"]
    measured = fleet["measured"]
    goals = fleet["goals"]
    add("## Fleet scale: per-host tasks against one batch (issue #12)")
    add("")
    add("Each server gets a snapshot named `pre-upgrade`, the same inventory both ways:")
    add("")
    add("- **per-host**: `vps.cloud.vps_snapshot` (`state: present`), one task per host, `delegate_to: localhost`, as users run it today;")
    add(
        "- **batch**: `vps.cloud.vps_snapshot_batch` once, `run_once: true`, `delegate_to: localhost`, `servers` mapped from "
        "`hostvars` (`dict(ansible_play_batch | zip(ansible_play_batch | map('extract', hostvars, 'vps_server_id')))`), default "
        "`concurrency` (%d) and no `requests_per_second` (the client learns the pace from 429s)." % settings["concurrency"]
    )
    add("")
    add(
        "**Simulator settings, every run:** creation durations drawn per server uniformly in [%gT, %gT] (`create_spread`, "
        "`random_seed` %d, so every run and the model get the same duration per server), T = %d s measured; the account holds "
        "the N servers (ids from %d), each with %d completed snapshot(s) beforehand; `page_size` %d (the simulator's default), "
        "so the account listing has ceil(%dN / %d) pages once the batch is done. Rate-limited runs: `rate_limit_rps` %g with "
        "`rate_limit_bucket` %d (a burst of two seconds' worth); the simulator answers 429 with `Retry-After` in whole seconds "
        "(at least 1). A fresh simulator per run. Forks %s."
        % (
            low,
            high,
            12,
            duration,
            1001,
            settings["existing"],
            settings["page_size"],
            settings["existing"] + 1,
            settings["page_size"],
            settings["rps"],
            settings["bucket"],
            " and ".join(str(f) for f in settings["forks"]),
        )
    )
    add("")
    add(
        "**Measured or modelled.** Every *measured* figure is a real `ansible-playbook` run in this benchmark run. What would take "
        "hours here (per-host with forks 5 at N = 100 and 500 is ceil(N/5) rounds of about %d s; every T = 300 s and 600 s cell) is "
        "*modelled*: the collection's own engine (`present.ensure_present`, `SnapshotService`, `VpsClient` with its `Pacer`, "
        "`wait.wait_for`/`poll_intervals`) runs on a virtual clock against the simulator in-process, with the per-task overhead "
        "measured in the real runs (see *How the model works*). The model is checked against every measured cell "
        "(column *model / measured*)." % (duration + 12)
    )
    add("")
    summary_markdown(fleet, add)
    add("### T = %d s" % duration)
    add("")
    add(
        "`wall` is the task's wall time (first host started to last result, from the callback plugin); `requests` are every API "
        "request the simulator logged, 429s included, POSTs in brackets; `dup / lost / failed hosts` are counted from the "
        "simulator's state after the run (more than one snapshot of the name on a server / no completed one) and from the task "
        "results."
    )
    add("")
    add("```")
    add(fleet_table_measured(fleet))
    add("```")
    add("")
    longer = [t for t in settings["model_T"] if t != duration]
    if longer:
        add("### T = %s s (modelled)" % " and ".join(str(t) for t in longer))
        add("")
        add(
            "The per-host rows also give the back-of-envelope model, ceil(N / forks) rounds of (T + poll delay + per-task overhead), "
            "the poll delay being when wait.py's schedule first polls at or after T."
        )
        add("")
        add("```")
        add(fleet_table_long(fleet))
        add("```")
        add("")
    add("### Goals (batch path), as ratios from this run")
    add("")
    add(
        "Bounds: wall time <= 1.3 x (T + 15 s) + N/R (N/R only under the rate limit R = %g/s), whatever the forks; requests <= N "
        "POSTs + (5 + T/15) x listing pages (pages of the account's listing at the end, ceil(%dN / %d)); 0 duplicates, 0 lost, no "
        "other snapshot deleted, no failed host. A ratio <= 1.00 meets its bound." % (settings["rps"], settings["existing"] + 1, settings["page_size"])
    )
    add("")
    add("```")
    add(goals_table(fleet))
    add("```")
    add("")
    met = [g for g in goals if goal_met(g)]
    worst_wall = max(goals, key=lambda g: g["wall_ratio"])
    worst_req = max(goals, key=lambda g: g["request_ratio"])
    add(
        "Batch goals: %d of %d cells met. Worst wall-time ratio %.2f (N = %d, %s, T = %d s, %s); worst request ratio %.2f (N = %d, "
        "%s, T = %d s, %s). Duplicates %d, lost %d, other snapshots deleted %d, failed hosts %d over all batch cells."
        % (
            len(met),
            len(goals),
            worst_wall["wall_ratio"],
            worst_wall["size"],
            _limit(worst_wall["limited"], settings),
            worst_wall["T"],
            worst_wall["source"],
            worst_req["request_ratio"],
            worst_req["size"],
            _limit(worst_req["limited"], settings),
            worst_req["T"],
            worst_req["source"],
            sum(g["duplicates"] for g in goals),
            sum(g["lost"] for g in goals),
            sum(g["other_deleted"] for g in goals),
            sum(g["failed_hosts"] for g in goals),
        )
    )
    add("")
    missed_requests = [g for g in goals if g["request_ratio"] > 1.0]
    if missed_requests:
        explained = []
        for goal in missed_requests:
            row = _row_of_goal(fleet, goal)
            if row is not None and row["rate_limited"]:
                explained.append(
                    "N = %d, T = %d s (%s): %d requests of which %d answered 429, %.2f without them"
                    % (
                        goal["size"],
                        goal["T"],
                        goal["source"],
                        goal["requests"],
                        row["rate_limited"],
                        (goal["requests"] - row["rate_limited"]) / goal["request_bound"],
                    )
                )
        if explained:
            add(
                "**The request bound is missed by the batch's 429s.** With `requests_per_second` unset the batch starts unpaced: "
                "its %d workers POST at once and overrun the provider's bucket of %d before the first 429 comes back, and later "
                "the learnt pace grows back over the limit (additive increase) until the next 429s halve it. Each time, the "
                "requests already in flight, up to `concurrency`, are refused, and each refused request is a request sent (the "
                "module counts it in its own `requests.sent` too). That costs a few requests per episode, which only the small "
                "bounds of small N cannot absorb: %s." % (settings["concurrency"], settings["bucket"], "; ".join(explained))
            )
            add("")
    forks_pairs = []
    for size in settings["sizes"]:
        for limited in (False, True):
            pair = [(_measured(fleet, path="batch", size=size, forks=f, limited=limited) or [None])[0] for f in settings["forks"]]
            if all(pair):
                forks_pairs.append((size, limited, pair[-1]["wall"] / pair[0]["wall"], pair[-1]["requests"], pair[0]["requests"]))
    if forks_pairs:
        add(
            "**Forks do not reach the batch:** wall time with forks %d / forks %d, same N and limit: %s."
            % (
                settings["forks"][-1],
                settings["forks"][0],
                "; ".join("N = %d%s: %.2f (%d / %d requests)" % (n, ", limited" if lim else "", r, a, b) for n, lim, r, a, b in forks_pairs),
            )
        )
        add("")
    add(
        "**Per-host and batch, same inventory.** The end state is compared as a digest of every inventory server's snapshots "
        "(name and status, ids left out); the returned results as host -> (server, snapshot name, status, changed), from each "
        "per-host task's result and from the batch's `results`."
    )
    add("")
    add("```")
    add(identity_table(fleet))
    add("```")
    add("")
    differing = [i for i in fleet["identity"] if not i["same_state"] or i["same_results"] is False]
    if differing:
        batch_clean = all(g["lost"] == 0 and g["duplicates"] == 0 and g["failed_hosts"] == 0 for g in fleet["goals"])
        add(
            "Where the two differ, %s: per-host tasks failed under the rate limit (%s), each a host whose task ended in an error "
            "(its message is in `results.json`); the batch ended with exactly one completed snapshot per server%s."
            % (
                "it is the per-host side" if batch_clean else "see the failed counts",
                "; ".join(
                    "N = %d, T = %d s, %s: %d failed, %d servers without the snapshot"
                    % (i["size"], i["T"], i["source"], i["per_host_failed"], i["per_host_lost"])
                    for i in differing
                ),
                " in every cell" if batch_clean else "",
            )
        )
        add("")
    reruns = [r for r in measured if r.get("rerun")]
    if reruns:
        add(
            "**Idempotence.** Every unlimited batch run was run a second time on the same simulator: %s."
            % "; ".join(
                "N = %d forks %d: %d requests (%d POST), changed %s, %.1f s"
                % (r["size"], r["forks"], r["rerun"]["requests"], r["rerun"]["posts"], str(r["rerun"]["changed"]).lower(), r["rerun"]["wall"])
                for r in reruns
            )
        )
        add("")
    batch_module = [r for r in measured if r["path"] == "batch" and r.get("module_requests")]
    agree = all(r["module_requests"]["sent"] == r["requests"] and r["module_requests"]["rate_limited"] == r["rate_limited"] for r in batch_module)
    add(
        "The batch's own `requests` return value (sent, rate_limited) %s the simulator's log in every measured batch run."
        % ("matches" if agree else "does NOT match")
    )
    add("")
    big_markdown(fleet, add)
    analysis_markdown(results, add)
    model_markdown(fleet, add)


def _row_of_goal(fleet, goal):
    rows = fleet["measured"] if goal["source"] == "measured" else fleet["modelled"]
    for row in rows:
        if (row["path"], row["size"], row["limited"], row["T"]) == ("batch", goal["size"], goal["limited"], goal["T"]) and (
            goal["source"] != "measured" or row["forks"] == goal["forks"]
        ):
            return row
    return None


def _tag(row):
    return "m" if row["source"] == "measured" else "M"


def summary_markdown(fleet, add):
    """The headline ratios: per-host against batch at each N, for the measured T and the longest modelled one."""
    settings = fleet["settings"]
    add("**In short**, wall time and requests of the batch against per-host tasks (m = measured, M = modelled; x = per-host / batch):")
    add("")
    for duration in (settings["T"], max(settings["model_T"])):
        for limited in (False, True):
            parts = []
            for size in settings["sizes"]:
                batch = fleet_cell(fleet, "batch", size, settings["forks"][-1], limited, duration)
                hosts = [(f, fleet_cell(fleet, "per-host", size, f, limited, duration)) for f in settings["forks"]]
                if batch is None or not all(h for _f, h in hosts):
                    continue
                per_host = ", ".join(
                    "forks %d %s (%s, %.1fx, %d req)" % (f, seconds(h["wall"]), _tag(h), h["wall"] / batch["wall"], h["requests"]) for f, h in hosts
                )
                parts.append("N = %d: batch %s (%s, %d req); per-host %s" % (size, seconds(batch["wall"]), _tag(batch), batch["requests"], per_host))
            if parts:
                add("- T = %d s, rate limit %s: %s." % (duration, _limit(limited, settings), "; ".join(parts)))
    add("")


def big_markdown(fleet, add):
    big = fleet["big"]
    settings = fleet["settings"]
    s = big["settings"]
    add("### A small batch in a big account")
    add("")
    add(
        "The same batch of N = %d servers in an account that also holds %d other servers with %d snapshots each (%d snapshots, "
        "%d pages of %d), T = %d s."
        % (
            s["size"],
            s["others"],
            s["per_other"],
            s["others"] * s["per_other"] + s["size"] * (settings["existing"] + 1),
            math.ceil((s["others"] * s["per_other"] + s["size"] * (settings["existing"] + 1)) / float(settings["page_size"])),
            settings["page_size"],
            settings["T"],
        )
    )
    add("")
    add("```")
    add(big_table(fleet))
    add("```")
    add("")
    batch = [r for r in big["modelled"] if r["path"] == "batch"]
    hosts = [r for r in big["modelled"] if r["path"] == "per-host"]
    if batch and hosts:
        limited = [r for r in big["measured"] if r["limited"]] or [r for r in batch if r["limited"]]
        text = (
            "The batch reads the whole account once before anything else (`SnapshotService.listings()` makes the first listing "
            "of several servers account-wide, as it has no page count yet), so it sends %d requests where per-host tasks send "
            "%d." % (batch[0]["requests"], hosts[0]["requests"])
        )
        if limited:
            bound = 1.3 * (settings["T"] + 15.0) + s["size"] / float(settings["rps"])
            first_pages = math.ceil((s["others"] * s["per_other"] + s["size"] * settings["existing"]) / float(settings["page_size"]))
            text += (
                " Under the rate limit that first listing alone takes about %.0f s, and the batch's wall time (%s) is %s "
                "against a bound of %s (ratio %.2f)."
                % (first_pages / settings["rps"], limited[0]["source"], seconds(limited[0]["wall"]), seconds(bound), limited[0]["wall"] / bound)
            )
        text += " Later polls switch to per-server listings (the page count is known by then)."
        add(text)
        add("")


def analysis_markdown(results, add):
    fleet = results["fleet"]
    settings = fleet["settings"]
    duration = settings["T"]
    add("### What the figures show")
    add("")
    per_host = [r for r in fleet["measured"] if r["path"] == "per-host" and not r["limited"]]
    batch = [r for r in fleet["measured"] if r["path"] == "batch" and not r["limited"]]
    if per_host and batch:
        small = min(per_host, key=lambda r: (r["size"], r["forks"]))
        same_batch = [b for b in batch if b["size"] == small["size"]]
        add(
            "- **Per-host wall time grows with ceil(N / forks); the batch's does not.** Each host's task holds a fork for the whole "
            "creation and its wait, so per-host runs take rounds of about T + the poll delay + the per-task overhead: N = %d forks "
            "%d took %s against %s for the batch. The batch waits once for all: one wait-schedule of about T + 15 s, whatever N "
            "and forks (%s to %s over the measured unlimited batch runs)."
            % (
                small["size"],
                small["forks"],
                seconds(small["wall"]),
                seconds(same_batch[0]["wall"]) if same_batch else "-",
                seconds(min(b["wall"] for b in batch)),
                seconds(max(b["wall"] for b in batch)),
            )
        )
    if batch:
        polls, elapsed, interval = [], 0.0, 2.0
        while elapsed < duration + 15:
            elapsed += interval
            polls.append(elapsed)
            interval = min(15.0, interval * 2)
        add(
            "- **The batch's wall time moves in steps of the poll interval, not with forks.** It is the POST phase, then the first "
            "poll after the slowest creation has ended: polls come about %s s after the last POST (the ramp up to 10%% earlier "
            "with jitter), so a slowest creation of %.0f-%.0f s is seen at the poll near %.0f s or, if it ends a moment later, "
            "at the one near %.0f s. A second more or less in the POST phase moves a run from one to the other, which is what "
            "separates two runs of the same N (and the forks %d / forks %d ratios above) when they differ by about 15 s."
            % (
                ", ".join("%.0f" % p for p in polls),
                settings["spread"][0] * duration,
                settings["spread"][1] * duration,
                max([p for p in polls if p <= duration] or [polls[0]]),
                min([p for p in polls if p >= duration] or [polls[-1]]),
                settings["forks"][-1],
                settings["forks"][0],
            )
        )
    if per_host:
        per_request = ["N = %d forks %d: %.1f" % (r["size"], r["forks"], r["requests"] / float(r["size"])) for r in per_host]
        add(
            "- **Requests.** Per-host tasks send a listing, a POST and one GET per poll per server: %s requests per server. The "
            "batch sends the POSTs plus one account listing per poll, whose pages grow with the account, not with the polls "
            "of each server." % "; ".join(per_request)
        )
    limited_hosts = [r for r in fleet["measured"] if r["path"] == "per-host" and r["limited"]]
    if limited_hosts:
        add(
            "- **Under the rate limit, per-host tasks fight over it.** Every task is its own process with its own pacing, so "
            "nothing is shared but the provider's bucket: %s. A 429 costs a host time, not one of its `api_retries`: it is sent "
            "again for up to %d minutes after its first 429. The batch shares one pace and one `Retry-After` for all its requests."
            % (
                "; ".join(
                    "N = %d forks %d: %d 429s, %d failed host(s), %d server(s) without the snapshot"
                    % (r["size"], r["forks"], r["rate_limited"], r["failed_hosts"], r["lost"])
                    for r in limited_hosts
                ),
                settings["rate_limit_patience"] // 60,
            )
        )
        examples = [message for r in limited_hosts for message in r.get("failures", [])]
        if examples:
            add("  A failed host's message, for example: `%s`" % examples[0].strip())
    limited_batch = [r for r in fleet["measured"] if r["path"] == "batch" and r["limited"]]
    if limited_batch:
        add(
            "- **The batch under the rate limit** spends about N/R on its POSTs, then polls; %s."
            % "; ".join(
                "N = %d forks %d: %s, %d requests, %d 429s" % (r["size"], r["forks"], seconds(r["wall"]), r["requests"], r["rate_limited"])
                for r in limited_batch
            )
        )
    biggest = [r for r in fleet["measured"] if r["path"] == "per-host" and r["size"] == max(settings["sizes"])]
    if biggest:
        row = biggest[0]
        add(
            "- **Controller CPU.** The per-host run of N = %d (forks %d) used %.0f s of CPU in the ansible-playbook process tree "
            "over %s (%.1f of %s cores on average): forking a worker and starting a module process per host. Its mean per-task "
            "overhead was %.1f s before the first request and %.1f s after the last (largest %.1f s / %.1f s), against %.1f s / "
            "%.1f s for the single batch task of the same N."
            % (
                row["size"],
                row["forks"],
                row["cpu_tree"],
                seconds(row["playbook_wall"]),
                row["cpu_tree"] / row["playbook_wall"],
                results["cpus"],
                row["overhead"][0],
                row["overhead"][1],
                row.get("overhead_max", [0, 0])[0],
                row.get("overhead_max", [0, 0])[1],
                *(_measured(fleet, path="batch", size=row["size"], limited=False) or [dict(overhead=[float("nan"), float("nan")])])[0]["overhead"],
            )
        )
    add(
        "- **Noise.** The machine has %s CPUs shared with other engineers' test runs (1-minute load average %.1f at the start, "
        "%.1f at the end). Per-task overheads and so the per-host wall times move with that load; the batch's wall time is "
        "mostly the wait schedule, which load does not move." % (results["cpus"], results["load_before"][0], results["load_after"][0])
    )
    add("")


def model_markdown(fleet, add):
    settings = fleet["settings"]
    ratios = [r["model_ratio"] for r in fleet["measured"] + fleet["big"]["measured"] if r.get("model_ratio")]
    by_path = dict((path, [r["model_ratio"] for r in fleet["measured"] if r["path"] == path and r.get("model_ratio")]) for path in ("batch", "per-host"))
    add("### How the model works, and how well it matches")
    add("")
    add(
        "`tools/benchmark/model.py` runs the collection's code unchanged: `present.ensure_present` (the engine of both modules), "
        "`SnapshotService`, `VpsClient` with its `Pacer` (pacing, the shared `Retry-After` hold, AIMD learning) and "
        "`wait.wait_for` with `poll_intervals` (2 s doubling to the 15 s cap, jitter on the ramp). Three things are the model's:"
    )
    add("")
    add(
        "- **Time.** A virtual clock that every sleep of the engine, the client and the simulator (creation durations, token "
        "bucket) reads. It moves only when every participating thread sleeps, to the earliest wake-up, so the batch's %d "
        "workers and the per-host forks keep their real interleaving while a 600 s creation costs no real time. "
        "`SnapshotService.parallel` is swapped for the same map on threads the clock counts." % settings["concurrency"]
    )
    add(
        "- **Transport.** Requests go to the simulator's Flask app through a `requests` adapter, no socket; each costs %.1f ms of "
        "virtual time, the median measured against the real loopback simulator in this run." % (1000 * fleet["request_seconds"])
    )
    add(
        "- **Ansible.** Per-host: a pool of `forks` workers; each host waits the per-task overhead measured before its module's "
        "first request, runs one `ensure_present` of its server with its own client (its own pace, as its own process would), "
        "then the overhead measured after its last request. Batch: one `ensure_present` of all servers with `concurrency` %d, "
        "between the overheads measured in its real run. Modelled cells take the overhead of the real run of the same cell, else "
        "of the nearest measured N with the same path and forks (the *overhead_from* of each row in `results.json`)." % settings["concurrency"]
    )
    add("")
    add(
        "Model / measured wall time over the %d measured cells: %s (batch %s, per-host %s). Requests and 429s of each measured "
        "cell against its model are in `results.json` (`model_requests`, `model_rate_limited`)."
        % (len(ratios), _ratio_text(ratios), _ratio_text(by_path["batch"]), _ratio_text(by_path["per-host"]))
    )
    add("")
    off = [r for r in fleet["measured"] + fleet["big"]["measured"] if r.get("model_ratio") and abs(r["model_ratio"] - 1.0) > 0.05]
    if off:
        add(
            "The cells off by more than 5%% (%s) differ by about one poll interval: the slowest creation was seen one poll later "
            "in the real run than in the model, the step described under *What the figures show*; the other cells are within "
            "5%%."
            % "; ".join(
                "%s N = %d forks %d%s: %s measured, %s modelled"
                % (r["path"], r["size"], r["forks"], ", limited" if r["limited"] else "", seconds(r["wall"]), seconds(r["model_wall"]))
                for r in off
            )
        )
        add("")
    base = fleet.get("baseline")
    if base:
        add(
            "The issue's own measurement, per-host tasks with N = %d, forks %d and a fixed %d s creation (%.1f s, %d requests, on "
            "the code of that time), modelled with the per-task overhead of this run's %s: %s and %d requests, ratios %.2f and %.2f: "
            "%d rounds of the %d s creation noticed at the poll near %d s, plus the overhead."
            % (
                base["size"],
                base["forks"],
                base["T"],
                base["wall"],
                base["requests"],
                base["model"]["overhead_from"],
                seconds(base["model"]["wall"]),
                base["model"]["requests"],
                base["wall_ratio"],
                base["requests_ratio"],
                math.ceil(base["size"] / float(base["forks"])),
                base["T"],
                _first_poll_at_or_after(base["T"]),
            )
        )
        add("")


def _first_poll_at_or_after(duration, initial=2.0, factor=2.0, cap=15.0):
    elapsed, interval = 0.0, initial
    while elapsed < duration:
        elapsed += interval
        interval = min(cap, interval * factor)
    return elapsed


def other_markdown(results, add):
    over, imports, listing, poll = results["overhead"], results["imports"]["seconds"], results["listing"], results["polling"]
    schedule = poll["schedule"]
    add("## Per task, polling, listing (kept from the earlier benchmark)")
    add("")
    add(
        "Kept: requests per task, per-task overhead, import costs, polling on a fake clock, listing. Dropped: the real single "
        "waits of 10 s and 60 s (the fleet runs now measure real waits of up to %d s on every server) and the fleet of `uri` "
        "against idempotent `vps_snapshot` tasks (its per-task overhead is measured inside the fleet runs now, and it took 8 "
        "minutes)." % results["fleet"]["settings"]["T"]
        if "fleet" in results
        else ""
    )
    add("")
    add("```")
    add(other_table(results))
    add("```")
    add("")
    requests_ms = 1000 * (imports["basic_requests"] - imports["basic"])
    urls_ms = 1000 * (imports["basic_urls"] - imports["basic"])
    client_ms = 1000 * (imports["vps_client"] - imports["basic"])
    add(
        "- **Requests per task.** One single-host play whose tasks run one after another; the callback plugin "
        "(`tools/benchmark/callback_plugins/bench_timer.py`) records when each task starts and when its result arrives, and the "
        "simulator's request log is split by those times. Simulated creation and restore take 4 s, pages hold 20 snapshots, the "
        "paged server has 200. The counts are the design's minimum: one list per lookup, one POST or DELETE per change, one GET "
        "per poll."
    )
    add(
        "- **Per-task overhead.** %d `vps_snapshot_info` tasks and %d `ansible.builtin.uri` tasks making the same "
        "`GET /snapshots/?server_id=N`, interleaved in ABBA order after a warm-up of each; a task's time is from "
        "`v2_playbook_on_task_start` to its `v2_runner_on_ok`. Medians: `uri` %.0f ms, `vps_snapshot_info` %.0f ms (ratio %.2f). "
        "In a fresh interpreter `ansible.module_utils.basic` costs %.0f ms; on top of it `import requests` adds %.0f ms, "
        "`ansible.module_utils.urls` (what `uri` imports) %.0f ms, the collection's `module_utils.client` %.0f ms."
        % (
            over["iterations"],
            over["iterations"],
            1000 * over["uri_median"],
            1000 * over["info_median"],
            over["ratio"],
            1000 * imports["basic"],
            requests_ms,
            urls_ms,
            client_ms,
        )
    )
    add(
        "- **Polling.** `wait_for` and `poll_intervals` from `plugins/module_utils/wait.py` on a fake clock over %d seeds of the "
        "jitter, counting the list, the POST and one GET per check: the schedule starts near %g s, doubles to the %g s cap, "
        "jitters only below the cap (up to %d%%), so a wait of T s costs about 4 + T/15 requests and a completion is noticed "
        "within one interval." % (poll["seeds"], schedule["initial"], schedule["cap"], round(100 * schedule["jitter"]))
    )
    text = (
        "- **Listing.** %d servers x %d snapshots = %d, pages of %d. A `vps_snapshot_info` task listing everything against "
        "`tools/benchmark/bare_list.py` (one `requests.Session` following `next`, as its own process), medians of %d in ABBA "
        "order; also the module's own process alone (the AnsiballZ file kept by `ANSIBLE_KEEP_REMOTE_FILES`) and the bare "
        "loop as a `command` task. Against the bare loop the module's process alone took %.2f times as long and the task %.2f "
        "times; the info task against the bare loop as a task, %.2f. The result the module returns is %.1f MB."
        % (
            listing["servers"],
            listing["snapshots"] // listing["servers"],
            listing["snapshots"],
            listing["page_size"],
            listing["repeats"],
            listing["ratio_module"],
            listing["ratio"],
            listing["ratio_as_tasks"],
            listing["result_bytes"] / 1e6,
        )
    )
    if listing["ratio"] > 1.2 and listing["ratio_module"] <= 1.1:
        text += (
            " The module's own process is within 10%% of the bare loop, so what misses the goal is Ansible's per-task cost "
            "(a `uri` task takes %.2f s here) and carrying that result back through the worker, not the collection's code." % over["uri_median"]
        )
    elif listing["ratio"] > 1.2:
        text += (
            " The goal is missed in this run. The costs outside the request loop are the ones the machine's load inflates: "
            "a fresh interpreter with `ansible.module_utils.basic` took %.0f ms and a bare `uri` task %.2f s here, and the "
            "task carries the module's result back through Ansible's worker; the bare process pays none of that but its own "
            "start-up." % (1000 * imports["basic"], over["uri_median"])
        )
    add(text)
    add("")


# Job slices (issue #22) -------------------------------------------------------------------------


def slices_lines(measured):
    """One line per run of each case: the single batch, then each slice."""
    header = ("N", "run", "hosts", "wall", "snapshot task", "requests (POST)", "429s", "failed hosts")
    lines = []
    for case in measured["cases"]:
        for kind in ("single", "sliced"):
            record = case[kind]
            for run in record["runs"]:
                lines.append(
                    (
                        case["size"],
                        run["label"],
                        run["hosts"],
                        seconds(run["wall"]),
                        seconds(run["snapshot_task_wall"]),
                        "%d (%d)" % (run["requests"], run["posts"]),
                        run["rate_limited"],
                        run["failed_hosts"],
                    )
                )
            if kind == "sliced":
                lines.append(
                    (
                        case["size"],
                        "**all %d slices**" % record["slices"],
                        record["size"],
                        seconds(record["wall"]),
                        "-",
                        "%d (%d)" % (record["requests"], record["posts"]),
                        record["rate_limited"],
                        record["failed_hosts"],
                    )
                )
    return header, lines


def slices_goals(measured):
    settings = measured["settings"]
    header = (
        "N",
        "single batch wall",
        "%d slices wall" % settings["slices"],
        "slices / single (goal <= %.1f)" % settings["goal_ratio"],
        "failed hosts (single / slices)",
        "duplicates (single / slices)",
        "lost (single / slices)",
        "429s (single / slices)",
    )
    lines = []
    for case in measured["cases"]:
        single, sliced = case["single"], case["sliced"]
        lines.append(
            (
                case["size"],
                seconds(single["wall"]),
                seconds(sliced["wall"]),
                "%.2f, %s" % (case["ratio"], verdict(case["goals"]["wall"])),
                "%d / %d, %s" % (single["failed_hosts"], sliced["failed_hosts"], verdict(case["goals"]["failed_hosts"])),
                "%d / %d, %s" % (single["duplicates"], sliced["duplicates"], verdict(case["goals"]["duplicates"])),
                "%d / %d" % (single["lost"], sliced["lost"]),
                "%d / %d" % (single["rate_limited"], sliced["rate_limited"]),
            )
        )
    return header, lines


def slices_text(measured):
    return "\n\n".join(["Job slices: each run", grid_table(*slices_lines(measured)), "Job slices: goals", grid_table(*slices_goals(measured))])


def slices_markdown(measured, add):
    settings = measured["settings"]
    add("")
    add("## Job slices: %d concurrent pre_upgrade runs behind one rate limit (issue #22)" % settings["slices"])
    add("")
    add(
        "Measured apart from the rest of this page, each N in one run of its own (the single batch, then the slices, one after "
        "the other), so each ratio below is between figures of one run:"
    )
    add("")
    add("```")
    for command in sorted(set(case.get("command") or measured["command"] for case in measured["cases"])):
        add(command)
    add("```")
    add("")
    for case in measured["cases"]:
        add(
            "- N = %d: started %s, %.0f s in all, 1-minute load average %.1f at the start and %.1f at the end (`%s`)."
            % (case["size"], case["started"], case["seconds"], case["load_before"][0], case["load_after"][0], case.get("command") or measured["command"])
        )
    add("")
    add(
        "AWX and AAP split a job's inventory into job slices: separate `ansible-playbook` processes, each with its own batch "
        "and its own pace (its own `Pacer`), all behind the provider's one rate limit. Here %d real `ansible-playbook "
        "vps.cloud.pre_upgrade` processes (the playbook as a job template runs it, with the snapshot_guard role) start at once, "
        "each over N/%d hosts dealt round-robin, against ONE simulator at %g rps (bucket %d), creations of %.0f-%.0f s "
        "(T = %d s); beside them, on a fresh simulator with the same servers, durations and seed, one run over all N "
        "(the single batch). Forks %d per run (so %d in all for the slices). Hosts are inventory entries with "
        "`ansible_connection=local`, as in the fleet benchmark; `pre_upgrade_quiesce=%s` (the default is `sync`, which runs "
        "`sync` on every host: %s), `pre_upgrade_snapshot_name=%s`, everything else the playbook's defaults (the snapshots are "
        "deleted after the successful default upgrade)."
        % (
            settings["slices"],
            settings["slices"],
            settings["rps"],
            settings["bucket"],
            settings["spread"][0] * settings["T"],
            settings["spread"][1] * settings["T"],
            settings["T"],
            settings["forks"],
            settings["forks"] * settings["slices"],
            settings["quiesce"],
            "left out here to spare the shared machine N more module runs and filesystem flushes; it sends no API request"
            if settings["quiesce"] == "none"
            else "kept",
            "pre-upgrade-bench",
        )
    )
    add("")
    add(
        "Each run sends its own API token, and the simulator's request log is tagged with the run whose token a request carried, "
        "which gives the 429s per slice. Failed hosts are the hosts failed or unreachable in each run's PLAY RECAP (or missing "
        "from it); a duplicate is a server with more than one accepted POST of the snapshot name, lost a server with none. "
        "Wall times are from the first process's start to the last one's end."
    )
    add("")
    add(
        "**The machine:** %s CPUs, shared with other developers' test runs while these ran (load averages above): absolute times "
        "vary from run to run; read the ratios, each between the single batch and the slices of one N, measured one after the other." % measured["cpus"]
    )
    add("")
    add("### Goals")
    add("")
    add(grid_table(*slices_goals(measured)))
    add("")
    add("### Each run, and its 429s")
    add("")
    add(grid_table(*slices_lines(measured)))
    add("")
    add("429s per 10 s of the run, all clients together (do they die down as the pacers settle, or keep coming?):")
    add("")
    for case in measured["cases"]:
        for kind, label in (("single", "single batch"), ("sliced", "%d slices" % settings["slices"])):
            add("- N = %d, %s: %s" % (case["size"], label, " ".join(str(n) for n in case[kind]["rate_limited_per_10s"]) or "none"))
    if measured.get("model"):
        pacer = measured.get("pacer") or {}
        add("")
        add("### The pacers alone, on a virtual clock")
        add("")
        add(
            "The same token bucket (%g rps, bucket %d) shared by K clients, each one `Pacer` and 8 threads (the batch's default "
            "concurrency), %d requests in all, on a virtual clock (`slices.share_the_limit`, the model the unit tests in "
            "`tests/unit/plugins/module_utils/test_pacer.py` run): the `Pacer` as measured above (its growth learns from 429s: "
            "CALM %g s, floor %g request per second each second), and the same with a fixed growth of one request per second "
            "each second, as it was before issue #22. Computed in this run, in well under a second; no ansible-playbook involved."
            % (settings["rps"], settings["bucket"], measured["model"][0]["requests"], pacer.get("CALM") or 0, pacer.get("MIN_GROWTH") or 0)
        )
        add("")
        header = ("K clients", "429s, fixed growth", "429s, learnt growth", "learnt / fixed", "wall, fixed growth", "wall, learnt growth", "learnt / fixed")
        lines = [
            (
                row["clients"],
                row["fixed"]["rate_limited"],
                row["learnt"]["rate_limited"],
                "%.2f" % (row["learnt"]["rate_limited"] / float(max(1, row["fixed"]["rate_limited"]))),
                seconds(row["fixed"]["wall"]),
                seconds(row["learnt"]["wall"]),
                "%.2f" % (row["learnt"]["wall"] / row["fixed"]["wall"]),
            )
            for row in measured["model"]
        ]
        add(grid_table(header, lines))
    add("")
    add("### What the figures show")
    add("")
    for case in measured["cases"]:
        single, sliced = case["single"], case["sliced"]
        runs = sliced["runs"]
        slowest = max((r["snapshot_task_wall"] or 0.0) for r in runs)
        alone = single["runs"][0]["snapshot_task_wall"]
        missed = [name for name, met in sorted(case["goals"].items()) if not met]
        add(
            "- N = %d: the %d slices took %.2f x the single batch's wall time (%s), with %d failed hosts and %d duplicates "
            "(single batch: %d and %d); %s. Their 429s: %s (%d in all, %.1f x the single batch's %d). The snapshot task, where "
            "the API is, took %s in the slowest slice and %s in the single batch (%.2f x); the rest of each run is Ansible's "
            "per-host work, which the slices share out over 4 processes on the same 2 CPUs."
            % (
                case["size"],
                sliced["slices"],
                case["ratio"],
                seconds(sliced["wall"]) + " against " + seconds(single["wall"]),
                sliced["failed_hosts"],
                sliced["duplicates"],
                single["failed_hosts"],
                single["duplicates"],
                "every goal met" if not missed else "MISSED: " + ", ".join(missed),
                ", ".join("%s %d" % (r["label"], r["rate_limited"]) for r in runs),
                sliced["rate_limited"],
                sliced["rate_limited"] / float(max(1, single["rate_limited"])),
                single["rate_limited"],
                seconds(slowest),
                seconds(alone),
                slowest / alone if alone else 0.0,
            )
        )
    failures = sorted(
        set(
            (case["size"], r["label"], m)
            for case in measured["cases"]
            for kind in ("single", "sliced")
            for r in case[kind]["runs"]
            for m in r.get("failures", [])
        )
    )
    if failures:
        add("")
        add("Why hosts failed (each run's distinct messages):")
        add("")
        for size, label, message in failures:
            add("- N = %d, %s: `%s`" % (size, label, message.replace("`", "'")))
    # A size the benchmark is set up for but this JSON has no run of: said, not left out in silence.
    measured_sizes = set(case["size"] for case in measured["cases"])
    for size in settings["sizes"]:
        if size not in measured_sizes:
            add("")
            add(
                "**N = %d: not measured** in this JSON (no run of it is recorded); `bash tools/benchmark/run.sh --slices %d` "
                "adds it and keeps the other sizes." % (size, size)
            )
    for paragraph in measured.get("notes", []):
        add("")
        add(paragraph)


def markdown(results, path, chart_name=None):
    """docs/performance.md, all from `results`."""
    out = []
    add = out.append
    add("# Performance")
    add("")
    add(
        "Measured by `tools/benchmark/bench.py` in one run (%s mode, started %s, %.0f s in all). Every figure below comes from that "
        "run, measured or modelled as marked; the script wrote this page, `performance.png` and `tools/benchmark/results.json`."
        % (results["mode"], results["started"], results["total_seconds"])
    )
    add("")
    add("```")
    add(
        "bash tools/benchmark/run.sh          # full run (about %d minutes here): rewrites this page, the chart and the JSON"
        % max(1, round(results["total_seconds"] / 60.0))
        if results["mode"] == "full"
        else "bash tools/benchmark/run.sh          # full run: rewrites this page, the chart and the JSON"
    )
    add("bash tools/benchmark/run.sh --quick  # smoke run (a few minutes): writes under $VPS_LAYOUT_ROOT/bench-quick/")
    add("bash tools/benchmark/run.sh --slices [N ...]  # only the job slices (issue #22; N = 100 and 500 by default), added to the JSON")
    add("# re-render this page and the chart from the JSON, without measuring again:")
    add("python tools/benchmark/report.py tools/benchmark/results.json --markdown docs/performance.md --chart docs/performance.png")
    add("```")
    add("")
    add(
        "`run.sh` sources `scripts/lib.sh`, ensures the venv, lays the collection out under `$VPS_LAYOUT_ROOT/ansible_collections/"
        "vps/cloud` and runs `python -m ansible_collections.vps.cloud.tools.benchmark.bench` from there with `$VPS_LAYOUT_ROOT` on "
        "`PYTHONPATH` and `ANSIBLE_COLLECTIONS_PATH` set. Every measured task is a real `ansible-playbook` run (connection local), "
        "through the test harness (`tests/harness`), against the loopback simulator (`tools/vps_simulator`), started in the "
        "benchmark's own process."
    )
    add("")
    add(
        "**The machine:** %s CPUs, shared with other engineers' test runs during this run (1-minute load average %.1f at the "
        "start, %.1f at the end). Absolute times vary from run to run; read the ratios, each between figures of this one run."
        % (results["cpus"], results["load_before"][0], results["load_after"][0])
    )
    add("")
    if chart_name and "fleet" in results:
        add("![Fleet: wall time and requests against N, with and without the rate limit, and against T](%s)" % chart_name)
        add("")
    if "fleet" in results:
        fleet_markdown(results, add)
    if "overhead" in results:
        other_markdown(results, add)
    if "slices" in results:
        slices_markdown(results["slices"], add)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out).rstrip() + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Render the benchmark's report from its JSON")
    parser.add_argument("results")
    parser.add_argument("--markdown")
    parser.add_argument("--chart")
    args = parser.parse_args(argv)
    with open(args.results, encoding="utf-8") as handle:
        results = json.load(handle)
    print(text(results))
    if args.chart:
        chart(results, args.chart)
    if args.markdown:
        markdown(results, args.markdown, chart_name=args.chart.rsplit("/", 1)[-1] if args.chart else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
