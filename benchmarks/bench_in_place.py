"""A run in a workspace folder, with the build's variables, on a warm kernel of each language.

A warm kernel is moved to the run's folder and environment by one silent cell (see
jenkins_kernel/engine/relocate.py); this prints how long each run waited for its kernel
(``started - created``) when it was warm and moved, against a cold start of the same kernel.

    .venv/bin/python benchmarks/bench_in_place.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from jenkins_kernel.engine.kernelspecs import installed_kernels

from service import ServiceProcess

CODE = {
    "python3": "import os; print(os.getcwd(), os.environ['BUILD_NUMBER'])",
    "bash": 'echo "$PWD $BUILD_NUMBER"',
    "ir": 'cat(getwd(), Sys.getenv("BUILD_NUMBER"), "\\n")',
    "javascript": "console.log(process.cwd(), process.env.BUILD_NUMBER)",
}


def wait_warm(svc: ServiceProcess, kernel: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        specs = svc.request("GET", "/api/v1/kernelspecs")[2]["kernelspecs"]
        if next(k["warm"] for k in specs if k["name"] == kernel):
            return
        time.sleep(0.1)
    raise SystemExit(f"no warm {kernel} kernel within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    kernels = [k for k in CODE if k in installed_kernels()]
    root = Path(tempfile.mkdtemp(prefix="jk-in-place-"))
    (root / "workspace").mkdir()
    body = {"cwd": str(root / "workspace"), "env": {"BUILD_NUMBER": "7"}}
    warm = ",".join(f"{k}=1" for k in kernels)
    pooled = ServiceProcess(root / "pooled", "--warm", warm, "--allowed-root", str(root)).start()
    plain = ServiceProcess(root / "plain", "--allowed-root", str(root)).start()
    try:
        print(f"{'kernel':<12} {'warm, moved (ms)':>18} {'cold start (ms)':>16}   (median of {args.repeat})")
        for kernel in kernels:
            waits: dict[str, list[float]] = {"moved": [], "cold": []}
            for _ in range(args.repeat):
                wait_warm(pooled, kernel)
                for name, svc in (("moved", pooled), ("cold", plain)):
                    run = svc.run({**body, "code": CODE[kernel], "kernel": kernel}, wait=120)
                    assert run["exit_code"] == 0 and str(root / "workspace") in run["log"], run["log"]
                    waits[name].append(run["started"] - run["created"])
            moved, cold = (statistics.median(waits[n]) * 1000 for n in ("moved", "cold"))
            print(f"{kernel:<12} {moved:18.1f} {cold:16.0f}")
    finally:
        pooled.stop()
        plain.stop()


if __name__ == "__main__":
    main()
