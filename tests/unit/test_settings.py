"""Settings: one typed object; every bad setting named at once with a valid example."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from backup_events import settings as settings_module
from backup_events.errors import ConfigurationError
from backup_events.settings import NAMES, SETTINGS, Settings, local_sample, readme_table, with_readme_table

ROOT = Path(__file__).resolve().parents[2]
HOST_SETTINGS = ("FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "AzureWebJobsFeatureFlags")
VAULT = "/subscriptions/3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/rsv"

AZURE = {
    "BACKUP_VAULT_IDS": VAULT,
    "BACKUP_TABLE_ENDPOINT": "https://stbackup.table.core.windows.net",
    "BACKUP_ACS_ENDPOINT": "https://acs-backup.communication.azure.com",
    "BACKUP_MAIL_SENDER": "DoNotReply@00000000-1111-2222-3333-444444444444.azurecomm.net",
    "BACKUP_MAIL_RECIPIENTS": "oncall@contoso.com; team@contoso.com",
    "AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
}


def test_a_typical_azure_configuration_reads_into_typed_values() -> None:
    settings = Settings.from_environ(AZURE)
    assert settings.vault_ids == (VAULT,)
    assert settings.mail_recipients == ("oncall@contoso.com", "team@contoso.com")
    assert settings.lookback_hours == 24
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.poll_schedule == "0 */15 * * * *"
    assert settings.mailer == "acs"


def test_every_bad_setting_is_named_in_one_error_with_a_valid_example() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ(
            {
                "BACKUP_POLL_SCHEDULE": "every 5 minutes",
                "BACKUP_JOBS_SOURCE": "magic",
                "BACKUP_VAULT_IDS": "rsv-prod",
                "BACKUP_SUBSCRIPTION_IDS": "not-a-guid",
                "BACKUP_LOOKBACK_HOURS": "forever",
                "BACKUP_CLOUD": "Mars",
                "BACKUP_TABLE_ENDPOINT": "http://plain.example",
                "BACKUP_TABLE_NAME": "1-bad",
                "BACKUP_MAILER": "pigeon",
                "BACKUP_MAIL_RECIPIENTS": "not an address",
                "AZURE_CLIENT_ID": "me",
            }
        )
    named = {problem.split(":")[0] for problem in caught.value.problems}
    assert named == {
        "BACKUP_POLL_SCHEDULE",
        "BACKUP_JOBS_SOURCE",
        "BACKUP_VAULT_IDS",
        "BACKUP_SUBSCRIPTION_IDS",
        "BACKUP_LOOKBACK_HOURS",
        "BACKUP_CLOUD",
        "BACKUP_TABLE_ENDPOINT",
        "BACKUP_TABLE_NAME",
        "BACKUP_MAILER",
        "BACKUP_MAIL_RECIPIENTS",
        "AZURE_CLIENT_ID",
    }
    assert all("a valid value looks like" in problem for problem in caught.value.problems)


def test_nothing_set_says_what_is_missing() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({})
    text = str(caught.value)
    for name in (
        "BACKUP_VAULT_IDS",
        "BACKUP_TABLE_ENDPOINT",
        "BACKUP_ACS_ENDPOINT",
        "BACKUP_MAIL_SENDER",
        "BACKUP_MAIL_RECIPIENTS",
    ):
        assert name in text


def test_acs_needs_a_sender_address() -> None:
    with pytest.raises(ConfigurationError, match="BACKUP_MAIL_SENDER: must be one email address"):
        Settings.from_environ({**AZURE, "BACKUP_MAIL_SENDER": "Ops <ops@contoso.com>, x@y.z"})


def test_bad_acs_connection_string_is_named_without_echoing_it() -> None:
    secret = "accesskey-looking-thing-123"
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({**AZURE, "BACKUP_ACS_CONNECTION_STRING": secret})
    assert "BACKUP_ACS_CONNECTION_STRING" in str(caught.value)
    assert secret not in str(caught.value)


@pytest.mark.parametrize(
    ("cloud", "endpoint", "scope"),
    [
        ("AzureUSGovernment", "https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net/.default"),
        ("AzureChinaCloud", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn/.default"),
        ("https://127.0.0.1:8443/", "https://127.0.0.1:8443", "https://127.0.0.1:8443/.default"),
    ],
)
def test_sovereign_clouds_by_name_or_url(cloud: str, endpoint: str, scope: str) -> None:
    settings = Settings.from_environ({**AZURE, "BACKUP_CLOUD": cloud})
    assert (settings.arm_endpoint, settings.arm_scope) == (endpoint, scope)


def test_sample_source_needs_no_vaults_and_outbox_needs_no_sender() -> None:
    settings = Settings.from_environ(
        {
            "BACKUP_JOBS_SOURCE": "sample",
            "BACKUP_TABLE_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "BACKUP_MAILER": "outbox",
            "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
        }
    )
    assert settings.vault_ids == ()


def test_repr_keeps_connection_strings_and_recipients_out_of_logs() -> None:
    settings = Settings.from_environ(
        {
            **AZURE,
            "BACKUP_ACS_ENDPOINT": "",
            "BACKUP_ACS_CONNECTION_STRING": "endpoint=https://x.communication.azure.com/;accesskey=c2VjcmV0",
        }
    )
    shown = repr(settings)
    assert "c2VjcmV0" not in shown and "oncall@contoso.com" not in shown


def test_every_settings_field_is_one_row_of_the_table_in_order() -> None:
    assert [f.name for f in dataclasses.fields(Settings)] == [row.field for row in SETTINGS]
    assert tuple(row.name for row in SETTINGS) == NAMES
    assert len(set(NAMES)) == len(NAMES)
    assert all(row.description and row.example for row in SETTINGS)
    assert all(name.startswith(("BACKUP_", "AZURE_")) for name in NAMES)


def test_settings_is_frozen() -> None:
    settings = Settings.from_environ(AZURE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.mailer = "outbox"  # type: ignore[misc]


def test_every_default_is_valid_as_it_stands() -> None:
    # AZURE sets only what has no default; every other setting reads its table default without a problem.
    settings = Settings.from_environ(AZURE)
    assert (settings.reminder_hours, settings.missed_grace_hours, settings.emails_per_run) == ((24, 72), 6, 5)


def test_local_settings_sample_is_what_the_table_generates() -> None:
    text = (ROOT / "local.settings.sample.json").read_text(encoding="utf-8")
    assert text == local_sample(), "local.settings.sample.json is stale: run python -m backup_events.settings"
    values = json.loads(text)["Values"]
    assert list(values) == [*HOST_SETTINGS, *NAMES]
    assert values["BACKUP_JOBS_SOURCE"] == "sample" and values["BACKUP_MAILER"] == "outbox"


def test_the_generator_rewrites_a_stale_readme_table_and_sample(tmp_path: Path) -> None:
    readme = (
        "# x\n\n## All settings\n\nIntro.\n\n| Setting | Default | Meaning |\n|---|---|---|\n| `OLD` | | gone |\n\n## Deploy\n"
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "settings.md").write_text(readme, encoding="utf-8")
    (tmp_path / "local.settings.sample.json").write_text("{}", encoding="utf-8")
    assert settings_module.main(["--check", "--root", str(tmp_path)]) == 1
    assert settings_module.main(["--root", str(tmp_path)]) == 0
    rewritten = (tmp_path / "docs" / "settings.md").read_text(encoding="utf-8")
    assert rewritten == "# x\n\n## All settings\n\nIntro.\n\n" + readme_table() + "\n## Deploy\n"
    assert "`OLD`" not in rewritten and "| `BACKUP_JOBS_SOURCE` | `arm` |" in rewritten
    assert (tmp_path / "local.settings.sample.json").read_text(encoding="utf-8") == local_sample()
    assert settings_module.main(["--check", "--root", str(tmp_path)]) == 0


def test_a_readme_without_a_settings_table_is_refused() -> None:
    with pytest.raises(ValueError, match="no table under '## All settings'"):
        with_readme_table("# x\n\n## Settings\n\nNo table here.\n\n## Deploy\n\n| Setting | Default | Meaning |\n|---|---|---|\n")


def test_local_settings_sample_is_valid_as_it_stands() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    Settings.from_environ(sample)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"BACKUP_LOOKBACK_HOURS": "720", "BACKUP_RETENTION_DAYS": "30"}, "BACKUP_RETENTION_DAYS: must be longer than"),
        ({"BACKUP_LOOKBACK_HOURS": "24", "BACKUP_RETENTION_DAYS": "1"}, "BACKUP_RETENTION_DAYS: must be longer than"),
        ({"BACKUP_ROUTE_TAG": "backup-alerts-to"}, "BACKUP_ROUTE_TAG_DOMAINS: set it when BACKUP_ROUTE_TAG is set"),
        (
            {"BACKUP_ROUTE_TAG": "t", "BACKUP_ROUTE_TAG_DOMAINS": "contoso"},
            "BACKUP_ROUTE_TAG_DOMAINS: 'contoso' is not a mail domain",
        ),
        ({"BACKUP_ROUTE_TAG_MODE": "instead"}, "BACKUP_ROUTE_TAG_MODE: must be one of add, replace"),
    ],
)
def test_settings_that_contradict_each_other_are_refused(values: dict[str, str], problem: str) -> None:
    base = {
        "BACKUP_JOBS_SOURCE": "sample",
        "BACKUP_TABLE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "BACKUP_MAILER": "outbox",
    }
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_environ({**base, "BACKUP_MAIL_RECIPIENTS": "a@contoso.com", **values})
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


def test_the_daily_summary_is_at_nine_utc_unless_told_and_off_stops_it() -> None:
    default = Settings.from_environ(AZURE)
    assert (default.summary_schedule, default.timezone, default.blind_after_runs) == ("09:00", "UTC", 3)
    tokyo = Settings.from_environ({**AZURE, "BACKUP_SUMMARY_SCHEDULE": "08:45", "BACKUP_TIMEZONE": "Asia/Tokyo"})
    assert (tokyo.summary_schedule, tokyo.timezone) == ("08:45", "Asia/Tokyo")
    assert Settings.from_environ({**AZURE, "BACKUP_SUMMARY_SCHEDULE": "OFF"}).summary_schedule is None


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("BACKUP_SUMMARY_SCHEDULE", "9:00", "BACKUP_SUMMARY_SCHEDULE: must be a time of day HH:MM on a quarter hour"),
        ("BACKUP_SUMMARY_SCHEDULE", "09:10", "the summary timer runs every 15 minutes"),
        ("BACKUP_SUMMARY_SCHEDULE", "24:00", "or 'off'"),
        ("BACKUP_TIMEZONE", "Mars/Olympus_Mons", "BACKUP_TIMEZONE: time zone 'Mars/Olympus_Mons' is not an IANA name"),
        ("BACKUP_TIMEZONE", "../../etc/passwd", "such as Asia/Tokyo"),
        ("BACKUP_BLIND_AFTER_RUNS", "0", "BACKUP_BLIND_AFTER_RUNS: must be a whole number, 1-1000"),
    ],
)
def test_a_bad_summary_or_blind_spot_setting_is_named_with_a_valid_example(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({**AZURE, name: value})
    assert problem in str(caught.value)


def test_the_mail_language_and_time_zone_default_to_english_in_utc_and_are_checked() -> None:
    settings = Settings.from_environ(AZURE)
    assert (settings.mail_language, settings.timezone) == ("en", "UTC")
    tokyo = Settings.from_environ({**AZURE, "BACKUP_MAIL_LANGUAGE": "ja", "BACKUP_TIMEZONE": "Asia/Tokyo"})
    assert (tokyo.mail_language, tokyo.timezone) == ("ja", "Asia/Tokyo")
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({**AZURE, "BACKUP_MAIL_LANGUAGE": "jp", "BACKUP_TIMEZONE": "JST"})
    assert caught.value.problems == (
        "BACKUP_MAIL_LANGUAGE: language 'jp' is not one of en, ja; a valid value looks like 'ja'",
        "BACKUP_TIMEZONE: time zone 'JST' is not an IANA name such as Asia/Tokyo or UTC; a valid value looks like 'Asia/Tokyo'",
    )


def test_a_route_names_its_groups_language_and_zone() -> None:
    routes = "rg:rg-db-tokyo=dba@contoso.jp lang=ja tz=Asia/Tokyo;vault:rsv-prod=ops@contoso.com"
    settings = Settings.from_environ({**AZURE, "BACKUP_ROUTES": routes})
    assert [(r.language, r.zone) for r in settings.routes] == [("ja", "Asia/Tokyo"), ("", "")]
