"""Server time of the dashboard's pages on a store of 100,000 runs.

Fills a fresh data dir with synthetic finished runs straight through SQLite (40 jobs,
4 kernels, statuses, parameters and two metrics each), starts the service in-process (no
kernels are needed), and times each page as the Flask app renders it (the Server-Timing
header, the same `curl -I` shows: wall time and the request thread's CPU time; on a shared
machine the wall time includes waiting for a core): the first runs page, a filtered page, a deep page
(90,000 runs back, by its keyset cursor), a run page and a metrics page. Goal: each under
200 ms.

    .venv/bin/python benchmarks/bench_dashboard.py [--runs 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from jenkins_kernel.server.app import create_app  # noqa: E402
from jenkins_kernel.server.config import Settings  # noqa: E402
from jenkins_kernel.server.service import AgentService  # noqa: E402
from jenkins_kernel.store import Store  # noqa: E402

from synthetic_runs import fill_runs  # noqa: E402

GOAL_MS = 200.0


def server_ms(client, path: str) -> tuple[float, float]:
    """(wall, CPU) milliseconds the app spent on ``path``, from its Server-Timing header."""
    response = client.get(path, headers={"Authorization": "Bearer bench"})
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    timing = response.headers["Server-Timing"]
    wall, cpu = (float(re.search(rf"{name};dur=([\d.]+)", timing).group(1)) for name in ("app", "cpu"))
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        Store(data).close()  # the schema, with every index and table of this version
        began = time.perf_counter()
        ids = fill_runs(data / "jenkins-kernel.sqlite3", args.runs)
        print(f"filled {args.runs:,} runs in {time.perf_counter() - began:.1f} s")
        with sqlite3.connect(data / "jenkins-kernel.sqlite3") as db:
            deep = db.execute(
                "SELECT created, id FROM runs ORDER BY created DESC, id DESC LIMIT 1 OFFSET ?",
                (min(90_000, args.runs - 1),),
            ).fetchone()
        service = AgentService(Settings(data_dir=data, tokens={"bench": "bench"}))
        try:
            client = create_app(service).test_client()
            pages = {
                "runs, first page": "/ui/runs",
                "runs, filtered (job + status)": "/ui/runs?job=job-07&status=failed",
                "runs, filtered (kernel + dates)": "/ui/runs?kernel=ir&since=2023-11-20&until=2023-11-30",
                "runs, deep page (90,000 back)": f"/ui/runs?before={deep[0]!r}_{deep[1]}",
                "runs, deep filtered page": f"/ui/runs?job=job-07&before={deep[0]!r}_{deep[1]}",
                "a run": f"/ui/runs/{ids[-1]}",
                "metrics of a job (100 runs)": "/ui/metrics?job=job-07",
                "metrics of a notebook": "/ui/metrics?notebook=job-03.ipynb",
            }
            print(f"server time of each page, {args.repeat} repetitions (wall: what a user waits; CPU: the work)")
            print(f"{'page':36} {'wall median':>12} {'wall max':>9} {'CPU median':>11}")
            worst = 0.0
            for label, path in pages.items():
                server_ms(client, path)  # warm-up: templates compiled, pages of the file cached
                times = [server_ms(client, path) for _ in range(args.repeat)]
                wall, cpu = statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)
                worst = max(worst, wall)
                print(f"{label:36} {wall:9.1f} ms {max(t[0] for t in times):6.1f} ms {cpu:8.1f} ms")
        finally:
            service.close()
    verdict = "OK" if worst < GOAL_MS else "SLOW"
    print(f"{verdict}: the slowest page's median is {worst:.1f} ms (goal < {GOAL_MS:.0f} ms)")
    return 0 if worst < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
