"""Years of runs in minutes: does the service stay flat?

Phase 1 runs N trivial cells on one session; phase 2 runs M cells each on a fresh
(ephemeral) session; the service prunes meanwhile (``max_runs``, a short
``prune_interval``). Every 1,000 runs it prints the service's RSS, its open descriptors,
the database size (with its WAL) and the size of runs/: after warm-up they should stay flat.

    .venv/bin/python benchmarks/bench_soak.py [--runs 10000] [--fresh 2000] [--max-runs 500] [--clients 4]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from bench_service import Http, start_service


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):  # pruning deletes folders meanwhile: errors are skipped
        for name in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def report(label: str, done: int, began: float, service: psutil.Process, data: Path) -> None:
    db = sum(p.stat().st_size for p in data.glob("jenkins-kernel.sqlite3*"))
    print(
        f"{label} {done:6d} runs  {time.perf_counter() - began:7.1f} s  "
        f"RSS {service.memory_info().rss / 2**20:6.1f} MB  fds {service.num_fds():4d}  "
        f"db {db / 2**20:6.1f} MB  runs/ {folder_bytes(data / 'runs') / 2**20:6.1f} MB",
        flush=True,
    )


def soak(label: str, count: int, body: dict, clients: int, port: int, service: psutil.Process, data: Path) -> None:
    local = threading.local()
    lock = threading.Lock()
    done = [0]
    failed = [0]
    began = time.perf_counter()

    def one(_: int) -> None:
        if not hasattr(local, "http"):
            local.http = Http(port)
        run = local.http.call("POST", "/api/v1/runs?wait=60", body)
        with lock:
            done[0] += 1
            failed[0] += run["exit_code"] != 0
            if done[0] % 1000 == 0:
                report(label, done[0], began, service, data)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(count)))
    print(f"{label}: {count} runs in {time.perf_counter() - began:.1f} s, {failed[0]} not succeeded", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000, help="trivial runs on one session")
    parser.add_argument("--fresh", type=int, default=2_000, help="runs each on a fresh session")
    parser.add_argument("--max-runs", type=int, default=500, help="the retention setting")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="jk-bench-soak-"))
    config = data / "config.yaml"
    config.write_text(f"max_runs: {args.max_runs}\nprune_interval: 5\n")
    proc, port = start_service(data / "data", "python3=2", "--config", str(config))
    service = psutil.Process(proc.pid)
    try:
        report("start", 0, time.perf_counter(), service, data / "data")
        where = (args.clients, port, service, data / "data")
        soak("one session", args.runs, {"code": "x = 1", "session_name": "soak"}, *where)
        soak("fresh sessions", args.fresh, {"code": "x = 1"}, *where)
        time.sleep(6)  # one more retention pass
        report("end", args.runs + args.fresh, time.perf_counter(), service, data / "data")
    finally:
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()
