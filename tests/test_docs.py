"""The README and docs/ cannot drift from what runs: every command and flag they name exists, the shell blocks they
mark runnable run, the fresh-clone commands are what CI runs, links resolve, and the figures match their sources."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backup_events.cli.main import parser

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MOST_BYTES = 12 * 1024
RUNNABLE = re.compile(r"<!-- runnable(?P<note>[^>]*)-->\n```sh\n(?P<body>.*?)\n```", re.S)
FRESH_CLONE = "python3 -m venv .venv && "


def commands() -> dict[str, set[str]]:
    """Each subcommand and the options it takes (its own, and --debug/--help)."""
    cli = parser()
    (subparsers,) = [a for a in cli._actions if a.dest == "command"]  # argparse keeps its subparsers only here
    choices: dict[str, object] = dict(subparsers.choices)  # type: ignore[arg-type]
    return {
        name: {flag for action in sub._actions for flag in action.option_strings}  # type: ignore[attr-defined]
        for name, sub in choices.items()
    }


def named_invocations() -> list[tuple[str, str, str]]:
    """(page, command, the rest) for each ``python -m backup_events …`` and each code span starting with a command."""
    names = "|".join(sorted(map(re.escape, commands()), key=len, reverse=True))
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"python -m backup_events (?P<command>[a-z-]+|--[a-z-]+)(?P<rest>[^`\n|]*)", text):
            found.append((page.name, match["command"], match["rest"]))
        for match in re.finditer(rf"`(?P<command>{names})(?P<rest>(?: [^`]*)?)`", text):
            found.append((page.name, match["command"], match["rest"]))
    return found


def test_the_readme_fits_on_a_few_screens() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MOST_BYTES, f"README.md is {size:,} bytes; move detail to docs/"


def test_every_command_and_flag_the_docs_name_exists() -> None:
    known = commands()
    invocations = named_invocations()
    assert len(invocations) > 30  # the pages name many; a broken pattern would find none
    wrong = []
    for page, command, rest in invocations:
        if command.startswith("--"):
            if command not in ("--help", "--debug"):
                wrong.append(f"{page}: {command}")
            continue
        if command not in known:
            wrong.append(f"{page}: no command {command!r}")
            continue
        for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
            if flag not in known[command]:
                wrong.append(f"{page}: {command} has no {flag}")
    assert wrong == []


def test_the_readme_commands_table_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z-]+)", table, re.M))
    assert listed == set(commands())


def runnable_blocks() -> list[tuple[str, str, str]]:
    return [
        (page.name, m["note"].strip(), m["body"]) for page in PAGES for m in RUNNABLE.finditer(page.read_text(encoding="utf-8"))
    ]


def test_the_two_fresh_clone_commands_are_marked_and_set_up_as_ci_does() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    (ci_line,) = [line for line in ci if line.startswith(FRESH_CLONE)]
    fresh = [body for page, _, body in runnable_blocks() if page == "README.md" and body.startswith(FRESH_CLONE)]
    assert len(fresh) == 2
    demo, tests = fresh
    assert tests == ci_line  # CI runs the README's test command verbatim
    assert demo.rsplit(" && ", 1)[0] == ci_line.rsplit(" && ", 1)[0]  # the same set-up as CI's
    assert demo.rsplit(" && ", 1)[1] == ".venv/bin/python -m backup_events demo"


def _run_line(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = line.split()
    assert argv[0] in (".venv/bin/python", "python"), f"not a command this test knows how to run: {line}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "BACKUP_", "MSI_", "IDENTITY_"))}
    env |= {"PYTHONPATH": str(ROOT), "IDENTITY_ENDPOINT": "http://127.0.0.1:9/", "IDENTITY_HEADER": "x"}
    return subprocess.run([sys.executable, *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize(
    ("page", "note", "body"), runnable_blocks(), ids=[f"{p}:{b.splitlines()[0][-50:]}" for p, _, b in runnable_blocks()]
)
def test_each_runnable_block_runs_and_exits_0(tmp_path: Path, page: str, note: str, body: str) -> None:
    """Run from a scratch folder that sees the checkout's tests/ and sample settings, so nothing lands in the checkout.

    The fresh-clone set-up (venv, pip, npm) is what this very suite runs in; only the command after it runs here, and
    the test command itself is left to CI (it is this suite).
    """
    for name in ("tests", "local.settings.sample.json"):
        (tmp_path / name).symlink_to(ROOT / name)
    for written in body.splitlines():
        line = written.rsplit(" && ", 1)[1] if written.startswith(FRESH_CLONE) else written
        if line.endswith("-m pytest"):
            continue
        result = _run_line(line, tmp_path)
        assert result.returncode == 0, f"{page}: {line}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stderr


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_resolves_with_its_heading() -> None:
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and linked.suffix == ".md":
                headings = {_slug(h) for h in re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)}
                if anchor not in headings:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_catalog_figures_are_the_catalog_s() -> None:
    from backup_events.domain import remediation

    catalog = remediation.load()
    codes = sum(len(e.codes) for e in catalog.entries)
    said = (
        f"{len(catalog.entries)} entries, {codes} string codes, {len(catalog.by_number)} numeric codes and "
        f"{len(catalog.patterns)} message patterns"
    )
    assert said in " ".join((ROOT / "docs" / "how-it-works.md").read_text(encoding="utf-8").split())


def test_the_fault_table_is_the_one_the_fault_suite_wrote() -> None:
    def rows(path: Path) -> list[str]:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("|")]

    assert rows(ROOT / "docs" / "reliability.md") == rows(ROOT / "bench" / "results" / "FAULTS.md")


def test_no_page_cites_a_repository_file_that_does_not_exist() -> None:
    missing = []
    for page in PAGES:
        for cited in re.findall(
            r"`((?:backup_events|tests|bench|infra|docs|scripts)/[\w./-]+)`", page.read_text(encoding="utf-8")
        ):
            if not (ROOT / cited.rstrip("/")).exists() and "*" not in cited:
                missing.append(f"{page.name}: {cited}")
    assert missing == []


def test_no_page_ties_its_figures_to_a_commit_hash() -> None:
    tied = [
        f"{page.name}: {m.group(0)}"
        for page in PAGES
        for m in re.finditer(r"\b(?:commit|at|HEAD)\s+`?[0-9a-f]{7,40}\b", page.read_text(encoding="utf-8"))
    ]
    assert tied == []
