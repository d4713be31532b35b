"""The scoring service. Its API arrives with its own issue; until then it serves health and metrics."""

from fastapi import FastAPI

from services.common.service_app import Platform, ServiceSpec, build_service_app

SPEC = ServiceSpec(name="scoring", title="Customer Pulse — scoring", description="Customer value (RFM, CLV), loyalty, health, value tier and lifecycle stage.")


def create_app(platform: Platform) -> FastAPI:
    return build_service_app(SPEC, platform)
