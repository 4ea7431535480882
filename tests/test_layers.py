"""The layers as the import graph shows them (docs/ARCHITECTURE.md): the formats stand on the
models and the offering only; the catalog imports neither the router nor config, the router
not config; the domain never imports the presentation's forms or the admin; and no module
imports another that imports it back."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from catalog.forms import PerMillionPriceField
from catalog.presentation import cost_text, shown_cost

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("catalog", "router", "config")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The project modules ``path`` imports, at any level (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def _graph() -> dict[str, set[str]]:
    paths = [
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    ]
    modules = {_module_name(path): path for path in paths}
    return {
        name: {imported for imported in _imports(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }


def test_the_models_import_only_the_choices_and_the_validators():
    # Anywhere in the file, functions included: the models are data, the layers above use them.
    imported = {name.split(".")[1] for name in _imports(ROOT / "catalog" / "models.py")}
    assert imported <= {"choices", "validators"}


def test_no_import_circle_among_the_modules():
    graph = _graph()
    # Importing ``a.b.c`` runs ``a.b`` first: a package's own modules aside, that is an edge too.
    for module, imports in graph.items():
        for imported in list(imports):
            parts = imported.split(".")
            for end in range(1, len(parts)):
                package = ".".join(parts[:end])
                if package in graph and not f"{module}.".startswith(f"{package}."):
                    imports.add(package)
    reached: dict[str, set[str]] = {}

    def reach(module: str) -> set[str]:
        if module not in reached:
            reached[module] = set()
            for imported in graph[module]:
                reached[module] |= {imported} | reach(imported)
        return reached[module]

    assert sorted(module for module in graph if module in reach(module)) == []


# What the formats stand on (docs/ARCHITECTURE.md): the data and the offering, with their helpers.
BELOW_THE_FORMATS = frozenset(
    {
        "catalog.choices",
        "catalog.validators",
        "catalog.models",
        "catalog.offering",
        "catalog.bulk",
        "catalog.revision",
    }
)


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_the_formats_import_only_each_other_and_the_layers_below():
    # Never the history, the actions, the importer or anything else that uses them: a format's
    # readers read the models (history records included) themselves.
    offenders = {
        module: sorted(
            imported
            for imported in imports
            if not _in(imported, "catalog.formats") and imported not in BELOW_THE_FORMATS
        )
        for module, imports in _graph().items()
        if _in(module, "catalog.formats")
    }
    assert {module: names for module, names in offenders.items() if names} == {}


@pytest.mark.parametrize(
    ("package", "above"), [("catalog", ("router", "config")), ("router", ("config",))]
)
def test_a_package_never_imports_one_that_stands_above_it(package, above):
    # The router reads the catalog; config (settings, URLs, sign-in) assembles both.
    offenders = {
        module: sorted(imported for imported in imports if any(_in(imported, top) for top in above))
        for module, imports in _graph().items()
        if _in(module, package)
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_no_domain_module_imports_the_forms_or_the_admin():
    offenders = {
        module: sorted(
            imported
            for imported in imports
            if imported == "catalog.forms" or imported.startswith("catalog.admin")
        )
        for module, imports in _graph().items()
        if module.startswith("catalog")
        and module != "catalog.forms"
        and not module.startswith("catalog.admin")
    }
    assert {module: names for module, names in offenders.items() if names} == {}


@pytest.mark.parametrize(
    ("unit", "cost", "text"),
    [
        ("token", "0.00000015", "$0.15 per 1M tokens"),
        ("character", "0.0000002", "$0.2 per 1M characters"),
        ("image", "0.01", "$0.01 per image"),
    ],
)
def test_a_price_is_worded_in_its_own_unit(unit, cost, text):
    assert cost_text(Decimal(cost), unit) == text
    assert shown_cost(Decimal(cost), unit) == text.removeprefix("$")


def test_a_per_character_price_field_speaks_of_characters():
    field = PerMillionPriceField(max_digits=34, unit="character")
    with pytest.raises(ValidationError) as refused:
        field.clean("0.0000000000000000001")  # more decimal places than a price holds
    (message,) = refused.value.messages
    assert "per million characters" in message
    assert "token" not in message
    # No ceiling per token on a price per character: a high one is the staff's to judge.
    assert field.clean("5000") == Decimal("0.005")
