"""Settings checked for real: the schedule parsed as NCRONTAB, addresses parsed as addresses, each command's own parts."""

from __future__ import annotations

import pytest

from backup_events.errors import ConfigurationError
from backup_events.settings import POLL, RELAY, TEST_EMAIL, Settings

LOCAL = {
    "BACKUP_JOBS_SOURCE": "sample",
    "BACKUP_TABLE_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "BACKUP_MAILER": "outbox",
    "BACKUP_MAIL_RECIPIENTS": "oncall@example.com",
}


def problems(**values: str) -> list[str]:
    try:
        Settings.from_environ({**LOCAL, **values})
    except ConfigurationError as exc:
        return list(exc.problems)
    return []


@pytest.mark.parametrize("schedule", ["0 */15 * * * *", "0 0 6 * * MON-FRI", "30 5 */2 1-15 1,6 0"])
def test_six_field_ncrontab_schedules_are_accepted(schedule: str) -> None:
    assert problems(BACKUP_POLL_SCHEDULE=schedule) == []


def test_a_five_field_cron_schedule_is_refused_with_the_six_field_spelling() -> None:
    (problem,) = problems(BACKUP_POLL_SCHEDULE="*/5 * * * *")
    assert problem.startswith("BACKUP_POLL_SCHEDULE: has 5 fields; NCRONTAB takes six, seconds first (write '0 */5 * * * *')")
    (problem,) = problems(BACKUP_POLL_SCHEDULE="0 0 */15 * * * *")
    assert "has 7 fields" in problem and "'0 */15 * * * *'" in problem


@pytest.mark.parametrize("schedule", ["0 0 25 * * *", "0 61 * * * *", "0 0 0 32 * *", "0 0 0 * 13 *", "0 0 0 * * Funday"])
def test_a_field_out_of_its_range_is_refused(schedule: str) -> None:
    (problem,) = problems(BACKUP_POLL_SCHEDULE=schedule)
    assert "is not a valid NCRONTAB expression" in problem and "hour 0-23" in problem


def test_a_schedule_that_never_fires_is_refused() -> None:
    (problem,) = problems(BACKUP_POLL_SCHEDULE="0 0 0 31 2 *")
    assert "never fires" in problem


@pytest.mark.parametrize(
    "sender", ["notanemail", "oncall@localhost", "two@example.com three@example.com", "On call <oncall@example.com>", "@x.com"]
)
def test_a_sender_that_is_not_one_bare_address_with_a_domain_is_refused_whatever_the_mailer(sender: str) -> None:
    (problem,) = problems(BACKUP_MAIL_SENDER=sender)
    assert problem.startswith("BACKUP_MAIL_SENDER: must be one email address")


def test_a_good_sender_passes() -> None:
    assert problems(BACKUP_MAIL_SENDER="DoNotReply@00000000-1111-2222-3333-444444444444.azurecomm.net") == []


def test_recipients_that_are_not_addresses_are_counted_in_good_english() -> None:
    assert problems(BACKUP_MAIL_RECIPIENTS="oncall@example.com,team@")[0].startswith(
        "BACKUP_MAIL_RECIPIENTS: 1 entry of 2 is not an email address"
    )
    assert problems(BACKUP_MAIL_RECIPIENTS="a@,b@,c@example.com")[0].startswith(
        "BACKUP_MAIL_RECIPIENTS: 2 entries of 3 are not an email address"
    )


def test_vault_ids_that_are_not_vault_ids_are_counted_in_good_english() -> None:
    (problem,) = problems(BACKUP_VAULT_IDS="rsv-prod")
    assert problem.startswith("BACKUP_VAULT_IDS: 1 entry of 1 is not a vault id, e.g. 'rsv-prod'")


@pytest.mark.parametrize("tag", ["bad tag!", "a/b", "tag?", "-leading"])
def test_a_route_tag_that_is_not_a_tag_name_is_refused(tag: str) -> None:
    found = problems(BACKUP_ROUTE_TAG=tag, BACKUP_ROUTE_TAG_DOMAINS="example.com")
    assert len(found) == 1 and found[0].startswith("BACKUP_ROUTE_TAG: must be a tag name")


def test_a_plain_route_tag_passes() -> None:
    assert problems(BACKUP_ROUTE_TAG="backup-alerts-to", BACKUP_ROUTE_TAG_DOMAINS="example.com") == []


def test_test_email_needs_the_mailer_only_not_the_ledger_or_the_vaults() -> None:
    mail_only = {"BACKUP_MAILER": "outbox", "BACKUP_MAIL_RECIPIENTS": "oncall@example.com", "BACKUP_VAULT_IDS": "rsv-prod"}
    settings = Settings.from_environ(mail_only, TEST_EMAIL)  # no table, a bad vault id, jobs source arm with no vaults
    assert settings.mail_recipients == ("oncall@example.com",)
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ(mail_only, POLL)
    assert {p.split(":")[0] for p in caught.value.problems} == {"BACKUP_VAULT_IDS", "BACKUP_TABLE_ENDPOINT"}


def test_the_relay_is_not_failed_by_mail_settings_it_never_uses() -> None:
    relay_only = {
        "BACKUP_EVENTGRID_TOPIC_ENDPOINT": "https://egt.westeurope-1.eventgrid.azure.net/api/events",
        "BACKUP_MAIL_SENDER": "notanemail",
        "BACKUP_MAIL_RECIPIENTS": "",
        "BACKUP_POLL_SCHEDULE": "*/15 * * * *",
    }
    assert Settings.from_environ(relay_only, RELAY).eventgrid_topic_endpoint.startswith("https://egt.")
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({**relay_only, "BACKUP_RELAY_AUDIENCE": "not an audience"}, RELAY)
    assert [p.split(":")[0] for p in caught.value.problems] == ["BACKUP_RELAY_AUDIENCE"]


def test_the_test_email_still_needs_its_recipients() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({"BACKUP_MAILER": "outbox"}, TEST_EMAIL)
    assert [p.split(":")[0] for p in caught.value.problems] == ["BACKUP_MAIL_RECIPIENTS"]


def test_one_problem_is_one_setting_not_settings() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_environ({**LOCAL, "BACKUP_TABLE_NAME": "1-bad"})
    assert str(caught.value).startswith("1 setting is missing or invalid:")


@pytest.mark.parametrize(
    "text", ["UseDevelopmentStorage=true", "AccountName=st;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:1/st"]
)
def test_storage_connection_strings_are_accepted(text: str) -> None:
    assert problems(BACKUP_TABLE_CONNECTION_STRING=text) == []


def test_a_broken_storage_connection_string_is_named_without_echoing_it() -> None:
    (problem,) = problems(BACKUP_TABLE_CONNECTION_STRING="AccountName=st;SecretPart=s3cr3t")
    assert problem.startswith("BACKUP_TABLE_CONNECTION_STRING: is not a storage connection string") and "s3cr3t" not in problem


def test_a_route_to_something_that_is_not_an_address_is_refused() -> None:
    (problem,) = problems(BACKUP_ROUTES="vault:rsv-prod=ops@contoso.com,ops@localhost")
    assert problem.startswith("BACKUP_ROUTES: 'ops@localhost' is not an email address")
    assert problems(BACKUP_ROUTES="vault:rsv-prod=ops@contoso.com;rg:rg-sql=dba@contoso.com") == []


def test_a_misspelt_setting_is_named_with_the_one_it_resembles() -> None:
    (problem,) = problems(BACKUP_VAULT_ID="/subscriptions/x")
    assert problem == "BACKUP_VAULT_ID: not a setting, so it would be ignored; did you mean BACKUP_VAULT_IDS?"


def test_azd_outputs_and_other_names_are_not_taken_for_misspelt_settings() -> None:
    assert problems(BACKUP_RELAY_APP_OBJECT_ID="x", BACKUP_EVENTS_IDENTITY_CLIENT_ID="y", BACKUP_CUSTOM_EMAIL_DOMAIN_ID="") == []


def test_a_misspelt_mail_setting_does_not_stop_the_relay() -> None:
    Settings.from_environ({"BACKUP_MAILER_SENDER": "x@example.com"}, RELAY)
    with pytest.raises(ConfigurationError):
        Settings.from_environ({**LOCAL, "BACKUP_MAILER_SENDER": "x@example.com"}, TEST_EMAIL)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        (
            {"BACKUP_TABLE_ENDPOINT": "https://st.table.core.windows.net"},
            "BACKUP_TABLE_ENDPOINT: set it or BACKUP_TABLE_CONNECTION_STRING, not both",
        ),
        (
            {
                "BACKUP_ACS_ENDPOINT": "https://acs.communication.azure.com",
                "BACKUP_ACS_CONNECTION_STRING": "endpoint=https://a/;accesskey=k",
            },
            "BACKUP_ACS_CONNECTION_STRING: set it or BACKUP_ACS_ENDPOINT, not both",
        ),
        ({"BACKUP_JOBS_FILES": "jobs.json"}, "BACKUP_JOBS_FILES: is set but BACKUP_JOBS_SOURCE is sample"),
        ({"BACKUP_ROUTE_TAG_DOMAINS": "contoso.com"}, "BACKUP_ROUTE_TAG_DOMAINS: is set but BACKUP_ROUTE_TAG is not"),
    ],
)
def test_a_setting_that_would_be_silently_ignored_is_refused(values: dict[str, str], problem: str) -> None:
    assert any(p.startswith(problem) for p in problems(**values)), problems(**values)
