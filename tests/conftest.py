"""Shared test helpers: run the real CLI, build notebooks, skip for absent kernels.

Everything here uses real parts: real kernels started by jupyter_client, the real CLI in a
subprocess, real files in a temporary directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat
import pytest

from jenkins_kernel.engine.kernelspecs import installed_kernels

ROOT = Path(__file__).resolve().parents[1]
JK = [sys.executable, "-m", "jenkins_kernel"]
INSTALLED = set(installed_kernels())
LANGUAGE = {"python3": "python", "bash": "bash", "ir": "R", "javascript": "javascript"}


def needs_kernel(name: str) -> pytest.MarkDecorator:
    """Skip only where the kernel is truly absent (`make kernels` installs them all)."""
    return pytest.mark.skipif(
        name not in INSTALLED, reason=f"the {name} kernel is not installed here (run `make kernels`)"
    )


def jk(*args: str, cwd: Path, timeout: float = 90, env: dict[str, str] | None = None, input: str | None = None):
    """Run ``jenkins-kernel ARGS`` and return the completed process (text output)."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [*JK, *args], cwd=cwd, env=full_env, input=input, capture_output=True, text=True, timeout=timeout
    )


Cell = str | tuple[str, Iterable[str]]


def make_notebook(path: Path, cells: Iterable[Cell], kernel: str = "python3") -> Path:
    """Write a notebook of code cells; a cell is its source, or (source, tags)."""
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": kernel, "display_name": kernel, "language": LANGUAGE.get(kernel, kernel)}}
    )
    for cell in cells:
        source, tags = (cell, ()) if isinstance(cell, str) else cell
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {}))
    nbformat.write(nb, path)
    return path


def read_notebook(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def stream_text(cell: nbformat.NotebookNode, name: str = "stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == name)


def until(check, seconds: float = 20.0):
    """Wait for a condition (not a sleep: it returns as soon as the condition holds)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the condition did not hold in time")


#: The dashboard's tests (test_dashboard.py, test_dashboard_browser.py) share one service.
DASHBOARD_TOKENS = {"admin": "admin-secret-1", "viewer": "viewer-secret-2"}


@pytest.fixture(scope="session")
def dashboard_service(tmp_path_factory):
    """A service with an admin token and a read-only viewer token (and two warm python3 kernels)."""
    from service import ServiceProcess

    folder = tmp_path_factory.mktemp("dashboard")
    config = folder / "service.yaml"
    admin, viewer = DASHBOARD_TOKENS["admin"], DASHBOARD_TOKENS["viewer"]
    config.write_text(f"tokens:\n  admin: {admin}\n  viewer: {{token: {viewer}, role: read}}\n")
    service = ServiceProcess(folder / "data", "--config", str(config), "--warm", "python3=2").start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def kernel_gateway(tmp_path_factory):
    """One real Jupyter Kernel Gateway for the whole test session (see tests/gateway.py)."""
    from gateway import KernelGatewayProcess

    gateway = KernelGatewayProcess(tmp_path_factory.mktemp("kernel-gateway")).start()
    yield gateway
    gateway.stop()


@pytest.fixture(scope="session")
def enterprise_gateway(tmp_path_factory):
    """One real Jupyter Enterprise Gateway (local process proxy) for the whole test session."""
    from gateway import EnterpriseGatewayProcess

    gateway = EnterpriseGatewayProcess(tmp_path_factory.mktemp("enterprise-gateway")).start()
    yield gateway
    gateway.stop()


def backend_settings(request, backend: str) -> str:
    """YAML settings for a service whose kernels come from ``backend``: local, gateway (a
    Kernel Gateway) or enterprise-gateway."""
    if backend == "gateway":
        return request.getfixturevalue("kernel_gateway").settings()
    if backend == "enterprise-gateway":
        return request.getfixturevalue("enterprise_gateway").settings()
    return ""


#: A cell whose kernel asks for input although told not to (as IRkernel does) and ignores SIGINT.
ASKS_AND_IGNORES_INTERRUPTS = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
get_ipython().kernel._allow_stdin = True  # ask anyway
name = input('name? ')
"""
