"""Every recorded payload of the live service is told right: ``explain`` over each file, against outcomes reviewed by hand.

The expected outcomes (``tests/data/recorded/expected-outcomes.txt``) were written by
``.venv/bin/python -m tests.test_recorded_corpus`` and then read line by line against the recordings: the subject
names the operation that failed and the item, the phase is the task the job marks Failed (or the one it never
finished), the code is Azure's; every other job says ``No email:`` and why. A change that tells any recorded job
differently fails here.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from backup_events.__main__ import main
from backup_events.wire.exported import read_json
from tests.recorded import RECORDED

EXPECTED = RECORDED / "expected-outcomes.txt"
FILES = sorted(p.relative_to(RECORDED).as_posix() for p in RECORDED.glob("*/*.json"))
_HEADER = re.compile(r"^=== \d+/\d+ (?:job|item) (?P<name>.+)$")


def outcomes_of(out: str, file: str) -> list[str]:
    """One line per job of ``explain``'s output: ``file | job | subject | phase | error`` or ``file | job | No email: …``."""
    blocks: list[tuple[str, list[str]]] = []
    for line in out.splitlines():
        if header := _HEADER.match(line):
            blocks.append((header["name"], []))
        elif not blocks:  # a file of one resource: explain prints no header
            blocks.append((single_name(file), [line]))
        else:
            blocks[-1][1].append(line)
    rows = []
    for name, lines in blocks:
        first = next(line for line in lines if line.strip())
        if first.startswith("No email: "):
            rows.append(f"{file} | {name} | {first}")
            continue
        phase = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Phase ")), "-")
        error = next((line.split(":", 1)[1].strip() for line in lines if line.startswith(("Error ", "Azure code "))), "-")
        rows.append(f"{file} | {name} | {first} | phase: {phase} | error: {error}")
    return rows


def single_name(file: str) -> str:
    document = read_json(RECORDED / file)
    return str(document.get("name") or document.get("data", {}).get("essentials", {}).get("alertId", "-"))


def explain(file: str) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["explain", str(RECORDED / file)])
    assert (code, err.getvalue()) == (0, ""), f"explain {file} exited {code}: {err.getvalue()}"
    return outcomes_of(out.getvalue(), file)


def expected() -> dict[str, list[str]]:
    by_file: dict[str, list[str]] = {}
    for line in EXPECTED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            by_file.setdefault(line.split(" | ", 1)[0], []).append(line)
    return by_file


def test_the_corpus_is_large_and_varied_enough_to_be_the_reference() -> None:
    rows = [line for lines in expected().values() for line in lines]
    told = [r for r in rows if "| No email: " not in r]
    assert len({r.split(" | ")[1] for r in rows}) >= 50
    assert {"Subject: [Backup failed]", "Subject: [Restore failed]"} <= {re.sub(r"\] .*", "]", r.split(" | ")[2]) for r in told}
    assert sorted(expected()) == FILES, "every recorded file has its expected outcome"


@pytest.mark.parametrize("file", FILES)
def test_each_recorded_file_is_told_as_expected(file: str) -> None:
    assert explain(file) == expected().get(file)


if __name__ == "__main__":  # rewrite the expected outcomes, then review the diff by hand
    rows = [row for file in FILES for row in explain(file)]
    header = "# explain over every recorded file (tests/test_recorded_corpus.py): file | job | outcome. Reviewed by hand.\n"
    EXPECTED.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    print(f"{len(rows)} outcomes written to {EXPECTED}")
