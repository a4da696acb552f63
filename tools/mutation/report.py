# -*- coding: utf-8 -*-
# Copyright (c) vps.cloud contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Per-file mutation scores from a finished `mutmut run`, the survivors, and the gate.

Run by scripts/mutation.sh with the mutation venv's Python, from nowhere in particular:

    report.py --work DIR --equivalent tests/mutation/equivalent.txt --threshold 97 plugins/module_utils/client.py ...

DIR holds setup.cfg, mutants/ and ansible_collections/vps/cloud (the laid-out collection mutmut ran on).
For each file: mutants, killed (a test failed, or the mutant hung until its time limit), survived,
equivalent (survivors listed in the equivalent file), score = killed / (mutants - equivalent).
Then every survivor not listed as equivalent: file, line, function, its key for the equivalent file, the diff.
Exit status 1 when the total score is below the threshold, 2 when the results are missing or unreadable.

An equivalent mutant is named by file, function and a key: a hash of the statements the mutation removes and
adds, each read as Python reads it (ast.unparse), so that entries survive unrelated edits that renumber mutmut's
mutants or move lines, and reformatting (ruff format) that only changes layout.

--rekey FILE rewrites the keys of an equivalent file written with the earlier, line-based keys (a hash of the
source lines the mutation changes), for every mutant of the run that it names; it needs only generated mutants,
not their results.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import sys
import textwrap
from difflib import ndiff

COLLECTION = os.path.join("ansible_collections", "vps", "cloud")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# mutmut's exit codes for a mutant, as in mutmut.stats.status_by_exit_code (3.8).
KILLED = {"killed", "timeout", "caught by type check", "segfault"}
EXIT_STATUS = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no tests",
    2: "interrupted",
    None: "not checked",
    33: "no tests",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "caught by type check",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
}


def status_of(exit_code):
    return EXIT_STATUS.get(exit_code, "suspicious")


def function_of(mutant_name):
    """'...client.xǁPacerǁwait_turn__mutmut_3' -> 'Pacer.wait_turn'; '...client.x_send_once__mutmut_1' -> 'send_once'."""
    mangled = mutant_name.rpartition(".")[2].partition("__mutmut_")[0]
    if mangled.startswith("x\u01c1"):
        cls, method = mangled[2:].split("\u01c1", 1)
        return "%s.%s" % (cls, method)
    return mangled[2:] if mangled.startswith("x_") else mangled


def changed_lines(diff):
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return removed, added


def _hash(function, removed, added):
    text = "\n".join([function, "-"] + removed + ["+"] + added)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def line_key(function, diff):
    """The earlier key: a hash of the source lines the mutation changes (reformatting changes it)."""
    return _hash(function, *changed_lines(diff))


def canonical_change(mutant_name, path):
    """The statements a mutant removes and adds, as ast.unparse writes them: one line per simple statement, whatever
    the layout of the source."""
    from mutmut.mutation import diff_apply  # pylint: disable=import-outside-toplevel
    import libcst as cst  # pylint: disable=import-outside-toplevel

    functions = diff_apply.read_functions_from_index(mutant_name, path)
    if functions is None:
        module = diff_apply.read_mutants_module(path)
        functions = (diff_apply.read_original_function(module, mutant_name), diff_apply.read_mutant_function(module, mutant_name))
    original, mutant = (ast.unparse(ast.parse(textwrap.dedent(cst.Module([f]).code))).splitlines() for f in functions)
    lines = list(ndiff(original, mutant))
    return ([line[2:].strip() for line in lines if line.startswith("- ")], [line[2:].strip() for line in lines if line.startswith("+ ")])


def mutant_key(function, mutant_name, path):
    """A stable name for a mutant: its function and what it changes, whatever mutmut numbers it, wherever the line is and
    however the code is laid out."""
    return _hash(function, *canonical_change(mutant_name, path))


def read_equivalents(path):
    """{(file, key): (function, explanation, line number in the equivalent file)} from lines 'file function key explanation'."""
    entries = {}
    problems = []
    if not path or not os.path.exists(path):
        return entries, problems
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(None, 3)
            if len(fields) < 4 or not re.match(r"^[0-9a-f]{10}$", fields[2]):
                problems.append("%s:%d: expected 'file function key explanation', got %r" % (path, number, line))
                continue
            entries[(fields[0], fields[2])] = (fields[1], fields[3], number)
    return entries, problems


def function_spans(source):
    """{'name' or 'Class.name': (first line, last line)} of the top-level functions and methods of a module."""
    spans = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            spans[node.name] = (node.lineno, node.end_lineno)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    spans["%s.%s" % (node.name, item.name)] = (item.lineno, item.end_lineno)
    return spans


def line_of(lines, spans, function, diff):
    """The line of the original file that the mutation changes (the function's first line if it cannot tell)."""
    first, last = spans.get(function, (1, len(lines)))
    for wanted in changed_lines(diff)[0]:
        for number in range(first, min(last, len(lines)) + 1):
            if lines[number - 1].strip() == wanted:
                return number
    return first


def mutmut_diff(mutant_name, path):
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # pylint: disable=import-outside-toplevel

    return get_diff_for_mutant(mutant_name, path=path)


def load_results(work, files):
    """{file: [(mutant name, status)]} for each file of the collection (relative to its root) that mutmut ran on."""
    results = {}
    for relative in files:
        meta = os.path.join(work, "mutants", COLLECTION, relative + ".meta")
        if not os.path.exists(meta):
            results[relative] = None
            continue
        with open(meta, encoding="utf-8") as handle:
            data = json.load(handle)
        results[relative] = sorted(((name, status_of(code)) for name, code in data.get("exit_code_by_key", {}).items()), key=lambda item: _natural(item[0]))
    return results


def _natural(name):
    head, number = name.rsplit("__mutmut_", 1) if "__mutmut_" in name else (name, "")
    return head, int(number) if number.isdigit() else 0


def percent(killed, total):
    return 100.0 * killed / total if total else 100.0


def rekey(path, results):
    """Rewrite the line-based keys of the equivalent file `path` as statement-based ones, for the mutants of `results`."""
    new_keys = {}
    for relative, mutants in results.items():
        source_path = os.path.join(COLLECTION, relative)
        for name, dummy in mutants or ():
            function = function_of(name)
            new_keys[(relative, line_key(function, mutmut_diff(name, source_path)))] = mutant_key(function, name, source_path)
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    missing = 0
    for index, line in enumerate(lines):
        fields = line.split(None, 3)
        if line.startswith("#") or len(fields) < 4 or (fields[0], fields[2]) not in new_keys and fields[0] not in results:
            continue
        if (fields[0], fields[2]) not in new_keys:
            missing += 1
            print("%s:%d: no mutant of this run has key %s: left as it is" % (path, index + 1, fields[2]), file=sys.stderr)
            continue
        lines[index] = " ".join([fields[0], fields[1], new_keys[(fields[0], fields[2])], fields[3]])
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("rekeyed %s (%d entries without a mutant in this run)" % (path, missing))
    return 1 if missing else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--work", required=True, help="the directory mutmut ran in")
    parser.add_argument("--equivalent", help="the file listing the equivalent mutants")
    parser.add_argument("--threshold", type=float, default=97.0, help="the lowest total score that passes, in percent")
    parser.add_argument("files", nargs="+", help="files of the collection, relative to its root")
    parser.add_argument("--rekey", metavar="FILE", help="rewrite FILE's line-based keys as statement-based ones, and stop")
    args = parser.parse_args(argv)

    work = os.path.abspath(args.work)
    equivalents, problems = read_equivalents(args.equivalent)
    shown_file = os.path.relpath(args.equivalent, REPO_ROOT) if args.equivalent else "the equivalent file"
    results = load_results(work, args.files)
    os.chdir(work)  # mutmut reads its setup.cfg and mutants/ from the current directory
    sys.path.insert(0, work)
    if args.rekey:
        return rekey(args.rekey, results)

    rows, survivors, seen_keys, stale, hung = [], [], set(), [], []
    for relative, mutants in results.items():
        if mutants is None:
            problems.append("%s: no mutmut results (not a Python file with functions, or mutmut did not get that far)" % relative)
            continue
        source_path = os.path.join(COLLECTION, relative)
        with open(source_path, encoding="utf-8") as handle:
            source = handle.read()
        lines, spans = source.splitlines(), function_spans(source)
        killed = survived = equivalent = 0
        for name, status in mutants:
            if status in KILLED:
                killed += 1
                if status == "timeout":
                    function = function_of(name)
                    diff = mutmut_diff(name, source_path)
                    hung.append((relative, line_of(lines, spans, function, diff), function, diff))
                continue
            function = function_of(name)
            diff = mutmut_diff(name, source_path)
            key = mutant_key(function, name, source_path)
            seen_keys.add((relative, key))
            if (relative, key) in equivalents:
                equivalent += 1
                continue
            survived += 1
            survivors.append((relative, line_of(lines, spans, function, diff), function, key, status, name, diff))
        for (path, key), (function, dummy, number) in sorted(equivalents.items()):
            if path == relative and (path, key) not in seen_keys:
                stale.append(
                    "%s:%d: %s %s %s is no surviving mutant any more (killed, or the code changed): remove it" % (shown_file, number, path, function, key)
                )
        rows.append((relative, len(mutants), killed, survived, equivalent))

    width = max([len(row[0]) for row in rows] + [len("total")])
    print("%-*s %8s %7s %9s %11s %7s" % (width, "file", "mutants", "killed", "survived", "equivalent", "score"))
    totals = [0, 0, 0, 0]
    for relative, total, killed, survived, equivalent in rows:
        print("%-*s %8s %7s %9s %11s %6.1f%%" % (width, relative, total, killed, survived, equivalent, percent(killed, total - equivalent)))
        totals = [a + b for a, b in zip(totals, (total, killed, survived, equivalent))]
    score = percent(totals[1], totals[0] - totals[3])
    print("%-*s %8s %7s %9s %11s %6.1f%%" % (width, "total", totals[0], totals[1], totals[2], totals[3], score))
    if hung:
        print("\nKilled by hanging until mutmut's time limit (%d; look again if the machine was very busy):" % len(hung))
        for relative, line, function, diff in sorted(hung):
            removed, added = changed_lines(diff)
            print("  %s:%d  %s:  %s  ->  %s" % (relative, line, function, " / ".join(removed), " / ".join(added)))

    if survivors:
        print("\nSurviving mutants (%d), not listed in %s:" % (len(survivors), shown_file))
        for relative, line, function, key, status, name, diff in sorted(survivors, key=lambda s: (s[0], s[1])):
            print("\n%s:%d  %s  key %s  (%s; mutmut show %s)" % (relative, line, function, key, status, name))
            removed, added = changed_lines(diff)
            for text in removed:
                print("    - " + text)
            for text in added:
                print("    + " + text)
        print("\nTo list one as equivalent, add to %s a line: <file> <function> <key> <why no test can tell it apart>" % shown_file)
    for line in problems + stale:
        print("warning: " + line, file=sys.stderr)

    if not rows:
        print("no mutation results to report", file=sys.stderr)
        return 2
    verdict = "passes" if score >= args.threshold else "is below"
    print("\nMutation score %.1f%% %s the threshold of %g%%." % (score, verdict, args.threshold))
    return 0 if score >= args.threshold else 1


if __name__ == "__main__":
    sys.exit(main())
