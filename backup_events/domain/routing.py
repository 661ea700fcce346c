"""Pure: who gets the email for a vault. Rules from ``BACKUP_ROUTES``, else the default recipients.

A rule is ``<scope>:<value>=<address>[,<address>…]``; rules are separated by ``;``. Scopes: ``vault`` (vault
name), ``rg`` (the vault's resource group), ``sub`` (subscription id). Every matching rule adds its addresses;
when none matches, ``BACKUP_MAIL_RECIPIENTS`` gets the email.
"""

from __future__ import annotations

from dataclasses import dataclass

from backup_events.domain.ids import parse_vault_id

SCOPES = ("vault", "rg", "sub")


@dataclass(frozen=True)
class Route:
    """Emails about vaults matching ``scope``/``value`` go to ``recipients``."""

    scope: str
    value: str
    recipients: tuple[str, ...]

    def matches(self, vault_id: str) -> bool:
        parts = parse_vault_id(vault_id)
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
