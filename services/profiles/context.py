"""What the profiles service functions need besides a session, built once in the app's lifespan."""

from dataclasses import dataclass
from decimal import Decimal

from services.common.catalog import EventPayload
from services.common.context import ServiceContext
from services.common.errors import Problem
from services.common.events import Envelope
from services.common.privacy import BlindIndex, FieldCipher


@dataclass(frozen=True)
class ProfilesContext(ServiceContext):
    cipher: FieldCipher
    index: BlindIndex
    base_currency: str
    currency_decimals: int
    default_phone_region: str
    max_batch_items: int

    def event(self, payload: EventPayload, *, backfill: bool = False) -> tuple[Envelope, str]:
        """The payload as an outbox entry (the service's event writer makes it)."""
        return self.events.entry(payload, backfill=backfill)

    def to_minor_units(self, amount: str, *, field: str) -> int:
        value = Decimal(amount)
        scaled = value.scaleb(self.currency_decimals)
        if scaled != scaled.to_integral_value():
            raise Problem(422, "Validation failed", f"has more than {self.currency_decimals} decimal places", field=field)
        if scaled >= 2**62:
            raise Problem(422, "Validation failed", "is too large", field=field)
        return int(scaled)

    def to_amount(self, minor: int) -> str:
        return str(Decimal(minor).scaleb(-self.currency_decimals).quantize(Decimal(1).scaleb(-self.currency_decimals)))

    def check_currency(self, currency: str | None, *, field: str) -> str:
        if currency is not None and currency.upper() != self.base_currency:
            raise Problem(
                422, "Validation failed",
                f"'{currency}' is not accepted; amounts are in the deployment's base currency {self.base_currency}",
                field=field,
            )
        return self.base_currency
