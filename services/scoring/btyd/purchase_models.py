"""The purchase-count models by name, behind one shape, so callers can switch between them."""

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from services.scoring.btyd import bgnbd, mbgnbd, paretonbd
from services.scoring.btyd.fitting import FitResult


@dataclass(frozen=True)
class PurchaseModel:
    name: str
    param_names: tuple[str, ...]
    fit: Callable[..., FitResult]
    p_alive: Callable
    expected_purchases: Callable
    expected_purchases_if_alive: Callable
    threshold_age: Callable

    @classmethod
    def of(cls, module: ModuleType) -> "PurchaseModel":
        return cls(
            name=module.NAME,
            param_names=module.PARAM_NAMES,
            fit=module.fit,
            p_alive=module.p_alive,
            expected_purchases=module.expected_purchases,
            expected_purchases_if_alive=module.expected_purchases_if_alive,
            threshold_age=module.threshold_age,
        )


MODELS = {module.NAME: PurchaseModel.of(module) for module in (mbgnbd, bgnbd, paretonbd)}
DEFAULT_MODEL = mbgnbd.NAME
