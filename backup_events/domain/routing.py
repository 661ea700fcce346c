"""Pure: who gets the email for a vault. Rules from ``BACKUP_ROUTES``, else the default recipients.

A rule is ``<scope>:<value>=<address>[,<address>…]``; rules are separated by ``;``. Scopes: ``vault`` (vault
name), ``rg`` (the vault's resource group), ``sub`` (subscription id). Every matching rule adds its addresses;
when none matches, ``BACKUP_MAIL_RECIPIENTS`` gets the email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backup_events.domain.ids import parse_vault_id
from backup_events.errors import MalformedInputError

SCOPES = ("vault", "rg", "sub")


@dataclass(frozen=True)
class Route:
    """Emails about vaults matching ``scope``/``value`` go to ``recipients``."""

    scope: str
    value: str
    recipients: tuple[str, ...]

    def matches(self, vault_id: str) -> bool:
        try:
            parts = parse_vault_id(vault_id)
        except MalformedInputError:  # not a vault: a blind spot of a subscription or of every vault
            return False
        actual = {"vault": parts["vault_name"], "rg": parts["resource_group"], "sub": parts["subscription_id"]}[self.scope]
        return actual.casefold() == self.value.casefold()


def parse_routes(text: str) -> tuple[tuple[Route, ...], list[str]]:
    """The rules in ``text``, and one problem line per rule that can't be read."""
    routes, problems = [], []
    for rule in (r.strip() for r in text.split(";")):
        if not rule:
            continue
        target, _, addresses = rule.partition("=")
        scope, _, value = target.strip().partition(":")
        recipients = tuple(a.strip() for a in addresses.split(",") if a.strip())
        if scope.strip() not in SCOPES or not value.strip() or not recipients or not all("@" in a for a in recipients):
            problems.append(f"rule {rule!r} is not <{'|'.join(SCOPES)}>:<name>=<address>[,<address>]")
            continue
        routes.append(Route(scope.strip(), value.strip(), recipients))
    return tuple(routes), problems


def recipients_for(vault_id: str, routes: tuple[Route, ...], default: tuple[str, ...]) -> tuple[str, ...]:
    """Everyone a matching rule names (in rule order, once each), or the default list."""
    routed = [address for route in routes if route.matches(vault_id) for address in route.recipients]
    return tuple(dict.fromkeys(routed)) or default


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
