"""Where the service used to lag, measured side by side in one run (issue: speed).

(1) bursts: 8 new-session notebook runs started at once with ``--warm python3=2``, once
    to teach the pool and once more after it has refilled (goal: p50 <= 150 ms, max <= 600 ms),
    and the same cells on 8 started kernels from bare jupyter_client threads (their floor);
(2) a flood: one run prints 300 MB (one print, and 300 prints of 1 MB): the service's
    peak RSS (goal <= 300 MB);
(3) tail latency: 500 trivial runs from 20 clients on 20 named sessions
    (goal: >= 150 runs/s, p95 < 100 ms, p99 < 250 ms), and the same cells from 20 threads
    with a bare jupyter_client each (the kernels' own ceiling on this machine);
(4) the embedded CLI on a 20-cell notebook against papermill's CLI (goal <= 0.6x);
(5) a 10-cell notebook on a new session from the warm pool against papermill's CLI
    (goal: >= 20x faster).

    .venv/bin/python benchmarks/bench_speed.py [--only 1,2,3,4,5] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_service import BIN, Http, concurrent_runs, make_notebook, notebook_runs, papermill_runs, start_service


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hwm_mb(pid: int) -> float:
    """Peak resident memory of the process so far (the kernel's own high-water mark)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def warm_count(http: Http, kernel: str) -> int:
    specs = http.call("GET", "/api/v1/kernelspecs")["kernelspecs"]
    return next(k["warm"] for k in specs if k["name"] == kernel)


def wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the benchmark's precondition")
        time.sleep(0.05)  # polling a benchmark's own precondition, not measured


def burst(port: int, nb: dict[str, Any], count: int) -> list[float]:
    """``count`` notebook runs on new sessions, all started at once; each one's latency
    (and how many found a warm kernel, printed)."""
    times: list[float] = []
    warm: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def one() -> None:
        http = Http(port)
        barrier.wait()
        start = time.perf_counter()
        run = http.call("POST", "/api/v1/runs?wait=120", {"notebook": nb, "notebook_name": "burst.ipynb"})
        assert run["exit_code"] == 0, run["log"]
        elapsed = time.perf_counter() - start
        queued = http.call("GET", f"/api/v1/runs/{run['id']}/events?limit=1")["events"][0]["data"]
        with lock:
            times.append(elapsed)
            warm.append(bool(queued.get("warm")))

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"    ({sum(warm)} of {count} runs found a warm kernel)")
    return times


def on_started_kernels(count: int, work: Any) -> float:
    """The peers' harness: ``count`` python3 kernels started beforehand, ``work(kc)`` on
    each from its own thread with a bare jupyter_client, all released at once; seconds
    until the last is done."""
    from jupyter_client.manager import start_new_kernel

    kernels = [start_new_kernel(kernel_name="python3") for _ in range(count)]
    barrier = threading.Barrier(count + 1)

    def one(kc: Any) -> None:
        barrier.wait()
        work(kc)

    threads = [threading.Thread(target=one, args=(kc,)) for _, kc in kernels]
    try:
        for t in threads:
            t.start()
        barrier.wait()
        began = time.perf_counter()
        for t in threads:
            t.join()
        return time.perf_counter() - began
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


def direct_bursts(nb: dict[str, Any], count: int) -> list[float]:
    """The peer of (1): the same notebook's cells on ``count`` started kernels at once
    (nothing recorded, no reports): what the kernels themselves cost on this machine."""
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    times: list[float] = []

    def one(kc: Any) -> None:
        start = time.perf_counter()
        for source in cells:
            kc.execute_interactive(source, timeout=60, output_hook=lambda _: None)
        times.append(time.perf_counter() - start)  # list.append is atomic

    on_started_kernels(count, one)
    return times


def bench_bursts(work: Path, nb: dict[str, Any]) -> None:
    print("(1) bursts: 8 new-session notebook runs at once, --warm python3=2")
    proc, port = start_service(work / "burst-data", "python3=2")
    try:
        http = Http(port)
        wait_for(lambda: warm_count(http, "python3") >= 2)
        first = burst(port, nb, 8)
        print(f"    first burst (teaches the pool)  p50 {ms(statistics.median(first))}, max {ms(max(first))}")
        wait_for(lambda: warm_count(http, "python3") >= 8, timeout=120)
        second = burst(port, nb, 8)
        print(
            f"    second burst                    p50 {ms(statistics.median(second))}, max {ms(max(second))}"
            "  (goal p50 <= 150 ms, max <= 600 ms)"
        )
        print(f"    warm kernels after the bursts: {warm_count(http, 'python3')} (the pool learnt the peak)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    peer = direct_bursts(nb, 8)
    print(
        f"    the same cells on 8 started kernels, bare jupyter_client: p50 {ms(statistics.median(peer))},"
        f" max {ms(max(peer))}"
    )


def bench_flood(work: Path) -> None:
    print("(2) a 300 MB flood through the service: peak service RSS")
    for label, code in (
        ("300 prints of 1 MB", "import sys\nfor _ in range(300):\n    sys.stdout.write('x' * 1_000_000)"),
        ("one print of 300 MB", "print('x' * 300_000_000)"),
    ):
        proc, port = start_service(work / f"flood-data-{len(label)}", "python3=1")
        try:
            http = Http(port)
            wait_for(lambda http=http: warm_count(http, "python3") >= 1)
            before = rss_mb(proc.pid)
            start = time.perf_counter()
            run = http.call("POST", "/api/v1/runs?wait=300", {"code": code, "kernel": "python3"})
            elapsed = time.perf_counter() - start
            assert run["exit_code"] == 0, run["message"]
            print(
                f"    {label:20s} service RSS {before:.0f} MB before, peak {hwm_mb(proc.pid):.0f} MB"
                f" (goal <= 300 MB); {elapsed:.1f} s"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def direct_executions(clients: int, total: int) -> tuple[float, list[float]]:
    """The peer of (3): the same cell from ``clients`` threads, each on its own started
    kernel (no HTTP, nothing recorded): what the machine's kernels allow at most."""
    latencies: list[float] = []

    def client(kc: Any) -> None:
        for _ in range(total // clients):
            start = time.perf_counter()
            kc.execute_interactive("sum(range(1000))", timeout=60, output_hook=lambda _: None)
            latencies.append(time.perf_counter() - start)  # list.append is atomic

    return on_started_kernels(clients, client), latencies


def bench_tail(work: Path) -> None:
    print("(3) 500 trivial runs from 20 clients on 20 named sessions")
    proc, port = start_service(work / "tail-data", "python3=1")
    try:
        elapsed, latencies = concurrent_runs(port, 20, 500)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    peer_elapsed, peer = direct_executions(20, 500)
    for label, took, times, goals in (
        ("service", elapsed, latencies, ((" (goal >= 150)", " (goal < 100 ms)", " (goal < 250 ms)"))),
        ("jupyter_client directly", peer_elapsed, peer, ("", "", "")),
    ):
        print(
            f"    {label:24s} {len(times) / took:.0f} runs/s{goals[0]}; p50 {ms(statistics.median(times))},"
            f" p95 {ms(percentile(times, 0.95))}{goals[1]}, p99 {ms(percentile(times, 0.99))}{goals[2]}"
        )


def command_runs(cmd: list[str], repeat: int) -> list[float]:
    """Wall times of ``cmd``, run ``repeat`` times (it must succeed)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def cli_runs(path: Path, repeat: int) -> list[float]:
    return command_runs(
        [str(BIN / "jenkins-kernel"), "run", str(path), "-q", "-o", str(path.with_name("jk-reports"))], repeat
    )


#: papermill's CLI without jsonschema's rfc3987_syntax import (as jenkins-kernel skips it).
PAPERMILL_LEAN = (
    "import sys; sys.modules['rfc3987_syntax'] = None; from papermill.__main__ import papermill; sys.exit(papermill())"
)


def papermill_lean_runs(path: Path, repeat: int) -> list[float]:
    return command_runs(
        [str(BIN / "python"), "-c", PAPERMILL_LEAN, str(path), str(path.with_name("pm.ipynb")), "--no-progress-bar"],
        repeat,
    )


def bench_cli(work: Path, repeat: int) -> None:
    print(f"(4) embedded CLI, 20-cell notebook, {repeat} runs each (interleaved)")
    path = work / "cli20.ipynb"
    make_notebook(path, 20)
    ours: list[float] = []
    theirs: list[float] = []
    lean: list[float] = []
    for _ in range(repeat):
        ours += cli_runs(path, 1)
        theirs += papermill_runs(path, 1)
        lean += papermill_lean_runs(path, 1)
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(
        f"    jenkins-kernel run {ms(statistics.median(ours))}, papermill CLI {ms(statistics.median(theirs))}:"
        f" ratio {ratio:.2f} (goal <= 0.6)"
    )
    print(
        f"    papermill CLI also without rfc3987_syntax's import (see cli.py) {ms(statistics.median(lean))}:"
        f" ratio {statistics.median(ours) / statistics.median(lean):.2f}"
    )


def bench_warm_notebook(work: Path, repeat: int) -> None:
    print(f"(5) 10-cell notebook on a new session from the warm pool, {repeat} runs")
    path = work / "nb10.ipynb"
    nb = make_notebook(path, 10)
    proc, port = start_service(work / "nb-data", "python3=1")
    try:
        http = Http(port)
        ours = notebook_runs(http, nb, repeat)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    theirs = papermill_runs(path, repeat)
    print(
        f"    service {ms(statistics.median(ours))}, papermill CLI {ms(statistics.median(theirs))}:"
        f" {statistics.median(theirs) / statistics.median(ours):.1f}x faster (goal >= 20x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3,4,5", help="which measurements, e.g. 1,3")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    which = {int(x) for x in args.only.split(",")}
    work = Path(tempfile.mkdtemp(prefix="jk-bench-speed-"))
    nb = json.loads(json.dumps(make_notebook(work / "burst.ipynb", 10)))
    if 1 in which:
        bench_bursts(work, nb)
    if 2 in which:
        bench_flood(work)
    if 3 in which:
        bench_tail(work)
    if 4 in which:
        bench_cli(work, args.repeat)
    if 5 in which:
        bench_warm_notebook(work, args.repeat)


if __name__ == "__main__":
    main()
