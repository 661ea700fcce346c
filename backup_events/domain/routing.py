"""Pure: who gets the email for a vault, and in which language and time zone. Rules from ``BACKUP_ROUTES``, else
the default recipients.

A rule is ``<scope>:<value>=<address>[,<address>…][ lang=<language>][ tz=<IANA zone>]``; rules are separated by
``;``. Scopes: ``vault`` (vault name), ``rg`` (the vault's resource group), ``sub`` (subscription id). Every matching
rule adds its addresses; when none matches, ``BACKUP_MAIL_RECIPIENTS`` gets the email. ``lang=`` and ``tz=`` (after
the addresses, separated by spaces) say how that group reads its emails, e.g.
``rg:rg-db-tokyo=dba@contoso.jp lang=ja tz=Asia/Tokyo``; without them the group reads ``BACKUP_MAIL_LANGUAGE`` and
``BACKUP_TIMEZONE``. When several matching rules name one, the first rule that names it decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backup_events.domain.ids import parse_vault_id
from backup_events.domain.model import LANGUAGES
from backup_events.errors import MalformedInputError

SCOPES = ("vault", "rg", "sub")
_OPTION = re.compile(r"(?:^|\s)(lang|tz)=(\S*)")


@dataclass(frozen=True)
class Route:
    """Emails about vaults matching ``scope``/``value`` go to ``recipients``, in ``language`` and time ``zone``
    ("" for each: the defaults)."""

    scope: str
    value: str
    recipients: tuple[str, ...]
    language: str = ""
    zone: str = ""

    def matches(self, vault_id: str) -> bool:
        try:
            parts = parse_vault_id(vault_id)
        except MalformedInputError:  # not a vault: a blind spot of a subscription or of every vault
            return False
        actual = {"vault": parts["vault_name"], "rg": parts["resource_group"], "sub": parts["subscription_id"]}[self.scope]
        return actual.casefold() == self.value.casefold()


def language_problem(language: str) -> str:
    """Why ``language`` is not one the emails are written in ("" when it is)."""
    return "" if language in LANGUAGES else f"language {language!r} is not one of {', '.join(LANGUAGES)}"


def zone_problem(zone: str) -> str:
    """Why ``zone`` is not an IANA time zone name such as Asia/Tokyo ("" when it is)."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"time zone {zone!r} is not an IANA name such as Asia/Tokyo or UTC"
    return ""


def parse_routes(text: str) -> tuple[tuple[Route, ...], list[str]]:
    """The rules in ``text``, and one problem line per rule that can't be read."""
    routes, problems = [], []
    for rule in (r.strip() for r in text.split(";")):
        if not rule:
            continue
        target, _, rest = rule.partition("=")
        options = dict(_OPTION.findall(rest))
        addresses = _OPTION.sub(" ", rest)
        scope, _, value = target.strip().partition(":")
        recipients = tuple(a.strip() for a in addresses.split(",") if a.strip())
        if scope.strip() not in SCOPES or not value.strip() or not recipients or not all("@" in a for a in recipients):
            problems.append(
                f"rule {rule!r} is not <{'|'.join(SCOPES)}>:<name>=<address>[,<address>][ lang=<language>][ tz=<zone>]"
            )
            continue
        language, zone = options.get("lang", ""), options.get("tz", "")
        wrong = [p for p in (language and language_problem(language), zone and zone_problem(zone)) if p]
        if "lang" in options and not language or "tz" in options and not zone:
            wrong.append("lang= or tz= without a value")
        if wrong:
            problems.append(f"rule {rule!r}: {'; '.join(wrong)}")
            continue
        routes.append(Route(scope.strip(), value.strip(), recipients, language, zone))
    return tuple(routes), problems


def recipients_for(vault_id: str, routes: tuple[Route, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    """Everyone a matching rule names (in rule order, once each), or the default list."""
    routed = [address for route in routes if route.matches(vault_id) for address in route.recipients]
    return tuple(dict.fromkeys(routed)) or default


def reader_for(vault_id: str, routes: tuple[Route, ...], language: str, zone: str) -> tuple[str, str]:
    """The language and time zone of the group that reads about this vault: the first matching rule that names
    each, else ``language`` and ``zone`` (the settings' defaults)."""
    matching = [route for route in routes if route.matches(vault_id)]
    chosen_language = next((r.language for r in matching if r.language), language)
    return chosen_language, next((r.zone for r in matching if r.zone), zone)


_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?P<domain>[A-Za-z0-9.-]+)")


def tag_addresses(value: str, domains: tuple[str, ...]) -> tuple[str, ...]:
    """The addresses in a routing tag's value that may receive email: whole addresses in one of ``domains``.

    Anyone who can tag a VM can write this value, so anything else in it (a stray word, an address elsewhere) is
    ignored: a tag can add an on-call address of your own domains, never send your alerts outside them.
    """
    allowed = {d.casefold() for d in domains}
    found = []
    for token in re.split(r"[,;\s]+", value):
        match = _ADDRESS.fullmatch(token.strip())
        if match and match["domain"].casefold() in allowed and token.strip().casefold() not in found:
            found.append(token.strip().casefold())
    return tuple(found)
