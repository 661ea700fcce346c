"""Pure: what a job was doing (backup, restore, configure backup, …), and how its failure is told.

Most failed jobs in the live service's recordings are restores, not backups (tests/data/recorded/,
PROVENANCE.md). A failed restore is a one-off: a person asked for it, a later good backup does not
fix it, and reminding about it or announcing its "recovery" would be noise. Only backups (and configuring
one, which a later good backup proves fixed) are ongoing: incidents that repeat, remind and recover.
"""

from __future__ import annotations

import enum
from collections.abc import Callable


class OperationKind(enum.StrEnum):
    """The kinds of job operation an operator can choose to be told about (``BACKUP_TELL_OPERATIONS``)."""

    BACKUP = "backup"
    RESTORE = "restore"
    CONFIGURE_BACKUP = "configure-backup"
    DELETE_BACKUP_DATA = "delete-backup-data"
    OTHER = "other"


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "translate this later"; mail.i18n extracts it
    """A message the emails translate (``label_of(op, gettext)``): the domain itself stays English and pure."""
    return message


_LABELS = {
    OperationKind.BACKUP: N_("Backup"),
    OperationKind.RESTORE: N_("Restore"),
    OperationKind.CONFIGURE_BACKUP: N_("Configure backup"),
    OperationKind.DELETE_BACKUP_DATA: N_("Delete backup data"),
}
_FAILED = {
    OperationKind.BACKUP: N_("Backup failed"),
    OperationKind.RESTORE: N_("Restore failed"),
    OperationKind.CONFIGURE_BACKUP: N_("Configure backup failed"),
    OperationKind.DELETE_BACKUP_DATA: N_("Delete backup data failed"),
}
_OTHER_FAILED = N_("%(operation)s failed")
ONGOING = frozenset({OperationKind.BACKUP, OperationKind.CONFIGURE_BACKUP})
"""Kinds whose failures are incidents that last until a good backup; every other kind is told once per job."""


def kind_of(operation: str) -> OperationKind:
    """``Backup (Log)`` → backup; ``Restore (Full)``, ``RestoreWithRehydrate``, ``CrossRegionRestore`` → restore."""
    folded = "".join(operation.split()).casefold()
    if not folded:  # incidents stored before operations were told apart, and missed backups, name none
        return OperationKind.BACKUP
    if "restore" in folded:
        return OperationKind.RESTORE
    if folded.startswith("backup"):
        return OperationKind.BACKUP
    if folded.startswith("configurebackup"):
        return OperationKind.CONFIGURE_BACKUP
    if folded.startswith("deletebackupdata"):
        return OperationKind.DELETE_BACKUP_DATA
    return OperationKind.OTHER


def is_ongoing(operation: str) -> bool:
    """Does a failure of this operation last until a good backup (True), or is it a one-off (False)?"""
    return kind_of(operation) in ONGOING


def label_of(operation: str, gettext: Callable[[str], str] = N_) -> str:
    """``Backup``, ``Restore`` (every restore kind), ``Configure backup``, ``Delete backup data``, else the operation;
    through ``gettext`` (an email's language) when given."""
    label = _LABELS.get(kind_of(operation))
    return gettext(label) if label else " ".join(operation.split())


def failed_label(operation: str, gettext: Callable[[str], str] = N_) -> str:
    """``Backup failed``, ``Restore failed``, ``Configure backup failed``, else ``<operation> failed``."""
    known = _FAILED.get(kind_of(operation))
    return gettext(known) if known else gettext(_OTHER_FAILED) % {"operation": " ".join(operation.split())}


def parse_kinds(value: str) -> tuple[frozenset[OperationKind], list[str]]:
    """``all`` or a comma-separated list of kinds; returns the kinds and the names it did not know."""
    if value.strip().casefold() in ("", "all"):
        return frozenset(OperationKind), []
    names = [part.strip().casefold() for part in value.split(",") if part.strip()]
    known = {kind.value: kind for kind in OperationKind}
    return frozenset(known[n] for n in names if n in known), [n for n in names if n not in known]
