"""Writing a run's lineage to the store: for the service's runs, and for embedded runs
recorded with ``run --record`` (the same tables, so ``runs``/``show``/``diff``/``rerun``
read both alike)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from ..engine.results import RunResult
from ..store import Store
from .files import sha256_file
from .recorder import system_info

__all__ = ["record_embedded_run", "record_locally", "save_lineage"]


def save_lineage(store: Store, run_id: str, result: RunResult, git: dict[str, Any] | None = None) -> Any:
    """Queue the run's environment, system, git, metrics and files read; the store's future."""
    lineage = result.lineage or {}
    return store.save_lineage(
        run_id,
        environment=lineage.get("environment"),
        system=lineage.get("system") or system_info(),
        git=git or {},
        metrics=result.metrics,
        files=lineage.get("files") or [],
    )


def record_embedded_run(
    store: Store,
    *,
    nb: Any,
    name: str,
    result: RunResult,
    options: dict[str, Any],
    output_dir: Path,
    git: dict[str, Any] | None = None,
    jenkins: dict[str, Any] | None = None,
) -> str:
    """Record a finished embedded run as the service would have; its id.

    The notebook as run (before parameters) is kept as ``input.ipynb``, so ``rerun`` can
    run the same bytes again; the reports are copied into the run's folder."""
    run_id = uuid.uuid4().hex
    text = json.dumps(nb, indent=1)
    run = {
        "id": run_id,
        "kind": "notebook",
        "kernel": result.kernel.name if result.kernel else options.get("kernel"),
        "status": result.status.value,
        "exit_code": result.exit_code,
        "message": result.message,
        "created": result.started,
        "started": result.started,
        "ended": result.ended or time.time(),
        "token_name": "embedded",
        "input_sha256": hashlib.sha256(json.dumps(nb, sort_keys=True).encode()).hexdigest(),
        "notebook_name": name,
        "parameters": result.parameters,
        "options": {k: v for k, v in options.items() if v is not None},
        "jenkins": jenkins or {},
        "kernel_info": result.kernel.to_dict() if result.kernel else {},
    }
    store.insert_run(run, input_file=("input.ipynb", text))
    folder = store.run_dir(run_id) / "artifacts"
    copied = []
    for path in sorted(p for p in output_dir.rglob("*") if p.is_file()):
        dest = folder / path.relative_to(output_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        copied.append((dest.relative_to(folder).as_posix(), dest.stat().st_size, sha256_file(dest)))
    store.record(run_id, artifacts=copied)
    save_lineage(store, run_id, result, git).result(30)
    return run_id


def record_locally(data_dir: str | Path, nb: Any, path: str | Path, result: RunResult, opts: Any, out: Path) -> str:
    """``run --record``: the embedded run into the store in ``data_dir``; its id."""
    from .git import git_info

    store = Store(data_dir)
    try:
        options = {
            "kernel": opts.kernel,
            "timeout": opts.timeout,
            "cell_timeout": opts.cell_timeout,
            "allow_errors": opts.allow_errors or None,
            "cwd": opts.cwd,
        }
        return record_embedded_run(
            store, nb=nb, name=Path(path).name, result=result, options=options, output_dir=out, git=git_info(path)
        )
    finally:
        store.close()
