"""Faults injected into a running cluster during bench_cluster's load (`--faults`).

Why in the benchmark and not only in tests/test_faults.py: the test proves each fault is
survived with a handful of messages; issue 13 asks that no complaint is lost while the stack is
loaded — a worker killed with SIGKILL in mid-traffic, then PostgreSQL stopped and started again
— with the load generator retrying as WeChat does (the same signed message again, up to three
times). The schedule, as fractions of the run: worker 1 killed at 30 %, PostgreSQL stopped at
50 %, and `cluster.sh up` (which starts only what is not running: PostgreSQL and worker 1)
5 s later. The figures (complaints confirmed against those in the database, duplicates) are
printed by bench_cluster beside the ordinary ones.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

RETRIES = 3  # attempts per message, as WeChat makes
RETRY_AFTER = 1.0  # seconds before the next attempt (WeChat waits for its 5 s timeout)


def cluster_faults(script: list[str], env: dict, workers: int, pgdir: str, worker_pid: int) -> list[tuple]:
    """(fraction of the run, what, how) for a cluster.sh stack."""
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    stop = [str(pg_ctl), "-D", f"{pgdir}/data", "-m", "fast", "-w", "-t", "60", "stop"]
    if os.geteuid() == 0:
        stop = ["runuser", "-u", "postgres", "--", *stop]

    def kill_worker():
        os.kill(worker_pid, signal.SIGKILL)

    def stop_postgres():
        subprocess.run(stop, check=True, capture_output=True, timeout=90)

    def start_again():
        # no --port: the saved one, so nginx (already running there) is only reloaded
        subprocess.run([*script, "up", "--workers", str(workers)], env=env, check=True,
                       capture_output=True, timeout=600)

    return [(0.3, "kill -9 worker 1", kill_worker, 0.0), (0.5, "PostgreSQL stopped", stop_postgres, 0.0),
            (0.5, "cluster.sh up (PostgreSQL, worker 1)", start_again, 5.0)]


async def run(faults: list[tuple], duration: float, log: list[str]) -> None:
    """Each fault at its time (fraction × duration + delay), in a thread; `log` gets what was done when."""
    started = time.perf_counter()
    for fraction, what, how, delay in faults:
        wait = started + fraction * duration + delay - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        t = time.perf_counter() - started
        try:
            await asyncio.to_thread(how)
            log.append(f"{what} at {t:.0f} s (done at {time.perf_counter() - started:.0f} s)")
        except Exception as exc:  # the figures still print; the table says the fault failed
            log.append(f"{what} at {t:.0f} s FAILED: {exc!r}"[:200])
