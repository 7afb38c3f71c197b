"""How long one 20-cell notebook takes: jenkins-kernel against papermill and nbclient.

All measured in the same run on the same machine, 5 repetitions each (after one warm-up
of each), reporting medians and the ratio to papermill. Goal: jenkins-kernel is not slower
than papermill (ratio <= 1.0), library call against library call and CLI against CLI.

    .venv/bin/python benchmarks/bench_notebook.py [--repeat 5] [--cells 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent


def make_notebook(path: Path, cells: int) -> None:
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}))
    for i in range(cells - 1):
        nb.cells.append(nbformat.v4.new_code_cell(f"y{i} = x + {i}\nprint(y{i})"))
    nbformat.write(nb, path)


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cells", type=int, default=20)
    args = parser.parse_args()

    import nbclient
    import papermill

    import jenkins_kernel

    work = Path(tempfile.mkdtemp(prefix="jk-bench-"))
    nb_path = work / "bench.ipynb"
    make_notebook(nb_path, args.cells)
    out = work / "out"
    devnull = subprocess.DEVNULL

    def jk_library() -> None:
        jenkins_kernel.run_notebook(nb_path, parameters={"x": 2}, output_dir=out / "jk-lib")

    def jk_cli() -> None:
        cmd = [str(BIN / "jenkins-kernel"), "run", str(nb_path), "-p", "x", "2", "-o", str(out / "jk-cli"), "-q"]
        subprocess.run(cmd, check=True, stdout=devnull, stderr=devnull)

    def pm_library() -> None:
        papermill.execute_notebook(
            str(nb_path), str(out / "pm-lib.ipynb"), parameters={"x": 2}, progress_bar=False, kernel_name="python3"
        )

    def pm_cli() -> None:
        cmd = [str(BIN / "papermill"), str(nb_path), str(out / "pm-cli.ipynb"), "-p", "x", "2", "--no-progress-bar"]
        subprocess.run(cmd, check=True, stdout=devnull, stderr=devnull)

    def nbclient_library() -> None:
        nb = nbformat.read(nb_path, as_version=4)
        nbclient.NotebookClient(nb, kernel_name="python3").execute()
        nbformat.write(nb, out / "nbclient.ipynb")

    contenders = {
        "jenkins-kernel library": jk_library,
        "papermill library": pm_library,
        "nbclient library": nbclient_library,
        "jenkins-kernel CLI": jk_cli,
        "papermill CLI": pm_cli,
    }
    os.chdir(work)
    for func in contenders.values():
        func()  # warm-up: imports, disk caches
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeat):  # interleaved, so a busy moment hits everyone alike
        for name, func in contenders.items():
            samples[name].append(timed(func))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{args.cells}-cell notebook, {args.repeat} runs each (median, min, max in ms)")
    for name, values in samples.items():
        print(f"  {name:24s} {medians[name] * 1000:7.0f} {min(values) * 1000:7.0f} {max(values) * 1000:7.0f}")
    lib = medians["jenkins-kernel library"] / medians["papermill library"]
    cli = medians["jenkins-kernel CLI"] / medians["papermill CLI"]
    nbc = medians["jenkins-kernel library"] / medians["nbclient library"]
    print(f"ratio jenkins-kernel / papermill, library: {lib:.2f}  (goal <= 1.0)")
    print(f"ratio jenkins-kernel / papermill, CLI:     {cli:.2f}  (goal <= 1.0)")
    print(f"ratio jenkins-kernel / nbclient, library:  {nbc:.2f}")
    print("jenkins-kernel also writes junit.xml, report.html and summary.json;")
    print("papermill and nbclient write the executed notebook only.")


if __name__ == "__main__":
    main()
