"""The record in words: the text ``runs``, ``show``, ``diff`` and ``rerun`` print."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["input_warnings", "render_diff", "render_runs", "render_show"]


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _short(sha: str | None) -> str:
    return (sha or "-")[:12]


def render_runs(runs: list[dict[str, Any]]) -> str:
    rows = [["RUN", "CREATED", "STATUS", "KERNEL", "NOTEBOOK", "PARAMETERS"]]
    for r in runs:
        params = " ".join(f"{k}={_value(v)}" for k, v in (r.get("parameters") or {}).items())
        rows.append(
            [
                r["id"][:12],
                _when(r.get("created")),
                r["status"],
                r.get("kernel") or "-",
                r.get("notebook_name") or "-",
                params,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[5] for row in rows) + "\n"


def render_show(doc: dict[str, Any]) -> str:
    run, code, kernel = doc["run"], doc["code"], doc["kernel"]
    lines = [
        f"run {run['id']}  {run['status']} (exit code {run['exit_code']})  {_when(run.get('created'))}",
        f"  notebook   {code.get('notebook_name') or '-'}  sha256 {_short(code.get('input_sha256'))}",
    ]
    git = code.get("git") or {}
    if git:
        dirty = " (dirty)" if git.get("dirty") else ""
        lines.append(
            f"  git        {git.get('commit', '-')[:12]} on {git.get('branch', '-')}{dirty}  {git.get('remote', '')}"
        )
    jenkins = run.get("jenkins") or {}
    if jenkins:
        lines.append("  jenkins    " + " ".join(f"{k}={v}" for k, v in jenkins.items()))
    lines.append(
        f"  kernel     {kernel.get('name')}  {kernel.get('language', '')} {kernel.get('language_version', '')}".rstrip()
    )
    env = doc.get("environment") or {}
    if env:
        lines.append(f"  packages   {len(env.get('packages') or {})} (environment {_short(env.get('sha256'))})")
    system = doc.get("system") or {}
    if system:
        lines.append(
            f"  machine    {system.get('machine')}  {system.get('os')}  service {system.get('service_version')}"
        )
    params = code.get("parameters") or {}
    lines.append("parameters" + ("" if params else ": none"))
    lines += [f"  {k} = {_value(v)}" for k, v in params.items()]
    files = doc.get("files") or []
    lines.append("files" + ("" if files else ": none recorded"))
    lines += [
        f"  {f['direction']:<6} {f['path']}  {f.get('size')} bytes  sha256 {_short(f.get('sha256'))}" for f in files
    ]
    metrics = doc.get("metrics") or {}
    lines.append("metrics" + ("" if metrics else ": none"))
    lines += [f"  {k} = {v:g}" for k, v in metrics.items()]
    artifacts = doc.get("artifacts") or []
    lines.append("artifacts" + ("" if artifacts else ": none"))
    lines += [f"  {a['name']}  {a['size']} bytes" for a in artifacts]
    return "\n".join(lines) + "\n"


def _section(title: str, changes: dict[str, Any], fmt: Any = None) -> list[str]:
    fmt = fmt or (lambda k, v: f"{_value(v[0])} -> {_value(v[1])}")
    out = []
    for key, value in changes.get("changed", {}).items():
        out.append(f"  ~ {key}: {fmt(key, value)}")
    for key, value in changes.get("added", {}).items():
        out.append(f"  + {key}: {_value(value)}")
    for key, value in changes.get("removed", {}).items():
        out.append(f"  - {key}: {_value(value)}")
    return [f"{title}:", *out] if out else [f"{title}: same"]


def render_diff(diff: dict[str, Any]) -> str:
    a, b = diff["runs"]
    lines = [f"diff {a[:12]} -> {b[:12]}"]
    lines += _section("parameters", diff["parameters"])
    code = diff["code"]
    lines += (
        ["code:", *(f"  ~ {k}: {_value(v[0])} -> {_value(v[1])}" for k, v in code.items())] if code else ["code: same"]
    )
    kernel = diff["kernel"]
    lines += ["kernel:", *(f"  ~ {k}: {v[0]} -> {v[1]}" for k, v in kernel.items())] if kernel else ["kernel: same"]
    lines += _section("inputs", diff["files"], lambda k, v: f"sha256 {_short(v[0])} -> {_short(v[1])}")
    packages = diff["environment"]["packages"]
    if diff["environment"]["sha256"] and not any(packages.values()):
        lines.append("packages: same names and versions (environment hash differs)")
    else:
        lines += _section("packages", packages)
    lines += _section("metrics", diff["metrics"], lambda k, v: f"{v['from']:g} -> {v['to']:g} ({v['delta']:+g})")
    outputs = diff["outputs"]
    lines.append("outputs that differ: " + (", ".join(outputs) if outputs else "none"))
    return "\n".join(lines) + "\n"


def input_warnings(doc: dict[str, Any], current_env: dict[str, Any] | None) -> list[str]:
    """What differs now from when the run ran: its environment, its input files' hashes."""
    from .files import file_record

    warnings = []
    env = doc.get("environment") or {}
    if current_env and env and current_env.get("sha256") != env.get("sha256"):
        old, new = env.get("packages") or {}, current_env.get("packages") or {}
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        listed = ", ".join(f"{k} {old.get(k, '-')} -> {new.get(k, '-')}" for k in changed[:10])
        lines = f"the environment differs from the run's: {listed}" if changed else "the environment differs"
        warnings.append(lines + (" ..." if len(changed) > 10 else ""))
    cwd = (doc["run"].get("options") or {}).get("cwd")
    for f in doc.get("files") or []:
        if f["direction"] not in ("input", "read") or not cwd:
            continue
        path = Path(cwd) / f["path"]
        now = file_record(path, f["direction"])
        if now is None:
            warnings.append(f"the input {f['path']} is gone (it was sha256 {_short(f.get('sha256'))})")
        elif now["sha256"] != f.get("sha256"):
            warnings.append(
                f"the input {f['path']} differs: sha256 {_short(f.get('sha256'))} then, {_short(now['sha256'])} now"
            )
    return warnings
