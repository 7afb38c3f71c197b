"""Metrics a notebook records, and the reports that carry them to Jenkins.

A notebook records metrics by displaying a JSON bundle of the MIME type
``application/vnd.jenkins-kernel.metrics+json``: a flat mapping of name to number.
Notebooks written for papermill work unchanged: scrapbook's ``sb.glue`` scraps
(``application/scrapbook.scrap.<encoder>+json``, a payload ``{name, data, encoder,
version}``) and papermill's older ``pm.record`` (``application/papermill.record+json``,
a mapping) are read too (shapes as scrapbook 0.5.0's ``glue`` writes and its reader
reads them). Only numbers are metrics; a later value of a name wins.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from ..engine.events import Event

__all__ = ["METRICS_MIME", "MetricsCollector", "metrics_csv", "metrics_from_bundle"]

METRICS_MIME = "application/vnd.jenkins-kernel.metrics+json"
SCRAP_PREFIX = "application/scrapbook.scrap."
PAPERMILL_RECORD = "application/papermill.record+json"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):  # R and JavaScript kernels may send numbers as text
            try:
                value = float(value)
            except ValueError:
                return None
        else:
            return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _flat(mapping: Any) -> dict[str, float | int]:
    if not isinstance(mapping, dict):
        return {}
    found = {}
    for name, value in mapping.items():
        if isinstance(value, list) and len(value) == 1:  # R's jsonlite boxes scalars
            value = value[0]
        number = _number(value)
        if number is not None:
            found[str(name)] = number
    return found


def metrics_from_bundle(data: dict[str, Any]) -> dict[str, float | int]:
    """The metrics in one display's MIME bundle (empty when it holds none)."""
    found: dict[str, float | int] = {}
    if METRICS_MIME in data:
        found.update(_flat(_parsed(data[METRICS_MIME])))
    if PAPERMILL_RECORD in data:
        found.update(_flat(_parsed(data[PAPERMILL_RECORD])))
    for mime, value in data.items():
        if mime.startswith(SCRAP_PREFIX):
            payload = _parsed(value)
            if isinstance(payload, dict) and "name" in payload:
                number = _number(
                    _parsed(payload.get("data")) if payload.get("encoder") == "text" else payload.get("data")
                )
                if number is not None:
                    found[str(payload["name"])] = number
    return found


class MetricsCollector:
    """An event listener that keeps the metrics of every display event, in order."""

    def __init__(self) -> None:
        self.metrics: dict[str, float | int] = {}

    def __call__(self, event: Event) -> None:
        if event.type == "display":
            data = event.data.get("data")
            if isinstance(data, dict):
                self.metrics.update(metrics_from_bundle(data))


def metrics_csv(metrics: dict[str, float | int]) -> str:
    """The Jenkins Plot plugin's CSV: a header row of names, one row of values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = sorted(metrics)
    writer.writerow(names)
    writer.writerow([metrics[n] for n in names])
    return out.getvalue()
