"""The remediation catalog: its rules, its coverage, how errors find their entry, and the seed scenarios."""

from __future__ import annotations

import glob
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from backup_events.domain import remediation
from backup_events.domain.model import Diagnosis, JobError, Phase, Remediation, Severity
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
        ([good_entry(workloads=["Mainframe"])], "A: unknown workload ['Mainframe']"),
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


def test_an_entry_carries_every_field_the_catalog_gives_it() -> None:
    catalog = remediation.parse(
        _toml([good_entry(codes=["CodeA", "CodeA2"], numbers=[7, 8], notes=["n1"], messages=["alpha .* failed"])])
    )
    (entry,) = catalog.entries
    assert entry == Remediation(
        key="A",
        title="Alpha failed",
        cause="c",
        steps=("s",),
        docs_url="https://learn.microsoft.com/a",
        phase=Phase("Take Snapshot"),
        severity=Severity("user"),
        codes=("CodeA", "CodeA2"),
        numbers=(7, 8),
        workloads=("Azure VM",),
        notes=("n1",),
    )
    assert catalog.by_code == {"codea": entry, "codea2": entry}
    assert catalog.by_number == {7: entry, 8: entry}
    assert [(p.pattern, e) for p, e in catalog.patterns] == [("alpha .* failed", entry)]


def test_an_entry_may_match_by_message_alone_and_has_no_codes_numbers_or_notes() -> None:
    (entry,) = remediation.parse(_toml([good_entry(codes=[], numbers=[], messages=["alpha"])])).entries
    assert (entry.codes, entry.numbers, entry.notes) == ((), (), ())


def test_the_bundled_catalog_text_parses_to_one_entry_per_table() -> None:
    text = remediation.catalog_text()
    catalog = remediation.parse(text, remediation.translation_texts())
    assert [e.key for e in catalog.entries] == [raw["key"] for raw in tomllib.loads(text)["entry"]]
    assert catalog == CATALOG


@pytest.mark.parametrize(
    ("data", "problems"),
    [
        ({"entry": [good_entry()]}, ["top level: schema must be 1"]),
        ({"schema": 1}, ["top level: no [[entry]] tables"]),
        ({"schema": 1, "entry": {}}, ["top level: no [[entry]] tables"]),
        ({"schema": 2, "entry": []}, ["top level: schema must be 1", "top level: no [[entry]] tables"]),
        ({"schema": 1, "entry": [good_entry(), good_entry(key="")]}, ["entry #2: missing key"]),
        (
            {"schema": 1, "entry": [good_entry(cause="", steps=[]), good_entry(key="B", phase="Lunch", codes=["B"])]},
            [
                "A: missing cause, steps",
                "B: phase 'Lunch' is not one of " + str([p.value for p in Phase]),
            ],
        ),
        (
            {"schema": 1, "entry": [good_entry(severity="mild")]},
            ["A: severity 'mild' is not one of " + str([s.value for s in Severity])],
        ),
        ({"schema": 1, "entry": [good_entry(steps=[" "])]}, ["A: every step must be non-empty text"]),
        ({"schema": 1, "entry": [good_entry(steps=[3])]}, ["A: every step must be non-empty text"]),
        ({"schema": 1, "entry": [good_entry(numbers=["12"])]}, ["A: number '12' is not an integer"]),
        ({"schema": 1, "entry": [good_entry(codes=[], numbers=[5])]}, []),
        ({"schema": 1, "entry": [good_entry(codes=[], numbers=[], messages=["alpha"])]}, []),
        ({"schema": 1, "entry": [good_entry(numbers=[]), good_entry(key="B", codes=[], numbers=[2])]}, []),
    ],
    ids=[
        "no schema",
        "no entries",
        "entries not a list",
        "both",
        "an entry without a key is named by its position",
        "a broken entry does not stop the next being checked",
        "severity",
        "blank step",
        "step not text",
        "number not an integer",
        "numbers alone",
        "messages alone",
        "codes or numbers may be absent",
    ],
)
def test_check_says_exactly_what_is_wrong(data: dict[str, Any], problems: list[str]) -> None:
    assert remediation.check(data) == problems


def test_a_pattern_may_not_claim_an_example_message_of_another_entry() -> None:
    entries = [
        good_entry(examples=["^Gamma\\ broke$"]),
        good_entry(key="B", title="Beta", codes=["CodeB"], numbers=[2], messages=["gamma broke"]),
    ]
    assert remediation.check({"schema": 1, "entry": entries}) == ["B: pattern 'gamma broke' also matches A's message"]


def test_a_pattern_may_match_its_own_entry_title_and_an_entry_without_a_title_is_not_matched() -> None:
    entries = [
        good_entry(messages=["alpha failed"]),
        good_entry(key="B", title="XX", codes=["CodeB"], numbers=[2], messages=["xx"]),
    ]
    assert remediation.check({"schema": 1, "entry": entries}) == []
    assert remediation.check({"schema": 1, "entry": [good_entry(messages=["xx"]), {"key": "B"}]}) == [
        "B: missing title, cause, steps, docs, phase, severity, workloads"
    ]


def test_codes_inside_an_alert_id_come_longest_first_as_the_catalog_spells_them() -> None:
    catalog = remediation.parse(_toml([good_entry(codes=["Err"]), good_entry(key="B", codes=["ErrTimeoutLong"], numbers=[2])]))
    assert catalog.codes_in("alert-errtimeoutlong-x") == ["ErrTimeoutLong", "Err"]
    assert catalog.canonical_code("ERRTIMEOUTLONG") == "ErrTimeoutLong"
    assert catalog.canonical_code("Unknown") == "Unknown"


def rule(diagnosis: Diagnosis) -> tuple[str | None, str | None]:
    return diagnosis.matched_by, diagnosis.looked_up


def test_a_diagnosis_says_which_rule_matched_and_what_it_matched() -> None:
    code = "UserErrorGuestAgentStatusUnavailable"
    assert rule(diagnose(code=code.casefold())) == ("code", code.casefold())
    assert rule(CATALOG.diagnose([JobError(code=None, number=None, message="")], extra_codes=[code])) == ("code", code)
    by_number = next(e for e in CATALOG.entries if e.numbers and not e.codes)
    assert rule(diagnose(number=by_number.numbers[0])) == ("number", str(by_number.numbers[0]))
    assert rule(diagnose(message=f"Failed (ID: {by_number.numbers[0]})")) == ("number", str(by_number.numbers[0]))
    assert rule(diagnose(message=f"The backup failed with {code} here")) == ("message", code)


def test_an_unmapped_error_is_looked_up_by_its_code_then_its_number() -> None:
    assert diagnose(code="NoSuchCode", number=424242) == Diagnosis(None, None, "NoSuchCode")
    assert diagnose(number=424242) == Diagnosis(None, None, "424242")
    assert diagnose(message="nothing known") == Diagnosis(None, None, None)
    assert CATALOG.diagnose([], extra_codes=["NoSuchCode"]) == Diagnosis(None, None, "NoSuchCode")
