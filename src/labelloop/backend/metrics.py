"""Prometheus metrics (``/metrics``), through prometheus-client.

What the server processes see is counted as it happens: requests by route and status
with a latency histogram, tasks predicted by project and version, webhooks by action,
model load times. With ``--workers N`` prometheus-client's multiprocess mode adds up the
processes (``PROMETHEUS_MULTIPROC_DIR``, set by ``labelloop start`` before the workers
start). What training does is read from the stores when scraped, so it counts jobs
wherever they ran (a local runner, an RQ worker on another machine): jobs by kind and
outcome, their durations, the queue, and the version each project serves with its score.

Metric objects belong to a :class:`Metrics` instance (its own registry), not to the
module: nothing is registered at import time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from labelloop.store.bundle import Stores
from labelloop.store.jobs import JobKind
from labelloop.store.stats import DURATION_BUCKETS
from labelloop.training.policy import Scheduler

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0, 30.0, 100.0)
LOAD_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The counters the request path updates; :meth:`exposition` renders everything."""

    def __init__(self, stores: Stores, scheduler: Scheduler,
                 name_of: Callable[[str | None], str]) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        self.store_collector = StoreCollector(stores, scheduler, name_of)
        r = self.registry
        self.requests = Counter("labelloop_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("labelloop_request_duration_seconds",
                                 "Time to answer an HTTP request", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.tasks = Counter("labelloop_tasks_predicted", "Tasks predicted",
                             ["project", "model_version"], registry=r)
        self.webhooks = Counter("labelloop_webhooks", "Webhook events received",
                                ["action"], registry=r)
        self.model_load = Histogram("labelloop_model_load_seconds",
                                    "Time to build a model for a (project, version)",
                                    ["project"], buckets=LOAD_BUCKETS, registry=r)
        if not self.multiprocess:
            r.register(self.store_collector)
        # The labelled children, found once: prometheus-client's labels() checks and
        # locks on every call, which was most of what metrics cost a one-task /predict.
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, cached."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        self.child(self.requests, route, method, str(status)).inc()
        self.child(self.latency, route).observe(seconds)

    def exposition(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]  # all processes, added
        merged.register(self.store_collector)
        return generate_latest(merged)


class StoreCollector(Collector):
    """Training metrics, read from the stores at scrape time."""

    def __init__(self, stores: Stores, scheduler: Scheduler,
                 name_of: Callable[[str | None], str]) -> None:
        self.stores, self.scheduler, self.name_of = stores, scheduler, name_of

    def collect(self) -> Iterator[Any]:
        jobs = CounterMetricFamily("labelloop_training_jobs", "Finished jobs by outcome",
                                   labels=["project", "kind", "outcome"])
        duration = HistogramMetricFamily("labelloop_training_duration_seconds",
                                         "Duration of training jobs", labels=["project"])
        queued = GaugeMetricFamily("labelloop_queue_depth", "Jobs running or queued",
                                   labels=["project"])
        served = GaugeMetricFamily("labelloop_served_version_info",
                                   "The version each project serves (value 1)",
                                   labels=["project", "model_version"])
        score = GaugeMetricFamily("labelloop_served_score",
                                  "The served version's primary metric on held-out annotations",
                                  labels=["project", "metric"])
        started = time.perf_counter()
        for project in self.stores.versions.projects():
            self._project(project, jobs, duration, queued, served, score)
        yield from (jobs, duration, queued, served, score)
        yield GaugeMetricFamily("labelloop_metrics_collect_seconds",
                                "Time to read the training metrics from the stores",
                                value=time.perf_counter() - started)

    def _project(self, project: str, jobs: CounterMetricFamily,
                 duration: HistogramMetricFamily, queued: GaugeMetricFamily,
                 served: GaugeMetricFamily, score: GaugeMetricFamily) -> None:
        stats = self.stores.stats.get(project)
        for (kind, outcome), count in sorted(stats.outcomes.items()):
            jobs.add_metric([project, kind, outcome], count)
        cumulative, buckets = 0, []
        for bound, count in zip(DURATION_BUCKETS, stats.buckets, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
        duration.add_metric([project], buckets, stats.total_seconds)
        running = self.scheduler.running(project, JobKind.TRAIN) is not None
        waiting = self.scheduler.pending(project) is not None
        queued.add_metric([project], int(running) + int(waiting))
        version = self.stores.versions.current_version(project)
        served.add_metric([project, self.name_of(version)], 1)
        if version is not None:
            metrics = (self.stores.versions.get(project, version).job_result or {}).get(
                "metrics") or {}
            if isinstance(metrics.get("score"), (int, float)):
                score.add_metric([project, str(metrics.get("primary"))], metrics["score"])
