"""The alerts service's own metrics, on the service's registry."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Timers should fire within a second: the buckets are fine below it.
LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 30, 300, 3600)


class AlertsMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.raised = Counter("pulse_alerts_raised_total", "Alerts raised", ["kind", "severity"], registry=registry)
        self.status_changes = Counter("pulse_alerts_status_changes_total", "Alerts acknowledged or resolved", ["status", "by"],
                                      registry=registry)
        self.timers_pending = Gauge("pulse_alerts_timers_pending", "Durable alert timers not yet fired", ["kind"], registry=registry)
        self.timer_lateness = Histogram("pulse_alerts_timer_lateness_seconds", "How late an alert timer fired after its moment",
                                        ["kind"], buckets=LATENESS_BUCKETS, registry=registry)
        self.deliveries = Counter("pulse_webhook_deliveries_total", "Webhook tries by outcome", ["webhook_kind", "outcome"],
                                  registry=registry)
        self.deliveries_pending = Gauge("pulse_webhook_deliveries_pending", "Webhook deliveries waiting", registry=registry)
