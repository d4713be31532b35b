"""Every setting of every service is in the README's settings table, under its variable name."""

import importlib
import pkgutil
from pathlib import Path

import services
from services.common.settings import Settings, Topics

README = Path(__file__).resolve().parents[2] / "README.md"


def settings_classes() -> list[type]:
    classes = [Settings]
    for module in pkgutil.iter_modules(services.__path__):
        try:
            settings_module = importlib.import_module(f"services.{module.name}.settings")
        except ModuleNotFoundError:
            continue
        classes += [value for value in vars(settings_module).values()
                    if isinstance(value, type) and issubclass(value, Settings) and value is not Settings]
    return classes


def variables() -> set[str]:
    names = {f"PULSE_TOPIC_{name.upper()}" for name in Topics.model_fields}
    for settings_class in settings_classes():
        names |= {f"PULSE_{name.upper()}" for name in settings_class.model_fields if name != "topics"}
    return names


def test_every_setting_is_documented_in_the_readme():
    readme = README.read_text()
    missing = sorted(name for name in variables() if f"`{name}`" not in readme)
    assert not missing, f"not in README's settings table: {missing}"
