"""Routing: who hears about which vault."""

from __future__ import annotations

from backup_events.domain.routing import parse_routes, recipients_for

SUB_A, SUB_B = "3b1f9c2e-5a7d-4e21-9c0b-7d2e4f6a8b10", "8e4d2a17-0c9b-4f3e-a1d6-2b5c7e9f0a34"
PROD = f"/subscriptions/{SUB_A}/resourceGroups/RG-SQL/providers/Microsoft.RecoveryServices/vaults/rsv-prod"
OTHER = f"/subscriptions/{SUB_B}/resourceGroups/rg-web/providers/Microsoft.RecoveryServices/vaults/rsv-web"
DEFAULT = ("oncall@contoso.com",)


def test_matching_rules_add_their_addresses_once_each() -> None:
    routes, problems = parse_routes(
        f"rg:rg-sql=dba@contoso.com ; vault:RSV-PROD=ops@contoso.com,dba@contoso.com; sub:{SUB_B}=web@contoso.com"
    )
    assert problems == []
    assert recipients_for(PROD, routes, DEFAULT) == ("dba@contoso.com", "ops@contoso.com")
    assert recipients_for(OTHER, routes, DEFAULT) == ("web@contoso.com",)


def test_no_matching_rule_means_the_default_recipients() -> None:
    routes, _ = parse_routes("vault:rsv-other=x@contoso.com")
    assert recipients_for(PROD, routes, DEFAULT) == DEFAULT
    assert recipients_for(PROD, (), DEFAULT) == DEFAULT


def test_unreadable_rules_are_named() -> None:
    _, problems = parse_routes("tag:owner=x@contoso.com;vault:=x@contoso.com;rg:rg=not-an-address;vault:v=")
    assert len(problems) == 4
    assert all("is not <vault|rg|sub>:<name>=<address>" in p for p in problems)


def test_a_routing_tag_yields_only_whole_addresses_in_the_allowed_domains() -> None:
    from backup_events.domain.routing import tag_addresses

    value = "Team@Contoso.com; lead@contoso.com,lead@contoso.com x@evil.example y@contoso.com.evil.example <z@contoso.com> word"
    assert tag_addresses(value, ("contoso.com",)) == ("team@contoso.com", "lead@contoso.com")
    assert tag_addresses(value, ()) == ()


def test_a_rule_may_name_its_groups_language_and_time_zone_after_the_addresses() -> None:
    from backup_events.domain.routing import reader_for

    routes, problems = parse_routes(
        "rg:rg-sql=dba@contoso.jp,dba2@contoso.jp lang=ja tz=Asia/Tokyo;vault:rsv-web=web@contoso.com tz=Europe/Berlin"
    )
    assert problems == []
    assert routes[0].recipients == ("dba@contoso.jp", "dba2@contoso.jp")
    assert (routes[0].language, routes[0].zone) == ("ja", "Asia/Tokyo")
    assert reader_for(PROD, routes, "en", "UTC") == ("ja", "Asia/Tokyo")
    assert reader_for(OTHER, routes, "en", "UTC") == ("en", "Europe/Berlin")  # no language named: the default's
    assert reader_for(OTHER.replace("rsv-web", "rsv-x"), routes, "en", "UTC") == ("en", "UTC")  # no rule matches


def test_a_rule_without_language_or_zone_reads_as_before_and_takes_the_defaults() -> None:
    from backup_events.domain.routing import Route, reader_for

    routes, problems = parse_routes("rg:rg-sql=dba@contoso.com;vault:rsv-prod=ops@contoso.com lang=ja")
    assert problems == []
    assert routes[0] == Route("rg", "rg-sql", ("dba@contoso.com",))
    assert reader_for(PROD, routes, "en", "Asia/Tokyo") == ("ja", "Asia/Tokyo")  # the first rule naming each decides


def test_an_unknown_language_or_zone_in_a_rule_is_named() -> None:
    _, problems = parse_routes("rg:a=x@contoso.com lang=fr;rg:b=x@contoso.com tz=Tokyo;rg:c=x@contoso.com tz=")
    assert problems == [
        "rule 'rg:a=x@contoso.com lang=fr': language 'fr' is not one of en, ja",
        "rule 'rg:b=x@contoso.com tz=Tokyo': time zone 'Tokyo' is not an IANA name such as Asia/Tokyo or UTC",
        "rule 'rg:c=x@contoso.com tz=': lang= or tz= without a value",
    ]
