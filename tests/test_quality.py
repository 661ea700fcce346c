"""Quality gates run as tests, so the README's one test command is the whole check. A missing tool fails."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Which parts of the package each layer may import (besides the standard library and itself). The domain knows no
# storage, no wire format and no SDK; adapters map and never reach into the use cases; only the composition root
# (bootstrap) and the command line know everything.
ALLOWED = {
    "domain": {"domain", "errors"},
    "wire": {"domain", "wire", "errors"},
    "mail": {"domain", "wire", "mail", "errors"},
    "ports": {"domain", "errors"},
    "app": {"domain", "wire", "mail", "ports", "app", "errors"},
    "adapters": {"domain", "wire", "ports", "adapters", "errors"},
    "settings": {"domain", "errors", "settings"},
    "errors": {"errors"},
}
THIRD_PARTY = {"domain": set(), "wire": set(), "ports": set(), "app": set(), "mail": {"jinja2", "markupsafe"}}


def layer_of(path: Path) -> str:
    parts = path.relative_to(ROOT / "backup_events").with_suffix("").parts
    return parts[0]


def imports_of(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules += [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "backup_events"]
    return modules


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


def test_each_layer_imports_only_the_layers_below_it() -> None:
    broken = []
    for path in (ROOT / "backup_events").rglob("*.py"):
        layer = layer_of(path)
        if layer not in ALLOWED:
            continue  # bootstrap, cli, dev and __main__ may import anything
        for module in imports_of(path):
            parts = module.split(".")
            if (
                parts[0] == "backup_events"
                and len(parts) > 1
                and parts[1] not in ALLOWED[layer]
                or layer in THIRD_PARTY
                and parts[0] in ("azure", "jinja2", "markupsafe")
                and parts[0] not in THIRD_PARTY[layer]
            ):
                broken.append(f"{path.relative_to(ROOT)} imports {module}")
    assert broken == []


def test_no_import_cycle_between_layers() -> None:
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "backup_events").rglob("*.py"):
        for module in imports_of(path):
            parts = module.split(".")
            if parts[0] == "backup_events" and len(parts) > 1 and parts[1] != layer_of(path):
                graph.setdefault(layer_of(path), set()).add(parts[1])

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    assert [layer for layer in graph if reaches(layer, layer, set())] == []


def test_only_the_composition_root_reads_the_environment() -> None:
    for path in (ROOT / "backup_events").rglob("*.py"):
        if path.relative_to(ROOT / "backup_events").as_posix() in ("bootstrap.py", "cli/main.py", "dev/local_azurite.py"):
            continue
        assert "os.environ" not in path.read_text(), f"{path.name} reads os.environ"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run the tests", 1)[1]
    command = re.search(r"```sh\n(.+?)\n```", section, re.S)
    assert command is not None
    assert command.group(1).strip() in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_settings_page_table_is_what_the_settings_table_generates() -> None:
    from backup_events.settings import TABLE_PAGE, with_readme_table

    page = (ROOT / TABLE_PAGE).read_text(encoding="utf-8")
    assert page == with_readme_table(page), f"{TABLE_PAGE} settings table is stale: run python -m backup_events.settings"
    result = run("backup_events.settings", "--check")  # the same check, through the command the README names
    assert result.returncode == 0, result.stdout + result.stderr
