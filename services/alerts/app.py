"""The alerts service. Its API arrives with its own issue; until then it serves health and metrics."""

from fastapi import FastAPI

from services.common.service_app import Platform, ServiceSpec, build_service_app

SPEC = ServiceSpec(name="alerts", title="Customer Pulse — alerts", description="Churn warnings and complaint SLA breaches, to people, Kafka and webhooks.")


def create_app(platform: Platform) -> FastAPI:
    return build_service_app(SPEC, platform)
