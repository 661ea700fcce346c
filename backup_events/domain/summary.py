"""Pure: the daily summary of one recipient group, from the incidents and the run rows the app already keeps.

Nothing is read from Azure for it: what is failing now (oldest first, with the data at risk since the item's last good
recovery point), what failed and recovered in the window, missed backups, blind spots, failed restores, each vault's
jobs and success rate (the latest run's counts over its lookback window), and the error codes that hit most items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from backup_events.domain.exposure import MISSED_CODE
from backup_events.domain.incidents import NONE, Incident
from backup_events.domain.operations import OperationKind, is_ongoing, kind_of
from backup_events.domain.watch import VaultRun, is_blind

TOP_CODES = 5


@dataclass(frozen=True)
class Failing:
    """An open incident: since when, and the item's last good recovery point (None: unknown)."""

    incident: Incident
    age: timedelta
    last_good: datetime | None
    at_risk: timedelta | None  # now minus last_good: the data a restore today would lose


@dataclass(frozen=True)
class VaultDay:
    """One vault's jobs over the latest run's window, and how many runs could not read it."""

    vault_id: str
    vault_name: str
    succeeded: int
    failed: int
    window_hours: int
    runs: int
    unreadable_runs: int
    last_error: str = ""

    @property
    def jobs(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        """Succeeded of finished jobs, 0-100; None when no job finished (or the vault was never read)."""
        return 100.0 * self.succeeded / self.jobs if self.jobs else None


@dataclass(frozen=True)
class TopCode:
    code: str
    title: str
    items: int  # incidents (items) seen with it in the window
    failures: int  # the failures those incidents counted


@dataclass(frozen=True)
class Summary:
    since: datetime
    until: datetime
    failing: tuple[Failing, ...]
    recovered: tuple[Incident, ...]
    missed: tuple[Failing, ...]
    blind: tuple[Incident, ...]
    restores: tuple[Incident, ...]
    vaults: tuple[VaultDay, ...]
    codes: tuple[TopCode, ...]
    polled: bool = True  # did any poll of the estate record a run in the window (whoever this summary is for)?

    @property
    def jobs(self) -> int:
        return sum(v.jobs for v in self.vaults)

    @property
    def succeeded(self) -> int:
        return sum(v.succeeded for v in self.vaults)

    @property
    def success_rate(self) -> float | None:
        return 100.0 * self.succeeded / self.jobs if self.jobs else None

    @property
    def all_fine(self) -> bool:
        """Nothing failing, missed, blind or failed; every vault read by every run; and the estate was polled."""
        troubles = self.failing or self.missed or self.blind or self.restores  # recoveries are history, not trouble
        return not troubles and self.polled and all(v.unreadable_runs == 0 for v in self.vaults)


def vault_days(runs: Sequence[VaultRun]) -> tuple[VaultDay, ...]:
    """Per vault: the latest readable run's counts (its window), the runs and the unreadable runs; worst first."""
    by_vault: dict[str, list[VaultRun]] = {}
    for run in sorted(runs, key=lambda r: r.at):
        by_vault.setdefault(run.vault_id.rstrip("/").casefold(), []).append(run)
    days = []
    for vault_runs in by_vault.values():
        readable = [r for r in vault_runs if r.readable]
        latest = readable[-1] if readable else vault_runs[-1]
        unreadable = [r for r in vault_runs if not r.readable]
        days.append(
            VaultDay(
                vault_id=latest.vault_id,
                vault_name=latest.vault_name,
                succeeded=latest.succeeded if readable else 0,
                failed=latest.failed if readable else 0,
                window_hours=latest.window_hours,
                runs=len(vault_runs),
                unreadable_runs=len(unreadable),
                last_error=unreadable[-1].error if unreadable else "",
            )
        )
    rate = {id(d): d.success_rate for d in days}
    return tuple(sorted(days, key=lambda d: (-d.unreadable_runs, 101.0 if rate[id(d)] is None else rate[id(d)], d.vault_name)))


def summarise(
    incidents: Sequence[Incident],
    runs: Sequence[VaultRun],
    *,
    now: datetime,
    window: timedelta,
    last_good: Callable[[Incident], datetime | None],
    polled: bool | None = None,
) -> Summary:
    """The summary of ``window`` up to ``now`` for these incidents and runs (one recipient group's); ``polled`` says
    whether the estate was polled at all in the window (default: whether ``runs`` hold one)."""
    since = now - window

    def failing(incident: Incident) -> Failing:
        good = last_good(incident)
        return Failing(incident, now - incident.opened_at, good, now - good if good is not None and good <= now else None)

    ongoing = [i for i in incidents if not is_blind(i) and is_ongoing(i.operation)]
    open_now = [i for i in ongoing if i.is_open]
    by_age = sorted(open_now, key=lambda i: (i.opened_at, i.item.casefold()))
    recovered = sorted(
        (i for i in ongoing if not i.is_open and i.closed_at is not None and i.closed_at >= since),
        key=lambda i: i.closed_at or now,
    )
    one_offs = [i for i in incidents if not is_blind(i) and not is_ongoing(i.operation) and i.opened_at >= since]
    restores = sorted((i for i in one_offs if kind_of(i.operation) is OperationKind.RESTORE), key=lambda i: i.opened_at)
    blind = sorted((i for i in incidents if is_blind(i) and i.is_open and i.opened_email != NONE), key=lambda i: i.opened_at)
    seen = [i for i in incidents if not is_blind(i) and i.code != MISSED_CODE and i.last_seen >= since]
    items, failures = Counter(i.code for i in seen), Counter[str]()
    titles: dict[str, str] = {}
    for incident in seen:
        failures[incident.code] += incident.count
        titles.setdefault(incident.code, incident.title)
    codes = tuple(
        TopCode(code, titles[code], n, failures[code])
        for code, n in sorted(items.items(), key=lambda kv: (-kv[1], -failures[kv[0]], kv[0]))[:TOP_CODES]
    )
    return Summary(
        since=since,
        until=now,
        failing=tuple(failing(i) for i in by_age if i.code != MISSED_CODE),
        recovered=tuple(recovered),
        missed=tuple(failing(i) for i in by_age if i.code == MISSED_CODE),
        blind=tuple(blind),
        restores=tuple(restores),
        vaults=vault_days([r for r in runs if r.at >= since]),
        codes=codes,
        polled=any(r.at >= since for r in runs) if polled is None else polled,
    )
