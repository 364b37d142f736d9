"""CPU seconds of process trees, from /proc: where a benchmark's requests spend the machine.

Why: on a shared 2-core machine requests/s moves with whatever else runs, but the CPU each
request costs every part of the stack (the workers, PostgreSQL, nginx, the Chroma server) hardly
does — that is the figure a change to a turn's cost shows in. A tree is a process and its live
descendants (all threads: /proc/PID/stat counts them), plus what its reaped children used
(cutime/cstime: PostgreSQL's ended backends, nginx's old workers). Linux only.

    before = snapshot(groups)   # {"workers": [pid, …], "PostgreSQL": [postmaster], …}
    … load …
    used = since(before, groups)   # CPU seconds per group meanwhile
"""
from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, reaped children's CPU s), or None when the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": comm may hold spaces
    # fields[0] is field 3 (state): ppid is field 4, utime/stime 14/15, cutime/cstime 16/17
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / _TICK
    reaped = (int(fields[13]) + int(fields[14])) / _TICK
    return ppid, own, reaped


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                kids.setdefault(stat[0], []).append(int(entry.name))
    return kids


def tree_cpu(root: int, kids: dict[int, list[int]] | None = None) -> float:
    """CPU seconds used so far by `root` and its descendants (0 if it is gone)."""
    kids = _children() if kids is None else kids
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        stat = _stat(pid)
        if stat is None:
            continue
        total += stat[1] + stat[2]  # each reaped process is in its parent's cutime, once
        stack.extend(kids.get(pid, ()))
    return total


def snapshot(groups: dict[str, list[int]]) -> dict[str, float]:
    kids = _children()
    return {name: sum(tree_cpu(pid, kids) for pid in pids) for name, pids in groups.items()}


def since(before: dict[str, float], groups: dict[str, list[int]]) -> dict[str, float]:
    now = snapshot(groups)
    return {name: now[name] - before.get(name, 0.0) for name in groups}
