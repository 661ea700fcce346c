"""Rendering: the item first in the subject, the fix in the body, and nothing from a job executes in HTML."""

from __future__ import annotations

import copy
import dataclasses
import re
from html.parser import HTMLParser
from typing import Any

from backup_events.domain import remediation
from backup_events.domain.model import Diagnosis
from backup_events.mail.render import render_failure
from backup_events.wire.jobs import normalise_job
from tests.conftest import load

VM = "synth-iaasvm-failed-UserErrorGuestAgentStatusUnavailable-details.json"


def render(raw: dict[str, Any], diagnosis: Diagnosis | None = None) -> Any:
    job = normalise_job(raw)
    return render_failure(
        job,
        diagnosis or remediation.load().diagnose(job.errors),
        key="k",
        sender="backup-events@example.com",
        recipients=("oncall@example.com",),
        portal_url="https://portal.azure.com",
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


def test_subject_names_the_item_then_the_code() -> None:
    assert render(load(VM)).subject == "[Backup failed] vm-app-02: UserErrorGuestAgentStatusUnavailable"
    sql = render(load("synth-sql-failed-conflicting-operation-details.json"))
    assert sql.subject == "[Backup failed] vm-sql-01 / salesdb: OperationCancelledBecauseConflictingOperationRunningUserError"


def test_body_gives_vault_phase_cause_steps_and_links() -> None:
    text = render(load(VM)).text
    for expected in (
        "vm-app-02 (Azure VM)",
        "Phase      : Take Snapshot (from the job's tasks)",
        "Vault      : rsv-prod (resource group rg-backup",
        "WHY",
        "WHAT TO DO",
        "1. ",
        "https://learn.microsoft.com/",
        "https://portal.azure.com/#@/resource/Subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-backup/providers/Microsoft.RecoveryServices/vaults/rsv-prod/backupJobs",
        "(ran 4 h 20 min)",
    ):
        assert expected in text


def test_files_failure_known_only_by_number_is_still_explained() -> None:
    message = render(load("synth-afs-failed-storage-locked-details.json"))
    assert "share-finance" in message.subject
    assert "lock" in message.text.lower()
    assert "matched by number" in message.text


def test_unknown_code_still_carries_azures_message_and_advice() -> None:
    raw = copy.deepcopy(load(VM))
    raw["properties"]["errorDetails"][0].update(
        errorTitle="UserErrorNobodyHasSeenThis", errorCode=123456789, errorString="Something new broke"
    )
    message = render(raw)
    assert "UserErrorNobodyHasSeenThis is not in the backup-events catalog" in message.text
    assert "Something new broke" in message.text
    assert "Ensure that the VM agent is running" in message.text
    assert message.subject.endswith(": UserErrorNobodyHasSeenThis")


def test_job_without_error_details_says_so() -> None:
    raw = copy.deepcopy(load(VM))
    del raw["properties"]["errorDetails"]
    message = render(raw)
    assert message.subject == "[Backup failed] vm-app-02: no error code"
    assert "Azure gave no error code" in message.text


def test_hostile_strings_from_a_job_render_inert_in_html() -> None:
    raw = copy.deepcopy(load(VM))
    raw["properties"]["entityFriendlyName"] = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    raw["properties"]["extendedInfo"]["propertyBag"] = {}
    raw["properties"]["errorDetails"][0]["errorString"] = '<a href="javascript:alert(1)">click</a>'
    raw["properties"]["errorDetails"][0]["recommendations"] = ["<iframe src=//evil>"]
    html = render(raw).html
    collector = _Collector()
    collector.feed(html)
    assert not {"script", "img", "iframe"} & set(collector.tags)
    assert not any(name.startswith("on") for name, _ in collector.attrs)
    assert not any((value or "").startswith("javascript:") for _, value in collector.attrs)
    assert "&lt;script&gt;" in html


def test_html_is_mail_client_friendly() -> None:
    html = render(load(VM)).html
    assert "<script" not in html and "<style" not in html and "<link" not in html
    assert not re.search(r"<img[^>]+src=\"https?:", html)
    assert 'style="' in html


def test_backticked_names_in_catalog_text_become_code_after_escaping() -> None:
    from backup_events.mail.render import _code_spans

    assert str(_code_spans("restart `RdAgent` now")) == (
        'restart <code style="font-family:Consolas,Menlo,monospace;background:#f4f5f7;overflow-wrap:anywhere;'
        'word-break:break-all;">RdAgent</code> now'
    )
    assert "<script>" not in str(_code_spans("`<script>alert(1)</script>`"))


def test_bidi_and_control_characters_never_reach_a_subject() -> None:
    raw = copy.deepcopy(load(VM))
    raw["properties"]["entityFriendlyName"] = "vm-\u202egpj.exe\u202c\r\nBcc: x@evil.example\u200b-02"
    subject = render(raw).subject
    assert not re.search("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\r\n]", subject)
    assert subject.startswith("[Backup failed] vm- gpj.exe Bcc: x@evil.example -02: ")


def test_the_message_key_header_is_a_hash_never_input() -> None:
    job = normalise_job(load(VM))
    key = "/subscriptions/s/vaults/v\r\nX-Injected: 1|inc-1"  # keys hold ids taken from alerts
    message = render_failure(
        job,
        remediation.load().diagnose(job.errors),
        key=key,
        sender="a@b.example",
        recipients=("c@d.example",),
        portal_url="https://p",
    )
    (value,) = message.headers.values()
    assert re.fullmatch(r"[0-9a-f]{32}", value)


def told(raw: dict[str, Any]) -> Any:
    from backup_events.mail.render import told_code  # noqa: PLC0415

    job = normalise_job(raw)
    return told_code(job, remediation.load().diagnose(job.errors))


def test_azure_string_code_is_told_as_azures_with_its_number() -> None:
    code = told(load(VM))
    assert (code.text, code.azure, code.azure_id, code.short) == (
        "UserErrorGuestAgentStatusUnavailable",
        True,
        "999001",  # this synthetic job's errorCode
        "UserErrorGuestAgentStatusUnavailable",
    )


def test_a_job_with_only_a_message_id_is_told_by_our_title_and_azures_id_never_by_our_key() -> None:
    raw = copy.deepcopy(load(VM))
    raw["properties"]["errorDetails"] = [
        {"errorString": "Unable to connect to the Azure Backup service (ID: 100050)", "recommendations": []}
    ]
    code = told(raw)
    assert code.azure is False and code.azure_id == "100050"
    assert code.short == f"{code.text} (Azure ID 100050)"
    assert code.text == "Backup agent cannot connect to Azure Backup"


def test_an_unknown_number_alone_is_told_as_azures_id() -> None:
    raw = copy.deepcopy(load(VM))
    raw["properties"]["errorDetails"] = [{"errorCode": 799999, "errorString": "Something new", "recommendations": []}]
    code = told(raw)
    assert (code.text, code.azure, code.azure_id) == ("ID 799999", True, "")


def test_no_error_at_all_is_said_as_such_not_as_a_label() -> None:
    raw = copy.deepcopy(load(VM))
    del raw["properties"]["errorDetails"]
    code = told(raw)
    assert (code.text, code.azure, code.label) == ("no error code", False, False)


def render_for(raw: dict[str, Any], language: str, zone: str) -> Any:
    from backup_events.mail.render import Reader  # noqa: PLC0415

    job = normalise_job(raw)
    return render_failure(
        job,
        remediation.load().diagnose(job.errors),
        key="k",
        sender="backup-events@example.com",
        recipients=("oncall@example.com",),
        portal_url="https://portal.azure.com",
        reader=Reader(language, zone),
    )


def test_english_keeps_its_own_durations_in_any_zone_and_japanese_reads_babels() -> None:
    english = render_for(load(VM), "en", "Asia/Tokyo").text
    assert "Ended      : 2026-11-21 05:25 JST (ran 4 h 20 min)" in english
    japanese = render_for(load(VM), "ja", "Asia/Tokyo").text
    assert "2026年11月21日 05:25 JST (実行時間 4 時間 20 分)" in japanese


def test_a_japanese_email_escapes_everything_from_the_job_as_the_english_does() -> None:
    raw = copy.deepcopy(load(VM))
    raw["properties"]["entityFriendlyName"] = "<img src=x onerror=alert(1)>"
    raw["properties"]["errorDetails"][0]["errorString"] = "<script>alert(1)</script>"
    html = render_for(raw, "ja", "Asia/Tokyo").html
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_plain_text_labels_line_up_whatever_the_language() -> None:
    from backup_events.mail.render import pad  # noqa: PLC0415

    assert pad("Vault", 11) == "Vault      " and pad("コンテナー", 13) == "コンテナー   "
    lines = [line for line in render_for(load(VM), "ja", "Asia/Tokyo").text.splitlines() if " : " in line[:16]]
    assert len(lines) >= 7 and len({pad_width(line.split(" : ")[0]) for line in lines}) == 1


def pad_width(label: str) -> int:
    import unicodedata  # noqa: PLC0415

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label + " ")


def test_a_note_about_the_job_is_told_in_the_readers_language() -> None:
    from backup_events.mail.render import Reader, notes_of  # noqa: PLC0415

    job = normalise_job(load(VM))
    noted = dataclasses.replace(job, notes=("Unknown job type 'AzureFutureJob': reported with what could be read.", "odd"))
    assert notes_of(noted) == noted.notes
    assert notes_of(noted, Reader("ja", "UTC")) == ("未知のジョブ種別 'AzureFutureJob': 読み取れた内容で報告しています。", "odd")
