"""The feedback service's domain subpackages stay pure: no web framework, database or broker."""

import ast
from pathlib import Path

import pytest

FEEDBACK = Path(__file__).parents[2] / "services" / "feedback"
DOMAIN_PACKAGES = ("sla", "complaints", "surveys")
ADAPTERS = ("fastapi", "starlette", "sqlalchemy", "sqlmodel", "aiokafka", "alembic", "services.common", "httpx")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", sorted(p for package in DOMAIN_PACKAGES for p in (FEEDBACK / package).glob("*.py")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_domain_module_imports_no_adapter(module):
    impure = {name for name in _imports(module) if name.split(".")[0] in ADAPTERS or name.startswith("services.common")}
    assert not impure, f"{module.name} imports {sorted(impure)}"
