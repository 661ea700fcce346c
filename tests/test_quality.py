"""Quality gates run as tests, so the README's one test command is the whole check. A missing tool fails."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = (
    "model",
    "normalise",
    "decide",
    "remediation",
    "render",
    "errors",
    "ports",
    "settings",
    "service",
    "notify",
    "incidents",
    "exposure",
    "alerts",
    "routing",
    "relay",
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bundled_catalog_passes_its_check() -> None:
    result = run("backup_events", "catalog", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("catalog OK")


def test_core_modules_import_no_sdk_and_no_adapter() -> None:
    for name in CORE:
        tree = ast.parse((ROOT / "backup_events" / f"{name}.py").read_text())
        for node in ast.walk(tree):
            modules = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for module in modules:
                assert not module.startswith(("azure", "backup_events.adapters", "backup_events.bootstrap")), (
                    f"{name}.py imports {module}"
                )


def test_only_the_composition_root_reads_the_environment() -> None:
    for path in (ROOT / "backup_events").rglob("*.py"):
        if path.name in ("bootstrap.py", "__main__.py", "local_azurite.py"):
            continue
        assert "os.environ" not in path.read_text(), f"{path.name} reads os.environ"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run the tests", 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", section, re.S)
    assert command is not None
    assert command.group(1).strip() in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_settings_table_lists_every_setting() -> None:
    from backup_events.settings import NAMES

    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    assert [name for name in NAMES if f"| `{name}` |" not in table] == []
