"""Retention: old runs, keys, audit rows and closed sessions go; running runs never do."""

from __future__ import annotations

import time
import uuid

from jenkins_kernel.retention import prune
from jenkins_kernel.store import Store

from conftest import jk
from service import ServiceProcess

DAY = 86400.0
AGE_LAST_AUDIT_ROW = "UPDATE audit SET time = ? WHERE id = (SELECT max(id) FROM audit)"


def _add_run(store: Store, *, age_days: float, status: str = "succeeded", key: str | None = None) -> str:
    run_id = uuid.uuid4().hex
    created = time.time() - age_days * DAY
    run = {"id": run_id, "kind": "code", "status": status, "created": created, "input_sha256": "x" * 64}
    store.insert_run(run, idempotency_key=key, input_file=("input.txt", "print(1)")).result(10)
    rows = [(seq, "stream", created, '{"name": "stdout", "text": "' + "y" * 2000 + '"}') for seq in range(1, 201)]
    store.record(run_id, events=(rows, "y" * 400_000, 200)).result(10)
    return run_id


def _fill(data_dir) -> tuple[Store, dict[str, str]]:
    store = Store(data_dir)
    runs = {
        "old": _add_run(store, age_days=40, key="old-key"),
        "old_running": _add_run(store, age_days=40, status="running"),
        "recent": _add_run(store, age_days=0.1, key="recent-key"),
    }
    now = time.time()
    for age in (40, 1):
        store.audit(token_name="t", remote_addr="127.0.0.1", action="POST /x", target=None, outcome="201").result(10)
        store.write_and_wait(lambda conn, age=age: conn.execute(AGE_LAST_AUDIT_ROW, (now - age * DAY,)))
    return store, runs


def _db_bytes(data_dir) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("jenkins-kernel.sqlite3*"))


def _run_ids(store: Store) -> set[str]:
    return {r[0] for r in store.reader.execute("SELECT id FROM runs")}


def test_prune_deletes_old_runs_with_their_files_but_never_a_running_one(tmp_path):
    store, runs = _fill(tmp_path / "data")
    store.close()
    dry = jk("prune", "--dry-run", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert dry.returncode == 0 and dry.stdout.startswith("would delete 1 run(s)"), dry.stdout + dry.stderr
    assert (tmp_path / "data" / "runs" / runs["old"]).exists()
    size_before = _db_bytes(tmp_path / "data")
    done = jk("prune", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("deleted 1 run(s)"), done.stdout + done.stderr
    store = Store(tmp_path / "data")
    try:
        assert _run_ids(store) == {runs["old_running"], runs["recent"]}
        assert not (tmp_path / "data" / "runs" / runs["old"]).exists()
        assert store.events_after(runs["old"], 0) == [] and store.artifacts(runs["old"]) == []
        assert len(store.events_after(runs["old_running"], 0)) == 200
        keys = {r[0] for r in store.reader.execute("SELECT key FROM idempotency")}
        assert keys == {"recent-key"}
        assert store.reader.execute("SELECT count(*) FROM audit").fetchone()[0] == 1
        assert _db_bytes(tmp_path / "data") < size_before * 0.75  # the space is handed back
    finally:
        store.close()


def test_max_runs_keeps_the_newest_finished_runs(tmp_path):
    store = Store(tmp_path / "data")
    try:
        ids = [_add_run(store, age_days=5 - i) for i in range(5)]
        report = prune(store, retention_days=30, max_runs=2)
        assert report.runs == 3 and _run_ids(store) == set(ids[3:])
    finally:
        store.close()


def test_the_service_prunes_in_the_background(tmp_path):
    (tmp_path / "c.yaml").write_text("max_runs: 1\nprune_interval: 0.2\n")
    svc = ServiceProcess(tmp_path / "data", "--config", str(tmp_path / "c.yaml")).start()
    try:
        ids = [svc.run({"code": f"print({i})", "session_name": "s"})["id"] for i in range(3)]
        svc.wait_for(lambda: svc.request("GET", f"/api/v1/runs/{ids[0]}")[0] == 404, what="the oldest run to go")
        assert svc.request("GET", f"/api/v1/runs/{ids[-1]}")[0] == 200
    finally:
        svc.stop()
