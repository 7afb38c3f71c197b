"""A CI abort (SIGTERM to the CLI) cancels the run: exit 4, the reports are still written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from conftest import JK, make_notebook


def test_sigterm_cancels_the_run_and_keeps_the_partial_reports(tmp_path):
    nb = make_notebook(
        tmp_path / "long.ipynb", ["print('started', flush=True)", "import time; time.sleep(600)", "print(2)"]
    )
    proc = subprocess.Popen(
        [*JK, "run", str(nb), "-o", "out"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
        text=True,
    )
    assert proc.stdout.readline() == "started\n"
    seen = []
    for line in proc.stderr:  # cell 1 has ended once cell 2's header is printed
        seen.append(line)
        if line.startswith("[cell 2/3]"):
            break
    proc.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, rest = proc.communicate(timeout=30)
    err = "".join(seen) + rest
    assert proc.returncode == 4, err
    assert time.monotonic() - sent < 5
    assert "cancelled" in err.splitlines()[-2]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "cancelled" and summary["exit_code"] == 4
    assert summary["cells"][0]["status"] == "succeeded"
    assert (tmp_path / "out" / "executed.ipynb").exists() and (tmp_path / "out" / "junit.xml").exists()
