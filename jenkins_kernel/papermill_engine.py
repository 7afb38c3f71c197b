"""A papermill engine that runs the notebook on the jenkins-kernel service.

``papermill in.ipynb out.ipynb -p a 1 --engine jenkins_kernel`` (entry point
``papermill.engine``): papermill reads, parameterizes and writes the notebook with its own
I/O handlers (s3://, gs://, ...), and the service runs it, on its warm kernels and
whichever kernel backend it has, with its live log and its record. The service and token
come from ``JENKINS_KERNEL_URL`` and ``JENKINS_KERNEL_TOKEN``, as for the CLI.

Outputs reach papermill's notebook as the run's events arrive (the CLI's own
:class:`~.notebook.outputs.OutputCollector`), so papermill's per-cell saves show progress;
execution counts come from the service's executed notebook at the end.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import nbformat
from papermill.engines import Engine

from .client import Client
from .engine.events import Event
from .exceptions import JenkinsKernelError, RejectedError
from .notebook.outputs import OutputCollector
from .remote import follow_run

__all__ = ["JenkinsKernelEngine"]

log = logging.getLogger("papermill")


class JenkinsKernelEngine(Engine):
    """papermill's engine interface: execute the managed notebook, report each cell."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> None:
        client = _client()
        nb = nb_man.nb
        parameters = dict((nb.metadata.get("papermill") or {}).get("parameters") or {})
        input_path = kwargs.get("input_path")
        body: dict[str, Any] = {
            "notebook": nb,
            "notebook_name": Path(str(input_path)).name if input_path else "notebook.ipynb",
            "kernel": kernel_name,
            "parameters": parameters,  # re-injected in place of papermill's cell: recorded with the run
        }
        if kwargs.get("execution_timeout"):
            body["cell_timeout"] = kwargs["execution_timeout"]
        run = client.start_run(body)
        nb.metadata.setdefault("jenkins_kernel", {}).update({"run_id": run["id"], "service": client.url})
        listener = _CellReporter(nb_man, kwargs)
        if threading.current_thread() is threading.main_thread():
            run = follow_run(client, run, [listener])  # Ctrl-C / SIGTERM cancel the run there
        else:
            for raw in client.follow(run["id"]):
                listener(Event.from_dict(raw))
            run = client.get_run(run["id"])
        _copy_execution_counts(client, run["id"], nb)
        nb.metadata["jenkins_kernel"].update({"status": run["status"], "exit_code": run["exit_code"]})


class _CellReporter:
    """Turns the run's events into papermill's cell start/complete calls and outputs."""

    def __init__(self, nb_man: Any, options: dict[str, Any]) -> None:
        self.nb_man = nb_man
        self.collector = OutputCollector(nb_man.nb)
        self.log_output = bool(options.get("log_output"))
        self.files = {"stdout": options.get("stdout_file"), "stderr": options.get("stderr_file")}

    def __call__(self, event: Event) -> None:
        self.collector(event)
        data = event.data
        if event.type == "cell" and data["phase"] in ("start", "end"):
            index = data["index"]
            cell = self.nb_man.nb.cells[index]
            if data["phase"] == "start":
                self.nb_man.cell_start(cell, index)
                return
            if data.get("status") not in ("succeeded", "skipped"):
                self.nb_man.cell_exception(cell, index)
            self.nb_man.cell_complete(cell, index)
        elif event.type == "stream":
            target = self.files.get(data["name"])
            if target is not None:
                target.write(data["text"])
                target.flush()
            if self.log_output:
                log.info(data["text"].rstrip("\n"))


def _client() -> Client:
    url = os.environ.get("JENKINS_KERNEL_URL")
    if not url:
        raise RejectedError(
            "the jenkins_kernel papermill engine needs the service's URL in JENKINS_KERNEL_URL",
            hint="export JENKINS_KERNEL_URL=http://127.0.0.1:8765 JENKINS_KERNEL_TOKEN=...",
        )
    return Client(url, os.environ.get("JENKINS_KERNEL_TOKEN"))


def _copy_execution_counts(client: Client, run_id: str, nb: Any) -> None:
    """Execution counts (and outputs, for any event missed) from the service's executed notebook."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download(run_id, "executed.ipynb", Path(tmp) / "executed.ipynb")
        except JenkinsKernelError:
            return  # a run that never started has no executed notebook
        executed = nbformat.read(path, as_version=4)
    if len(executed.cells) != len(nb.cells):
        return
    for ours, theirs in zip(nb.cells, executed.cells):
        if ours.cell_type == "code" and theirs.cell_type == "code":
            ours.execution_count = theirs.get("execution_count")
            ours.outputs = theirs.get("outputs", [])
