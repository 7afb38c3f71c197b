"""Hundreds of live kernels in one service: the acceptance run of issue 9.

Opens N python3 sessions, 20 at a time (each batch waits until its kernels are ready),
runs one cell on each, then deletes them all; meanwhile a thread asks /health every
100 ms. Prints the time to N ready sessions, service RSS and open descriptors, total
kernel RSS, /health p50/p95/max, and whether any kernel process is left. Needs ~36 MB
per python3 kernel (~11 GB for 300).

    .venv/bin/python benchmarks/bench_scale.py [--sessions 300] [--batch 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from bench_service import Http, start_service


def health_prober(port: int, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    url = f"http://127.0.0.1:{port}/api/v1/health"
    while not stop.is_set():
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()
            latencies.append(time.perf_counter() - began)
        except Exception as exc:
            failures.append(str(exc))
        stop.wait(0.1)


def kernel_rss(service: psutil.Process) -> tuple[int, int]:
    """(count, total RSS in bytes) of the service's kernel processes."""
    total, count = 0, 0
    for proc in service.children(recursive=True):
        try:
            total += proc.memory_info().rss
            count += 1
        except psutil.Error:
            pass
    return count, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="jk-bench-scale-"))
    proc, port = start_service(data, "", "--max-sessions", str(args.sessions))
    service = psutil.Process(proc.pid)
    stop, latencies, failures = threading.Event(), [], []
    prober = threading.Thread(target=health_prober, args=(port, stop, latencies, failures), daemon=True)
    prober.start()
    local = threading.local()

    def http() -> Http:
        if not hasattr(local, "http"):
            local.http = Http(port)
        return local.http

    def ready(ids: list[str]) -> bool:
        return all(http().call("GET", f"/api/v1/sessions/{i}")["status"] == "idle" for i in ids)

    try:
        began = time.perf_counter()
        ids: list[str] = []
        with ThreadPoolExecutor(args.batch) as pool:
            while len(ids) < args.sessions:
                n = min(args.batch, args.sessions - len(ids))
                batch = [s["id"] for s in pool.map(lambda _: http().call("POST", "/api/v1/sessions", {}), range(n))]
                while not ready(batch):
                    time.sleep(0.1)
                ids += batch
                print(f"  {len(ids)} sessions ready at {time.perf_counter() - began:.1f} s", flush=True)
            to_ready = time.perf_counter() - began
            count, rss = kernel_rss(service)
            service_rss, fds = service.memory_info().rss, service.num_fds()
            cell = time.perf_counter()
            one_cell = lambda i: http().call("POST", "/api/v1/runs?wait=60", {"code": "1", "session": i})  # noqa: E731
            runs = list(pool.map(one_cell, ids))
            cells = time.perf_counter() - cell
            bad = [r for r in runs if r["exit_code"] != 0]
            kernels = service.children(recursive=True)
            list(pool.map(lambda i: http().call("DELETE", f"/api/v1/sessions/{i}"), ids))
        alive = psutil.wait_procs(kernels, timeout=60)[1]
        stop.set()
        prober.join()
        p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 20 else max(latencies)
        print(f"sessions: {args.sessions} opened {args.batch} at a time, ready in {to_ready:.1f} s")
        print(f"service: RSS {service_rss / 2**20:.0f} MB, {fds} open descriptors")
        print(f"kernels: {count} processes, total RSS {rss / 2**30:.2f} GB ({rss / max(count, 1) / 2**20:.0f} MB each)")
        print(f"one cell on each: {cells:.1f} s, {len(bad)} not succeeded")
        print(
            f"/health: {len(latencies)} probes, p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms, {len(failures)} failed"
        )
        print(f"after deleting all: {len(alive)} kernel processes left, service alive: {proc.poll() is None}")
    finally:
        stop.set()
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()
