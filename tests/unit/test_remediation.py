"""The remediation catalog: its rules, its coverage, how errors find their entry, and the seed scenarios."""

from __future__ import annotations

import glob
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from backup_events.domain import remediation
from backup_events.domain.model import JobError, Phase, Severity
from backup_events.domain.remediation import CatalogError, normalise_message
from backup_events.wire.jobs import normalise_job
from tests.conftest import DATA

CATALOG = remediation.load()


def entry_data() -> dict[str, Any]:
    return tomllib.loads(remediation.catalog_text())


def diagnose(code: str | None = None, number: int | None = None, message: str = "", extra: tuple[str, ...] = ()) -> Any:
    return CATALOG.diagnose([JobError(code=code, number=number, message=message)], extra_codes=extra)


def test_bundled_catalog_passes_its_own_check() -> None:
    assert remediation.check(entry_data()) == []
    assert len(CATALOG.entries) >= 100


def test_every_documented_code_is_in_the_catalog() -> None:
    documented = [line for line in (DATA / "documented-codes.txt").read_text().splitlines() if line and not line.startswith("#")]
    missing = [code for code in documented if code.casefold() not in CATALOG.by_code]
    assert len(documented) >= 100
    assert missing == []


def test_every_entry_has_steps_a_learn_link_and_a_phase() -> None:
    for entry in CATALOG.entries:
        assert entry.steps and all(step.strip() for step in entry.steps), entry.key
        assert entry.docs_url.startswith("https://learn.microsoft.com/"), entry.key
        assert isinstance(entry.phase, Phase) and isinstance(entry.severity, Severity)


def test_every_failed_job_in_the_test_data_resolves() -> None:
    for path in sorted(glob.glob(str(DATA / "*.json"))):
        document = json.loads(Path(path).read_text())
        items = document.get("value") if isinstance(document, dict) else None
        for raw in items if items is not None else [document]:
            if raw.get("properties", {}).get("status") != "Failed":
                continue
            job = normalise_job(raw)
            assert CATALOG.diagnose(job.errors).remediation is not None, (path, job.error)


def test_every_failed_sample_job_with_a_documented_code_resolves() -> None:
    from backup_events.adapters.sample_jobs import bundled_jobs

    for raw in bundled_jobs():
        job = normalise_job(raw)
        if job.status == "Failed" and job.error and job.error.code != "UserErrorSomethingBrandNew" and job.job_type != "VaultJob":
            assert CATALOG.diagnose(job.errors).remediation is not None, job.item_name


# --- matching rules, in order --------------------------------------------------------------------------


def test_exact_string_code_matches_first_and_ignores_case() -> None:
    found = diagnose(code="usererrorguestagentstatusunavailable", number=400190, message="storage account being in locked state")
    assert (found.remediation.key, found.matched_by) == ("UserErrorGuestAgentStatusUnavailable", "code")


def test_code_found_only_inside_an_alert_id() -> None:
    origin = "3141592653589793238_0_2643383279azureiaasvmusererrorguestagentstatusunavailable"
    assert CATALOG.codes_in(origin)[0] == "UserErrorGuestAgentStatusUnavailable"
    found = diagnose(message="whatever", extra=tuple(CATALOG.codes_in(origin)[:1]))
    assert (found.remediation.key, found.matched_by) == ("UserErrorGuestAgentStatusUnavailable", "code")


def test_numeric_code_matches_when_there_is_no_string_code() -> None:
    found = diagnose(number=400190)
    assert found.matched_by == "number"
    assert found.remediation.codes == ("UserErrorStorageAccountIsLocked",)


def test_message_alone_matches_after_normalising_case_whitespace_period_and_prefix() -> None:
    for message in (
        "Operation cancelled as a conflicting operation was already running on the same database.",
        "  OPERATION CANCELLED as a conflicting   operation was already running on the same database ",
        "Error: Operation cancelled as a conflicting operation was already running on the same database.",
        "エラー: Operation cancelled as a conflicting operation was already running on the same database",
    ):
        found = diagnose(message=message)
        assert found.matched_by == "message", message
        assert found.remediation.key == "OperationCancelledBecauseConflictingOperationRunningUserError"


def test_mars_message_with_only_an_id_matches_by_number() -> None:
    found = diagnose(message="The agent could not reach the service (ID: 100050)")
    assert (found.matched_by, found.remediation.numbers) == ("number", (100050,))


def test_unknown_code_is_unmapped_not_an_error() -> None:
    found = diagnose(code="UserErrorNobodyHasSeenThis", number=987654321, message="brand new failure")
    assert (found.remediation, found.matched_by, found.looked_up) == (None, None, "UserErrorNobodyHasSeenThis")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("  Hello   World. ", "hello world"), ("Error: Disk full.", "disk full"), ("ERREUR : Disque plein", "disque plein")],
)
def test_message_normalisation(raw: str, normalised: str) -> None:
    assert normalise_message(raw) == normalised


# --- the seed scenarios (Microsoft Japan support posts) --------------------------------------------------


def test_stopped_vm_agent_points_at_the_agent_services_in_take_snapshot() -> None:
    entry = diagnose(code="UserErrorGuestAgentStatusUnavailable").remediation
    assert entry.phase is Phase.TAKE_SNAPSHOT
    text = " ".join(entry.steps)
    for service in ("RdAgent", "Windows Azure Guest Agent", "walinuxagent", "waagent"):
        assert service in text


def test_guest_firewall_blocking_wireserver_says_open_the_guest_firewall_not_nsgs() -> None:
    entry = diagnose(code="UserErrorGuestAgentStatusUnavailable").remediation
    steps = " ".join(entry.steps)
    assert "168.63.129.16" in steps and "80" in steps and "32526" in steps
    assert any("NSG" in note and "168.63.129.16" in note for note in entry.notes)


def test_previous_job_still_in_take_snapshot_is_a_scheduling_problem() -> None:
    entry = diagnose(code="UserErrorBackupOperationInProgress").remediation
    assert entry.phase is Phase.JOB_START
    assert any("scheduling problem" in note for note in entry.notes)
    assert "In progress" in entry.steps[0]


def test_azure_files_read_only_lock() -> None:
    entry = diagnose(number=400190).remediation
    assert "lock" in entry.cause.lower()
    assert "read-only lock" in entry.steps[0].lower() or "lock" in entry.steps[0].lower()


def test_sql_conflicting_operation_is_in_transfer_and_worth_a_retry() -> None:
    entry = diagnose(number=510008).remediation
    assert entry.phase is Phase.TRANSFER
    assert entry.severity is Severity.TRANSIENT


# --- the check itself ----------------------------------------------------------------------------------


def good_entry(**overrides: Any) -> dict[str, Any]:
    entry = {
        "key": "A",
        "title": "Alpha failed",
        "codes": ["CodeA"],
        "numbers": [1],
        "workloads": ["Azure VM"],
        "phase": "Take Snapshot",
        "severity": "user",
        "cause": "c",
        "steps": ["s"],
        "docs": "https://learn.microsoft.com/a",
    }
    return {**entry, **overrides}


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([good_entry(), good_entry(key="B", numbers=[2])], "B: code CodeA is also claimed by A"),
        ([good_entry(), good_entry(key="B", codes=["CodeB"])], "B: number 1 is also claimed by A"),
        ([good_entry(), good_entry()], "A: duplicate key"),
        ([good_entry(messages=["(unclosed"])], "A: pattern '(unclosed' does not compile"),
        ([good_entry(steps=[])], "A: missing steps"),
        ([good_entry(docs="http://example.com")], "A: docs must be an https://learn.microsoft.com/ link"),
        ([good_entry(workloads=["Mainframe"])], "A: unknown workload(s) ['Mainframe']"),
        (
            [good_entry(), good_entry(key="B", codes=["CodeB"], numbers=[2], messages=["alpha"])],
            "B: pattern 'alpha' also matches A",
        ),
        ([good_entry(codes=[], numbers=[])], "A: nothing to match on"),
    ],
)
def test_check_names_the_offending_entry(entries: list[dict[str, Any]], problem: str) -> None:
    problems = remediation.check({"schema": 1, "entry": entries})
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(CatalogError):
        remediation.parse(_toml(entries))


def _toml(entries: list[dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        return json.dumps(v) if not isinstance(v, str) else "'" + v + "'"

    lines = ["schema = 1"]
    for entry in entries:
        lines.append("[[entry]]")
        lines += [f"{k} = {value(v)}" for k, v in entry.items()]
    return "\n".join(lines)
