"""Outputs arrive live, complete and in order, and a flood does not become a flood of memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from conftest import JK, jk, make_notebook, read_notebook, stream_text


def test_first_line_is_shown_long_before_a_slow_cell_ends(tmp_path):
    code = "import time\nfor i in range(10):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.3)\n"
    proc = subprocess.Popen(
        [*JK, "exec", "-c", code],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    first_seen = time.monotonic()
    rest = proc.stdout.read()
    ended = time.monotonic()
    assert proc.wait(timeout=30) == 0
    assert first == b"tick 0\n"
    assert rest.decode().splitlines()[-1] == "tick 9"
    assert ended - first_seen >= 2.0


def test_200k_interleaved_lines_arrive_complete_and_in_order(tmp_path):
    code = "import sys\nfor i in range(100000):\n    print(f'out {i}')\n    print(f'err {i}', file=sys.stderr)\n"
    nb = make_notebook(tmp_path / "lines.ipynb", [code])
    proc = jk("run", str(nb), "-o", "out", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected_out = [f"out {i}" for i in range(100000)]
    expected_err = [f"err {i}" for i in range(100000)]
    assert proc.stdout.splitlines() == expected_out
    assert [line for line in proc.stderr.splitlines() if line.startswith("err ")] == expected_err
    cell = read_notebook(tmp_path / "out" / "executed.ipynb").cells[0]
    assert stream_text(cell, "stdout").splitlines() == expected_out
    assert stream_text(cell, "stderr").splitlines() == expected_err


_MEASURE = """
import resource, sys
sys.argv = ["jenkins-kernel", *sys.argv[1:]]
from jenkins_kernel.cli import main
try:
    main()
except SystemExit as exit:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with open("peak.json", "w") as f:
        f.write('{"peak": %d, "code": %d}' % (peak, exit.code))
"""


def test_200mb_flood_keeps_peak_memory_low_and_caps_the_notebook(tmp_path):
    code = "import sys\nchunk = ('x' * 1023 + '\\n') * 1024\nfor _ in range(200):\n    sys.stdout.write(chunk)\n"
    nb = make_notebook(tmp_path / "flood.ipynb", [code, "print('after the flood')"])
    with open(tmp_path / "console.txt", "wb") as console:
        subprocess.run(
            [sys.executable, "-c", _MEASURE, "run", str(nb), "-o", "out", "--max-output-bytes", "1000000"],
            cwd=tmp_path,
            stdout=console,
            stderr=subprocess.DEVNULL,
            timeout=180,
            check=False,
        )
    measured = json.loads((tmp_path / "peak.json").read_text())
    assert measured["code"] == 0
    assert measured["peak"] < 300 * 1024 * 1024, f"peak RSS {measured['peak'] / 2**20:.0f} MB"
    assert (tmp_path / "console.txt").stat().st_size == 200 * 1024 * 1024 + len("after the flood\n")
    flooded, after = read_notebook(tmp_path / "out" / "executed.ipynb").cells
    kept = stream_text(flooded)
    assert 900_000 <= len(kept) <= 1_000_000
    assert "output truncated" in stream_text(flooded, "stderr")
    assert stream_text(after) == "after the flood\n"
