"""What ``jenkins apply`` checks before it talks to Jenkins, and what ``--dry-run`` shows
without it: each job's notebook exists and declares the parameters the job gives it, and
the Pipeline script each job would get.

A job that names a missing notebook, or a parameter its notebook never reads, would only
fail at its first build, at night; here it fails at once, exit 5, naming the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from .exceptions import JenkinsKernelError, RejectedError
from .jenkins_jobs import NotebookJob, pipeline_script

__all__ = ["check_notebooks", "print_scripts", "repository_root"]


def repository_root(start: Path) -> Path | None:
    """The nearest folder holding ``.git`` at or above ``start``."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _find(notebook: str, jobs_yaml: Path) -> Path | None:
    """The notebook from the current folder, else from the jobs file's repository root."""
    bases = [Path.cwd(), repository_root(jobs_yaml.resolve().parent)]
    for base in bases:
        if base is not None and (base / notebook).is_file():
            return base / notebook
    return None


def check_notebooks(jobs: list[NotebookJob], jobs_yaml: Path) -> None:
    """Every job's notebook exists and assigns each job parameter in its ``parameters`` cell;
    else one RejectedError listing every problem."""
    from .notebook.loader import load_notebook
    from .notebook.parameters import declared_parameter_names

    problems = []
    for job in jobs:
        path = _find(job.notebook, jobs_yaml)
        if path is None:
            problems.append(f"job {job.name!r}: notebook {job.notebook} not found")
            continue
        if not job.parameters:
            continue
        try:
            declared = declared_parameter_names(load_notebook(path))
        except JenkinsKernelError as exc:
            problems.append(f"job {job.name!r}: cannot read {job.notebook}: {exc.message}")
            continue
        missing = [p.name for p in job.parameters if p.name not in declared]
        if missing and not declared:
            problems.append(
                f"job {job.name!r}: {job.notebook} has no cell tagged 'parameters' (for {', '.join(missing)})"
            )
        elif missing:
            problems.append(
                f"job {job.name!r}: {job.notebook} does not declare {', '.join(missing)} in its parameters cell "
                f"(it declares {', '.join(declared)})"
            )
    if problems:
        raise RejectedError(
            "; ".join(problems),
            code="bad_jobs",
            hint="notebook paths are taken from the repository root (run apply there); "
            "a parameter must be assigned in the notebook's cell tagged 'parameters'",
        )


def print_scripts(jobs: list[NotebookJob], out: TextIO) -> None:
    """Each job's generated Pipeline script, framed by its name."""
    for job in jobs:
        print(f"--- pipeline script of {job.name} ---", file=out)
        out.write(pipeline_script(job))
    if jobs:
        print("--- end of the pipeline scripts ---", file=out)
