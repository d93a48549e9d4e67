#!/usr/bin/env python3
"""Where a process's resident memory goes, from a copy of its /proc/PID/smaps.

The load driver writes these copies when LOAD_MEMORY_DIR is set (`<label>-<pid>.smaps`,
with `.status` beside it); this sorts every mapping into a few kinds and prints resident
KiB per kind, file-backed and anonymous apart:

  benches/memory_map.py DIR/warroom-after-ingest-1234.smaps [more.smaps ...]

Kinds: the program's own file (code, read-only data, relocated data), shared libraries,
the main heap ([heap]), glibc malloc arenas of other threads (64 MiB-aligned anonymous
reservations), thread stacks (anonymous mappings right above a guard page), the main stack,
and other anonymous mappings (large allocations, runtime and JIT areas).
"""

import os
import re
import sys
from collections import defaultdict

ARENA = 64 << 20
HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$")


def read(path):
    maps = []
    cur = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                cur = {
                    "start": int(m.group(1), 16),
                    "end": int(m.group(2), 16),
                    "perms": m.group(3),
                    "path": m.group(4).strip(),
                }
                maps.append(cur)
                continue
            key, _, rest = line.partition(":")
            parts = rest.split()
            if cur is not None and parts and parts[0].isdigit():
                cur[key] = int(parts[0])
    return maps


def kind(maps, i, program):
    m = maps[i]
    path = m["path"]
    if path and os.path.basename(path) == program:
        return {"r-xp": "program code", "r--p": "program read-only data"}.get(
            m["perms"], "program data (relocated, written)"
        )
    if path == "[heap]":
        return "main heap"
    if path == "[stack]":
        return "main stack"
    if path.startswith("["):
        return "kernel ([vdso] etc.)"
    if path:
        return "shared libraries" if ".so" in path else "other files"
    # Anonymous.
    if m["start"] % ARENA == 0 or any(
        p["start"] % ARENA == 0 and p["start"] < m["start"] < p["start"] + ARENA and not p["path"]
        for p in maps[max(0, i - 2) : i]
    ):
        return "malloc arenas (other threads)"
    prev = maps[i - 1] if i else None
    if prev and prev["end"] == m["start"] and prev["perms"] == "---p" and not prev["path"]:
        return "thread stacks"
    return "other anonymous"


def main(paths):
    for path in paths:
        program = None
        status = path.rsplit(".", 1)[0] + ".status"
        threads = "?"
        if os.path.exists(status):
            with open(status, encoding="utf-8") as f:
                for line in f:
                    if line.startswith("Name:"):
                        program = line.split()[1]
                    if line.startswith("Threads:"):
                        threads = line.split()[1]
        maps = read(path)
        if program is None:
            program = os.path.basename(max(maps, key=lambda m: m.get("Rss", 0) if m["path"] else 0)["path"])
        totals = defaultdict(lambda: [0, 0, 0, 0])
        for i, m in enumerate(maps):
            k = kind(maps, i, program)
            t = totals[k]
            t[0] += m.get("Rss", 0)
            t[1] += m.get("Anonymous", 0)
            t[2] += m.get("Private_Dirty", 0)
            t[3] += 1
        rss = sum(t[0] for t in totals.values())
        anon = sum(t[1] for t in totals.values())
        print(f"{os.path.basename(path)}: {rss} KiB resident ({anon} KiB anonymous), {threads} threads")
        print(f"  {'kind':36} {'Rss KiB':>8} {'anon':>8} {'dirty':>8} {'maps':>5}")
        for k, t in sorted(totals.items(), key=lambda kv: -kv[1][0]):
            print(f"  {k:36} {t[0]:8} {t[1]:8} {t[2]:8} {t[3]:5}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
