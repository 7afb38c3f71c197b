"""The OpenAPI document is true: schemathesis, with all its checks, finds nothing.

Bounded for `make test`: a few examples per operation, a fixed seed and a time budget.
Per-operation settings (and why) are in tests/schemathesis.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service import TOKEN, ServiceProcess

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    service = ServiceProcess(tmp_path_factory.mktemp("contract") / "data").start()
    yield service
    service.stop()


@pytest.mark.timeout(180)
def test_schemathesis_with_every_check_finds_nothing(svc, tmp_path):
    cli = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{svc.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--include-path-regex",
            "^/(api/v1|metrics)",  # the API; the dashboard's HTML pages (/ui) are checked by their own tests
            "--max-examples",
            "3",
            "--max-time",
            "30",
            "--seed",
            "7",
            "--generation-allow-x00",
            "false",
            "--suppress-health-check",
            "all",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=tmp_path,  # its example cache stays out of the repository
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert not any(" 500 " in line or "Traceback" in line for line in svc.lines), "".join(svc.lines)
