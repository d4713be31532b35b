"""The feedback service. Its API arrives with its own issue; until then it serves health and metrics."""

from fastapi import FastAPI

from services.common.service_app import Platform, ServiceSpec, build_service_app

SPEC = ServiceSpec(name="feedback", title="Customer Pulse — feedback", description="Surveys (NPS, CSAT, CES), feedback and complaints with service levels.")


def create_app(platform: Platform) -> FastAPI:
    return build_service_app(SPEC, platform)
