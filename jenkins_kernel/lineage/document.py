"""A run's whole record in one document, and the difference between two of them.

The document is what ``GET /api/v1/runs/{id}/lineage`` answers and what ``show``,
``diff`` and ``rerun`` read, from the service or from the local store alike.
"""

from __future__ import annotations

from typing import Any

__all__ = ["diff_documents", "lineage_document"]

_RUN_FIELDS = (
    "id",
    "kind",
    "status",
    "exit_code",
    "kernel",
    "kernel_info",
    "notebook_name",
    "input_sha256",
    "parameters",
    "options",
    "jenkins",
    "created",
    "ended",
    "token_name",
)


def lineage_document(store: Any, run: dict[str, Any]) -> dict[str, Any]:
    """Everything recorded about ``run`` (a row of the runs table or its API view)."""
    lineage = store.lineage_for(run["id"])
    return {
        "run": {k: run.get(k) for k in _RUN_FIELDS},
        "code": {
            "notebook_name": run.get("notebook_name"),
            "input_sha256": run.get("input_sha256"),
            "parameters": run.get("parameters") or {},
            "git": lineage["git"],
        },
        "kernel": {"name": run.get("kernel"), **(run.get("kernel_info") or {})},
        "environment": lineage["environment"],
        "system": lineage["system"],
        "files": lineage["files"],
        "metrics": lineage["metrics"],
        "artifacts": store.artifacts(run["id"]),
    }


def _changed(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Keys whose values differ: added (only in b), removed (only in a), changed (both)."""
    return {
        "added": {k: b[k] for k in sorted(set(b) - set(a))},
        "removed": {k: a[k] for k in sorted(set(a) - set(b))},
        "changed": {k: [a[k], b[k]] for k in sorted(set(a) & set(b)) if a[k] != b[k]},
    }


def _files(doc: dict[str, Any]) -> dict[str, str]:
    return {f"{f['direction']}:{f['path']}": f.get("sha256") or "" for f in doc.get("files") or []}


def diff_documents(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What differs between two runs' documents: parameters, code, kernel, inputs,
    packages, metrics (with deltas) and outputs. Empty sections mean "the same"."""
    code_a, code_b = a["code"], b["code"]
    code = {}
    for key in ("input_sha256", "notebook_name"):
        if code_a.get(key) != code_b.get(key):
            code[key] = [code_a.get(key), code_b.get(key)]
    code.update(
        {f"git.{k}": v for k, v in _changed(code_a.get("git") or {}, code_b.get("git") or {})["changed"].items()}
    )
    env_a, env_b = a.get("environment") or {}, b.get("environment") or {}
    metrics_a, metrics_b = a.get("metrics") or {}, b.get("metrics") or {}
    metrics = _changed(metrics_a, metrics_b)
    metrics["changed"] = {k: {"from": v[0], "to": v[1], "delta": v[1] - v[0]} for k, v in metrics["changed"].items()}
    outputs_a = {x["name"]: x["sha256"] for x in a.get("artifacts") or [] if not x["name"].startswith("input.")}
    outputs_b = {x["name"]: x["sha256"] for x in b.get("artifacts") or [] if not x["name"].startswith("input.")}
    kernel_keys = ("name", "language_version", "implementation_version")
    kernel = {
        k: [a["kernel"].get(k), b["kernel"].get(k)] for k in kernel_keys if a["kernel"].get(k) != b["kernel"].get(k)
    }
    return {
        "runs": [a["run"]["id"], b["run"]["id"]],
        "parameters": _changed(code_a.get("parameters") or {}, code_b.get("parameters") or {}),
        "code": code,
        "kernel": kernel,
        "files": _changed(_files(a), _files(b)),
        "environment": {
            "sha256": [env_a.get("sha256"), env_b.get("sha256")] if env_a.get("sha256") != env_b.get("sha256") else [],
            "packages": _changed(env_a.get("packages") or {}, env_b.get("packages") or {}),
        },
        "metrics": metrics,
        "outputs": sorted(k for k in set(outputs_a) | set(outputs_b) if outputs_a.get(k) != outputs_b.get(k)),
    }
