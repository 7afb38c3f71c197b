"""Prometheus metrics of one service (prometheus_client, a registry per service)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from ..engine.results import RunResult

if TYPE_CHECKING:
    from .service import AgentService

__all__ = ["ServiceMetrics"]


class _LiveGauges:
    """Sessions by kernel and warm kernels, read from the engine loop at scrape time."""

    def __init__(self, service: AgentService) -> None:
        self.service = service

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sessions = GaugeMetricFamily("jenkins_kernel_sessions", "Live sessions by kernel", labels=["kernel"])
        warm = GaugeMetricFamily("jenkins_kernel_warm_kernels", "Warm kernels ready, by kernel", labels=["kernel"])
        counts, pool = self.service.engine.run(self._snapshot(), timeout=5)
        for kernel, n in sorted(counts.items()):
            sessions.add_metric([kernel], n)
        for kernel, n in sorted(pool.items()):
            warm.add_metric([kernel], n)
        yield sessions
        yield warm

    async def _snapshot(self) -> tuple[dict[str, int], dict[str, int]]:
        pool = self.service.pool.counts() if self.service.pool else {}
        return self.service.sessions.counts_by_kernel(), pool


class ServiceMetrics:
    def __init__(self, service: AgentService) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("jenkins_kernel_runs", "Finished runs by status", ["status"], registry=self.registry)
        self.run_duration = Histogram(
            "jenkins_kernel_run_duration_seconds",
            "Run duration, from start to end",
            ["kind"],
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self.events_written = Counter(
            "jenkins_kernel_events_written", "Run events written to the store", registry=self.registry
        )
        self.unauthorized = Counter(
            "jenkins_kernel_unauthorized_requests",
            "Requests refused for a missing or bad token",
            registry=self.registry,
        )
        self.registry.register(_LiveGauges(service))  # type: ignore[arg-type]

    def run_finished(self, result: RunResult, kind: str = "run") -> None:
        self.runs.labels(result.status.value).inc()
        self.run_duration.labels(kind).observe(result.duration)

    def render(self) -> Any:
        return generate_latest(self.registry)
