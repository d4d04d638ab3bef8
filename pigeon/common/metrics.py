"""Prometheus metrics, one registry per process (so tests can build several apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge(
            "pigeon_connections", "Authenticated WebSocket connections", registry=r
        )
        self.frames_in = Counter("pigeon_frames_in", "Frames received from clients", registry=r)
        self.frames_out = Counter("pigeon_frames_out", "Frames written to clients", registry=r)
        self.deliveries = Counter(
            "pigeon_deliveries", "Queue entries consumed by this gateway", registry=r
        )
        self.queue_lag = Histogram(
            "pigeon_queue_lag_seconds",
            "Time a queue entry waited before its gateway took it",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=r,
        )
        self.messages_sent = Counter(
            "pigeon_messages_stored", "Messages stored and acknowledged", registry=r
        )
        self.http_requests = Counter(
            "pigeon_http_requests", "HTTP API requests", ["status"], registry=r
        )

        self.http_seconds = Histogram(
            "pigeon_http_request_seconds",
            "HTTP request latency",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.ws_request_seconds = Histogram(
            "pigeon_ws_request_seconds",
            "Time to answer a socket request (send: stored and acknowledged)",
            ["type"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        self.queue_length = Gauge(
            "pigeon_queue_length",
            "Entries waiting in this gateway's delivery queue",
            registry=r,
        )
        self.deliver_seconds = Histogram(
            "pigeon_deliver_seconds",
            "Time to hand one queue entry to the local sockets",
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1),
            registry=r,
        )
        self.registry_errors = Counter(
            "pigeon_registry_errors", "Failed registry or queue operations", ["op"], registry=r
        )
        self.registry_resyncs = Counter(
            "pigeon_registry_resyncs",
            "Times this gateway re-registered its sockets because Redis had lost them",
            registry=r,
        )
        self.worker_items = Counter(
            "pigeon_worker_items", "Items background workers processed", ["worker"], registry=r
        )
        self.worker_failures = Counter(
            "pigeon_worker_failures",
            "Background worker crashes (restarted)",
            ["worker"],
            registry=r,
        )
        self.gateways_swept = Counter(
            "pigeon_gateways_swept",
            "Dead gateways whose entries and queue were removed",
            registry=r,
        )
        self.live_gateways = Gauge(
            "pigeon_live_gateways", "Gateways reporting liveness (seen by this process)", registry=r
        )
        self.fanout_seconds = Histogram(
            "pigeon_fanout_seconds",
            "Time a fan-out worker took for one batch of the fan-out queue",
            buckets=(0.001, 0.005, 0.02, 0.1, 0.5, 2, 10),
            registry=r,
        )
        self.fanout_backlog = Gauge(
            "pigeon_fanout_backlog",
            "Entries in the fan-out queue, waiting or in work (seen by the handoff worker)",
            registry=r,
        )
        self.handoff_backlog = Gauge(
            "pigeon_handoff_backlog",
            "Stored messages not yet fanned out to the gateway queues",
            registry=r,
        )
        self.unpushed_age = Gauge(
            "pigeon_oldest_unpushed_seconds",
            "Age of the oldest stored message not yet fanned out (0: none)",
            registry=r,
        )
        self.handoffs_republished = Counter(
            "pigeon_handoffs_republished",
            "Stored messages published again because their fan-out did not finish in time",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
