"""The layering of docs/architecture.md is a checked fact: import-linter's contracts in
pyproject.toml hold, every app of ours is under them, and the rule compiler stays pure."""

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
IMPORTLINTER = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_contract_is_kept():
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_app_of_ours_is_under_contract():
    ours = {
        config.name.split(".")[0]
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(ROOT)
        # bin/_bootstrap puts the virtualenv inside the checkout: its packages are not ours.
        and not Path(config.path).resolve().is_relative_to(Path(sys.prefix).resolve())
    }
    missing = ours - set(IMPORTLINTER["root_packages"])
    assert not missing, f"add {sorted(missing)} to [tool.importlinter] root_packages"


def test_the_rule_compiler_builds_sqlalchemy_core_for_any_engine():
    # The forbidden contract keeps Django out; this checks the compiler is what it says.
    graph = grimp.build_graph("segments", "common", include_external_packages=True)
    imported = graph.find_modules_directly_imported_by("segments.sql")
    assert "sqlalchemy" in imported
    assert "django" not in imported
    assert "django" not in graph.find_modules_directly_imported_by("segments.rules")
