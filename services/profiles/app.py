"""The profiles service: the customer archive (port 8001)."""

from pathlib import Path

from fastapi import FastAPI

from services.common import keys_api
from services.common.bootstrap import resolve_secrets
from services.common.context import ServiceContext
from services.common.privacy import BlindIndex, FieldCipher
from services.common.service_app import Platform, ServiceSpec, build_service_app
from services.profiles import api
from services.profiles.context import ProfilesContext


def make_context(base: ServiceContext) -> ProfilesContext:
    settings = base.settings
    # Only profiles stores personal data, so only profiles is given the keys (and refuses without them).
    secrets = resolve_secrets(settings)
    return base.extended(
        ProfilesContext,
        cipher=FieldCipher(secrets.encryption_keys),
        index=BlindIndex(secrets.hash_key),
        base_currency=settings.base_currency.upper(),
        currency_decimals=settings.currency_decimals,
        default_phone_region=settings.default_phone_region,
        max_batch_items=settings.max_batch_items,
    )


SPEC = ServiceSpec(
    name="profiles",
    title="Customer Pulse — profiles",
    description="The customer archive: customers (personal data encrypted at rest), purchases and interactions.",
    routers=[api.router, keys_api.router],
    migrations=Path(__file__).parent / "migrations",
    make_context=make_context,
)


def create_app(platform: Platform) -> FastAPI:
    return build_service_app(SPEC, platform)
