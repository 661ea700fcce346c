"""The relay's input limits: JSON's (``read_body`` while parsing, ``parse_alert`` on parsed data) and the alert's fields."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from backup_events.errors import MalformedInputError
from backup_events.wire.alerts import parse_alert, read_body
from tests.conftest import load

SQL = "alert-sql-backup-failure.json"
SUB = "00000000-0000-0000-0000-000000000000"
ALERT_GUID = "632063ae-ef07-30d8-3908-fe306941000e"


def alert(**essentials: Any) -> dict[str, Any]:
    """The recorded SQL alert with some essentials replaced."""
    payload: dict[str, Any] = copy.deepcopy(load(SQL))
    payload["data"]["essentials"].update(essentials)
    return payload


def with_extra(value: Any) -> dict[str, Any]:
    """The recorded alert carrying ``value`` under customProperties (where any JSON may legally sit)."""
    payload = alert()
    payload["data"]["customProperties"] = {"extra": value}
    return payload


def body_with(raw_value: str) -> bytes:
    """The recorded alert as JSON text with ``raw_value`` spliced in verbatim as customProperties.extra."""
    text = json.dumps(alert())
    return text.replace('"customProperties": null', f'"customProperties": {{"extra": {raw_value}}}').encode()


def nested(depth: int) -> str:
    """JSON arrays nested ``depth`` deep."""
    return "[" * depth + "]" * depth


def vault_target(group: str, vault: str) -> list[str]:
    return [f"/subscriptions/{SUB}/resourcegroups/{group}/providers/microsoft.recoveryservices/vaults/{vault}"]


def refused(body: bytes) -> str:
    with pytest.raises(MalformedInputError) as caught:
        read_body(body)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def refused_alert(payload: Any) -> MalformedInputError:
    with pytest.raises(MalformedInputError) as caught:
        parse_alert(payload)
    assert "\n" not in str(caught.value)
    return caught.value


def test_the_splice_helper_reaches_the_document() -> None:
    assert read_body(body_with("[1, 2]"))["data"]["customProperties"] == {"extra": [1, 2]}


# --- nesting ------------------------------------------------------------------------------------------------------


def test_nesting_of_64_levels_is_read() -> None:
    # The alert object is level 1, data 2, customProperties 3: 61 arrays below them make 64.
    payload = read_body(body_with(nested(61)))
    assert parse_alert(payload).alert_id.endswith(ALERT_GUID)


def test_nesting_deeper_than_64_levels_is_refused() -> None:
    assert refused(body_with(nested(62))) == "JSON nested deeper than 64 levels"


def test_a_top_level_object_65_deep_is_refused_and_64_deep_is_only_not_an_alert() -> None:
    assert refused(("{" + '"a":{' * 64 + "}" * 65).encode()) == "JSON nested deeper than 64 levels"
    assert read_body(("{" + '"a":{' * 63 + "}" * 64).encode())


def test_very_deep_nesting_is_refused_before_the_parser_recurses() -> None:
    body = b"[" * 200_000  # json.loads alone would raise RecursionError: a 500, not a 400
    assert refused(body) == "JSON nested deeper than 64 levels"


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps("[" * 100),  # brackets inside a string are text
        json.dumps('\\"' + "{" * 100),  # an escaped quote does not end the string
        json.dumps("\\" + "[" * 100),  # nor does an escaped backslash start anything
    ],
)
def test_brackets_inside_strings_do_not_count(raw: str) -> None:
    assert read_body(body_with(raw))["data"]["customProperties"]["extra"] == json.loads(raw)


def test_an_escaped_backslash_ends_before_the_quote_so_the_brackets_after_count() -> None:
    assert refused(body_with('"\\\\", ' + nested(62))) == "JSON nested deeper than 64 levels"


def test_parsed_data_nested_too_deep_is_refused_for_the_trigger() -> None:
    deep: list[Any] = []
    for _ in range(61):
        deep = [deep]
    assert "nested deeper than 64" in str(refused_alert(with_extra(deep)))
    parse_alert(with_extra(deep[0]))


# --- numbers -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", ["9" * 100, "-" + "9" * 100, "1" + "0" * 99])
def test_integers_of_100_digits_are_read(literal: str) -> None:
    assert read_body(body_with(literal))["data"]["customProperties"]["extra"] == int(literal)


@pytest.mark.parametrize("literal", ["1" + "0" * 100, "-" + "9" * 101, "7" * 5000])
def test_integers_longer_than_100_digits_are_refused(literal: str) -> None:
    # 5000 digits would otherwise be Python's own ValueError (int max str digits): a 500, not a 400.
    assert refused(body_with(literal)) == "a JSON integer longer than 100 digits"


@pytest.mark.parametrize("literal", ["1e999", "-1e999", "0." + "1" * 200])
def test_numbers_out_of_range_or_absurdly_long_are_refused(literal: str) -> None:
    assert "a JSON number" in refused(body_with(literal))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused(literal: str) -> None:
    assert refused(body_with(literal)) == f"{literal} is not a JSON number"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 10**100, -(10**101)])
def test_parsed_data_with_such_numbers_is_refused_for_the_trigger(value: Any) -> None:
    refused_alert(with_extra([1, {"n": value}]))


def test_parsed_data_with_a_99_digit_integer_and_booleans_is_read() -> None:
    parse_alert(with_extra([10**99, True, False, None, 1.5]))


# --- lone surrogates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        r'"\ud800"',
        r'"abc\udfffdef"',
        r'"\ude00\ud83d"',  # a pair in the wrong order is two lone halves
        r'{"\udc00": 1}',  # in a key
        r'["ok", ["\udbff"]]',
    ],
)
def test_lone_surrogate_escapes_are_refused(raw: str) -> None:
    assert refused(body_with(raw)) == "a lone UTF-16 surrogate in a JSON string"


def test_a_lone_surrogate_in_an_essential_field_is_refused() -> None:
    body = json.dumps(alert(description="First full backup is missing")).replace("missing", "missing \\ud800").encode()
    assert refused(body) == "a lone UTF-16 surrogate in a JSON string"


def test_a_surrogate_pair_is_one_character_and_read() -> None:
    assert read_body(body_with(r'"\ud83d\ude00"'))["data"]["customProperties"]["extra"] == "\U0001f600"


def test_a_raw_encoded_surrogate_is_not_utf8_hence_not_json() -> None:
    assert refused(body_with('"x"').replace(b'"x"', b'"\xed\xa0\x80"')).startswith("body is not JSON")


@pytest.mark.parametrize("where", ["value", "key"])
def test_parsed_data_with_a_lone_surrogate_is_refused_for_the_trigger(where: str) -> None:
    extra = {"k": "\ud800"} if where == "value" else {"\udc00": "v"}
    assert str(refused_alert(with_extra(extra))) == "a lone UTF-16 surrogate in a JSON string"


# --- monitorCondition, alertContext ---------------------------------------------------------------------------------


@pytest.mark.parametrize("condition", ["Active", "Fire", "Fired!", "Closed", "0", "Resolved Fired"])
def test_a_condition_other_than_fired_or_resolved_is_refused(condition: str) -> None:
    error = refused_alert(alert(monitorCondition=condition))
    assert (error.field, str(error).split(" (field")[0]) == (
        "data.essentials.monitorCondition",
        "monitorCondition is neither Fired nor Resolved",
    )


@pytest.mark.parametrize(("given", "read"), [("Fired", "Fired"), ("Resolved", "Resolved"), ("resolved", "Resolved")])
def test_fired_and_resolved_are_read_in_their_canonical_spelling(given: str, read: str) -> None:
    assert parse_alert(alert(monitorCondition=given)).condition == read


@pytest.mark.parametrize("context", [[], ["Jobs"], "Jobs", 7, True, None])
def test_an_alert_context_that_is_not_an_object_is_refused(context: Any) -> None:
    payload = alert()
    payload["data"]["alertContext"] = context
    assert refused_alert(payload).field == "data.alertContext"


def test_an_alert_without_its_context_is_refused() -> None:
    payload = alert()
    del payload["data"]["alertContext"]
    assert str(refused_alert(payload)).startswith("missing data.alertContext")


# --- the alert id ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alert_id",
    [
        ALERT_GUID,
        f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/",
        f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/not-a-guid",
        f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{ALERT_GUID}",
        f"/subscriptions/{SUB}/providers/Microsoft.Insights/alerts/{ALERT_GUID}",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.AlertsManagement/alerts/{ALERT_GUID}",
        f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{ALERT_GUID}/extra",
        f"x/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{ALERT_GUID}",
        f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{ALERT_GUID}0",
        f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{{{ALERT_GUID}}}",
    ],
)
def test_an_alert_id_not_of_the_alerts_management_form_is_refused(alert_id: str) -> None:
    assert refused_alert(alert(alertId=alert_id)).field == "data.essentials.alertId"


def test_an_alert_id_in_any_casing_is_read() -> None:
    alert_id = f"/SUBSCRIPTIONS/{SUB}/providers/microsoft.alertsmanagement/Alerts/{ALERT_GUID.upper()}"
    assert parse_alert(alert(alertId=alert_id)).short_id == ALERT_GUID.upper()


# --- the vault id ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "vault"),
    [
        ("r" * 90, "rsv-prod-01"),
        ("a", "rsv-prod-01"),
        ("rg_backup.(prod)-1", "rsv-prod-01"),
        ("rg-ünïcödé-ß", "rsv-prod-01"),
        ("rg-backup", "v" * 50),
        ("rg-backup", "ab"),
        ("rg-backup", "RSV-Prod-1"),
    ],
)
def test_vault_ids_within_azures_naming_rules_are_read(group: str, vault: str) -> None:
    assert parse_alert(alert(alertTargetIDs=vault_target(group, vault))).vault_name == vault


@pytest.mark.parametrize(
    ("group", "vault", "says"),
    [
        ("r" * 91, "rsv-prod-01", "resource group"),
        ("rg-backup.", "rsv-prod-01", "resource group"),
        ("rg backup", "rsv-prod-01", "resource group"),
        ("rg!backup", "rsv-prod-01", "resource group"),
        ("rg%2fbackup", "rsv-prod-01", "resource group"),
        ("rg-backup", "v", "vault name"),
        ("rg-backup", "v" * 51, "vault name"),
        ("rg-backup", "1rsv", "vault name"),
        ("rg-backup", "-rsv", "vault name"),
        ("rg-backup", "rsv_prod", "vault name"),
        ("rg-backup", "rsv.prod", "vault name"),
        ("rg-backup", "rsv-prød", "vault name"),
    ],
)
def test_vault_ids_breaking_azures_naming_rules_are_refused(group: str, vault: str, says: str) -> None:
    error = refused_alert(alert(alertTargetIDs=vault_target(group, vault)))
    assert error.field == "data.essentials.alertTargetIDs"
    assert says in str(error)


# --- both paths ------------------------------------------------------------------------------------------------------


def test_the_recorded_alerts_pass_every_limit() -> None:
    for name in (SQL, "alert-vm-backup-failure.json", "alert-vm-backup-failure-resolved.json"):
        parse_alert(read_body(json.dumps(load(name)).encode()))
    parse_alert(read_body(json.dumps(load("alert-security-soft-delete-disabled.json")).encode()))
