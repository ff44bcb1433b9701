"""Every package says what it offers in its ``__init__`` (docs/design.md, "Layers"): each
name in ``__all__`` is there and is the object its module defines; a lazy face's two
lists (what type checkers see, what loads at run time) are the same; no module keeps an
old path alive with ``import X as X``; no module imports relatively."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import flyte_iap

SRC = Path(flyte_iap.__file__).parent
PACKAGES = sorted(
    name for _, name, is_package in pkgutil.walk_packages([str(SRC)], "flyte_iap.") if is_package
)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _init(package: str) -> Path:
    return SRC.joinpath(*package.split(".")[1:], "__init__.py")


def _offered(package: str) -> list[str]:
    for node in _tree(_init(package)).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            assert isinstance(node.value, ast.List)
            return [ast.literal_eval(e) for e in node.value.elts]
    return []


def test_every_package_has_a_face() -> None:
    assert "flyte_iap.cli" in PACKAGES and "flyte_iap.emulator.gate" in PACKAGES
    for package in PACKAGES:
        tree = _tree(_init(package))
        assert ast.get_docstring(tree), f"{package} says nothing of what it offers"
        assert package == "flyte_iap.cli" or _offered(package), f"{package} has no __all__"


@pytest.mark.parametrize("package", PACKAGES)
def test_a_face_offers_what_its_own_modules_define(package: str) -> None:
    """Each name resolves, and a class or function comes from this package's modules,
    not another package's (a face is no re-export of someone else's names)."""
    face = importlib.import_module(package)
    for name in _offered(package):
        value = getattr(face, name)
        if isinstance(value, type) or callable(value):
            assert value.__module__.startswith(package + "."), (name, value.__module__)


@pytest.mark.parametrize("package", ["flyte_iap.google", "flyte_iap.login", "flyte_iap.tokens"])
def test_a_lazy_face_lists_the_same_names_twice(package: str) -> None:
    """What a type checker reads (the TYPE_CHECKING imports) is what loads at run time
    (the ``lazy`` table), name for name and module for module."""
    tree = _tree(_init(package))
    typed: dict[str, str] = {}
    table: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                for alias in stmt.names:
                    typed[alias.name] = stmt.module.rsplit(".", 1)[1]
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "lazy":
            table = ast.literal_eval(node.args[1])
    assert typed and typed == table
    assert sorted(typed) == sorted(_offered(package))


def test_a_lazy_face_loads_only_the_module_asked_for() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from flyte_iap.google import source_id; "
        "print(sorted(m for m in sys.modules if m.startswith('flyte_iap.google.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['flyte_iap.google.adc']"


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_keeps_an_old_path_alive() -> None:
    shims = [
        f"{path.relative_to(SRC)}:{node.lineno} {alias.name}"
        for path in _modules()
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
        if alias.asname is not None and alias.asname == alias.name.rsplit(".", 1)[-1]
    ]
    assert shims == []


def test_no_module_imports_relatively() -> None:
    relative = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path in _modules()
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom) and node.level
    ]
    assert relative == []


def test_the_design_names_every_package_folder() -> None:
    """docs/design.md tells a newcomer where things are: every package folder is in it."""
    design = (Path(__file__).parents[2] / "docs" / "design.md").read_text(encoding="utf-8")
    folders = [name.removeprefix("flyte_iap.").replace(".", "/") + "/" for name in PACKAGES]
    assert [f for f in folders if f"`{f}`" not in design] == []
