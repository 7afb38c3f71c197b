"""Where ``runs``, ``show``, ``diff`` and ``rerun`` read the record: the service's API, or
the local data dir's store (runs recorded with ``run --record``). Both answer the same
documents, so every command works the same way on either."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..exceptions import RejectedError
from ..notebook.loader import parse_notebook
from .document import lineage_document

__all__ = ["LocalHistory", "RemoteHistory", "unknown_run"]


def unknown_run(run_id: str, where: str) -> RejectedError:
    return RejectedError(f"no run {run_id!r} in {where}", code="unknown_run", hint="list them: jenkins-kernel runs")


def _matching(run_id: str, ids: list[str], where: str) -> str:
    """The one id that ``run_id`` names (a unique prefix is enough, as with git)."""
    found = [i for i in ids if i.startswith(run_id)]
    if len(found) != 1:
        if found:
            raise RejectedError(f"{run_id!r} names {len(found)} runs in {where}", hint="give more of the id")
        raise unknown_run(run_id, where)
    return found[0]


class LocalHistory:
    def __init__(self, data_dir: str | Path) -> None:
        from ..store import Store

        self.where = f"the local record {data_dir}"
        self.store = Store(data_dir)

    def close(self) -> None:
        self.store.close()

    def resolve(self, run_id: str) -> str:
        rows = self.store.reader.execute("SELECT id FROM runs WHERE id LIKE ? LIMIT 2", (run_id + "%",)).fetchall()
        return _matching(run_id, [r[0] for r in rows], self.where)

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        return self.store.list_runs(**filters)

    def document(self, run_id: str) -> dict[str, Any]:
        run = self.store.get_run(self.resolve(run_id))
        assert run is not None
        return lineage_document(self.store, run)

    def notebook(self, run_id: str) -> Any:
        path = self.store.run_dir(self.resolve(run_id)) / "artifacts" / "input.ipynb"
        return parse_notebook(path.read_text(encoding="utf-8"), source=f"run {run_id}'s input.ipynb")

    def environment(self, kernel: str, cwd: str | None) -> dict[str, Any]:
        from ..engine.kernelspecs import require_kernel
        from .environment import current_environment

        spec = require_kernel(kernel)
        return current_environment(kernel, spec.language, spec.resource_dir, cwd or "").to_dict()


class RemoteHistory:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.where = f"the service at {client.url}"

    def close(self) -> None:
        pass

    def resolve(self, run_id: str) -> str:
        from ..client import ApiError

        try:
            return self.client.get_run(run_id)["id"]
        except ApiError as exc:
            if exc.http_status != 404:
                raise
        return _matching(run_id, [r["id"] for r in self.client.list_runs(limit=1000)], self.where)

    def runs(self, **filters: Any) -> list[dict[str, Any]]:
        return self.client.list_runs(**{k: v for k, v in filters.items() if v is not None})

    def document(self, run_id: str) -> dict[str, Any]:
        return self.client.lineage(self.resolve(run_id))

    def notebook(self, run_id: str) -> Any:
        text = self.client.artifact(self.resolve(run_id), "input.ipynb").decode("utf-8")
        return parse_notebook(text, source=f"run {run_id}'s input.ipynb")

    def environment(self, kernel: str, cwd: str | None) -> dict[str, Any]:
        return self.client.environment(kernel, cwd)
