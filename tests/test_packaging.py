"""What the distribution installs: every package folder listed, no generic top-level names, the console
script, and every third-party module the code imports declared as a dependency."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
#: Installed name of each top-level folder.
FOLDERS = {"operators": "sftforge.operators", "jobs": "sftforge.jobs"}

#: Modules imported without being declared, and why that is right. Each is imported in a
#: ``try: ... except ImportError`` that picks whichever of the two the installed openai brings.
UNDECLARED = {
    "httpx2": "openai >= 3's own HTTP client (its response type), installed with openai",
    "httpx": "openai < 3's own HTTP client, the fallback of the same import",
}


def _package_folders() -> set[str]:
    names = set()
    for folder, installed in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            names.add(".".join([installed, *relative.parts]))
    return names


def test_the_packages_list_names_every_package_folder():
    assert SETUPTOOLS["package-dir"] == {installed: folder for folder, installed in FOLDERS.items()}
    listed = set(SETUPTOOLS["packages"])
    assert listed == _package_folders(), (
        "pyproject.toml [tool.setuptools] packages must list exactly the folders under operators/ and jobs/ "
        f"that hold an __init__.py; missing: {sorted(_package_folders() - listed)}, "
        f"stale: {sorted(listed - _package_folders())}"
    )


def test_package_data_patterns_match_files():
    for package, patterns in SETUPTOOLS.get("package-data", {}).items():
        folder, _, rest = package.removeprefix("sftforge.").partition(".")
        path = ROOT / folder / Path(*rest.split(".")) if rest else ROOT / folder
        for pattern in patterns:
            assert list(path.glob(pattern)), f"package-data {package}: {pattern} matches nothing in {path}"


@pytest.mark.parametrize("generic", ["jobs", "operators"])
def test_only_the_sftforge_names_are_importable(generic, tmp_path):
    """From a directory other than the checkout, the folders are reachable only under sftforge."""
    probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({generic!r}) is not None)"
    assert subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, check=False).returncode == 0, (
        f"'import {generic}' works outside the checkout: the distribution claims a generic top-level name"
    )
    works = subprocess.run(
        [sys.executable, "-c", f"import sftforge.{generic}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert works.returncode == 0, works.stderr


def test_the_console_script_runs(tmp_path):
    script = Path(sys.executable).parent / "sftforge"
    assert script.is_file(), "the sftforge console script is not installed (pip install -e .)"
    result = subprocess.run(
        [str(script), "--help"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: sftforge")


def _imported_modules() -> dict[str, set[str]]:
    """Top-level third-party module -> the files that import it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.partition(".")[0]
                    if top not in sys.stdlib_module_names and top != "sftforge":
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _declared() -> set[str]:
    project = PYPROJECT["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_normalise(re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)) for requirement in requirements}


def test_every_imported_third_party_module_is_declared():
    declared = _declared()
    providers = packages_distributions()
    undeclared = {}
    for module, files in _imported_modules().items():
        if module in UNDECLARED:
            continue
        distributions = {_normalise(name) for name in providers.get(module, [module])}
        if not distributions & declared:
            undeclared[module] = sorted(files)
    assert not undeclared, (
        f"imported but not declared in pyproject.toml (dependencies or extras): {undeclared}"
    )


def test_the_scan_sees_the_imports_it_should():
    modules = _imported_modules()
    assert {"pyarrow", "ray", "pydantic", "yaml"} <= set(modules)
    assert "scipy" not in modules  # connected components run as star rounds, in memory too
    assert set(UNDECLARED) <= set(modules), "an UNDECLARED entry is no longer imported: remove it"


def test_benchmarks_import_nothing_from_tests():
    """Benchmarks run the test server as a program (``benchmarks/openai_process.py``), never import it."""
    offenders = []
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {name}" for name in names if name.partition(".")[0] == "tests"]
    assert not offenders
