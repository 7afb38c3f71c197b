"""What recording lineage costs a run: the environment (cached), the files read, the metrics.

On one warm python3 kernel, the lineage work of a run (the silent set-up execute, the
environment cache check, fetching and hashing the files read) is timed N times with the
environment cached, then once with the cache cold, then once after `pip install` into a
folder on the kernel's sys.path (the cache must notice and refresh). Goal: at most 50 ms
per run on a cached environment.

    .venv/bin/python benchmarks/bench_lineage.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from jenkins_kernel.engine.kernel import KernelSession
from jenkins_kernel.lineage import environment
from jenkins_kernel.lineage.recorder import RunLineage


def make_wheel(folder: Path, name: str = "jk_bench_probe", version: str = "1.0") -> Path:
    """A tiny pure-Python wheel, so `pip install` has something real to install."""
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{name}/__init__.py", "VALUE = 1\n")
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", f"{name}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")
    return wheel


def pip_install(wheel: Path, target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        check=True,
    )


async def one_run(session: KernelSession, work: Path) -> tuple[float, RunLineage]:
    lineage = RunLineage(notebook_name="bench.ipynb")
    start = time.perf_counter()
    await lineage.begin(session)
    await lineage.finish()
    return time.perf_counter() - start, lineage


async def main(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work, site = Path(tmp) / "work", Path(tmp) / "site"
        work.mkdir()
        site.mkdir()
        (work / "data.csv").write_text("x\n" + "1\n" * 100_000)
        environment._cache = environment.EnvironmentCache(Path(tmp) / "cache.json")
        session = await KernelSession("python3", cwd=work, env={"PYTHONPATH": str(site)}).start()
        try:
            cold, lineage = await one_run(session, work)
            packages = len(lineage.environment.packages) if lineage.environment else 0
            # a notebook that reads its data each run: hashed once, then found by (path, size, mtime)
            msg = session.kc.execute("open('data.csv').read()", silent=True)
            await session.wait_reply(msg, 10)
            baseline, warm = [], []
            for _ in range(repeat):  # interleaved with a trivial execute's round trip, for scale under load
                start = time.perf_counter()
                await session.wait_reply(session.kc.execute("pass", store_history=False), 10)
                baseline.append(time.perf_counter() - start)
                seconds, lineage = await one_run(session, work)
                warm.append(seconds)
            before = lineage.environment.sha256 if lineage.environment else ""
            pip_install(make_wheel(Path(tmp)), site)
            after_seconds, after = await one_run(session, work)
            found = after.environment.packages.get("jk-bench-probe") if after.environment else None
        finally:
            session.request_shutdown()
            await session.close()
    print(f"environment: {packages} distributions")
    print(f"cold cache (reads every distribution): {cold * 1000:.1f} ms")
    print(
        f"warm cache, {repeat} runs: median {statistics.median(warm) * 1000:.1f} ms, "
        f"max {max(warm) * 1000:.1f} ms (goal: <= 50 ms)"
    )
    trip = statistics.median(baseline)
    print(
        f"for scale, one trivial execute round trip meanwhile: median {trip * 1000:.1f} ms "
        f"(lineage = {statistics.median(warm) / trip:.1f} round trips)"
    )
    changed = after.environment is not None and after.environment.sha256 != before
    print(f"after pip install: {after_seconds * 1000:.1f} ms, refreshed={changed}, jk-bench-probe={found}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    asyncio.run(main(parser.parse_args().repeat))
