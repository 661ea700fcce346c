"""Reading what an operator can export without deploying anything: JSON files of jobs and protected items.

Accepted, in any mix: ``az backup job list -o json`` (a JSON array), REST list pages (``{"value": [...]}``),
single jobs (a ``JobResource``, list or details form), and ``az backup item list -o json`` / REST pages of
protected items; the same of Backup vaults (``az dataprotection job list``, backup instances) and Resource Graph
answers (``{"data": [...]}``). Files are read as UTF-8, UTF-8 with a BOM, or UTF-16 (what Windows PowerShell's ``>`` writes).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backup_events.domain.ids import vault_of
from backup_events.errors import MalformedInputError
from backup_events.wire.jobs import vault_of_job

_BACKUP_INSTANCE = re.compile(r"/backupinstances/[^/]+/?$")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def read_text(path: Path) -> str:
    """A text file in UTF-8 (with or without BOM) or UTF-16 (BOM-detected); one clear error otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MalformedInputError(f"cannot read {path}: {exc.strerror}") from None
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise MalformedInputError(
            f"{path} is neither UTF-8 nor UTF-16 with a byte-order mark; save it as UTF-8 and try again"
        ) from None


def read_json(path: Path) -> Any:
    """The JSON document in ``path``; ``MalformedInputError`` says where it breaks."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise MalformedInputError(f"{path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def resources_in(document: Any) -> Iterator[Mapping[str, Any]]:
    """The ARM resources of a document: an array, a list page's ``value``, or one resource."""
    if isinstance(document, list):
        for element in document:
            yield from resources_in(element)
    elif isinstance(document, Mapping) and isinstance(document.get("value"), list) and "properties" not in document:
        yield from resources_in(document["value"])
    elif isinstance(document, Mapping) and isinstance(document.get("data"), list) and "properties" not in document:
        yield from resources_in(document["data"])  # a Resource Graph answer: its rows are resources
    elif isinstance(document, Mapping):
        yield document


def kind_of(resource: Mapping[str, Any]) -> str:
    """``job``, ``item`` (a protected item or a Backup vault's backup instance) or ``other``, by the ARM id."""
    resource_id = str(resource.get("id") or "").casefold()
    if "/backupjobs/" in resource_id:
        return "job"
    if "/protecteditems/" in resource_id or _BACKUP_INSTANCE.search(resource_id):
        return "item"
    return "other"


@dataclass
class Export:
    """Jobs and protected items from exported files, each job once: its final state, in its details form if exported."""

    jobs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    job_vaults: dict[str, str] = field(default_factory=dict)  # job id → vault id, both case-folded
    items: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    vaults: dict[str, str] = field(default_factory=dict)
    ignored: int = 0

    def add(self, document: Any) -> None:
        for resource in resources_in(document):
            kind = kind_of(resource)
            vault = vault_of_job(resource) if kind == "job" else vault_of(str(resource.get("id") or ""))
            if kind == "other" or vault is None or not isinstance(resource.get("properties"), Mapping):
                self.ignored += 1
                continue
            self.vaults.setdefault(vault.casefold(), vault)
            if kind == "item":
                self.items.setdefault(vault.casefold(), []).append(resource)
                continue
            key = str(resource["id"]).casefold()
            known = self.jobs.get(key)
            if known is None or _rank(resource) > _rank(known):
                self.jobs[key] = resource
                self.job_vaults[key] = vault.casefold()


_RUNNING = ("inprogress", "cancelling", "notstarted", "")


def _rank(job: Mapping[str, Any]) -> tuple[bool, bool]:
    """A job exported several times (InProgress, then Failed; listed, then read): the finished state wins, then details."""
    properties = job["properties"]
    finished = str(properties.get("status") or "").casefold() not in _RUNNING
    return finished, isinstance(properties.get("extendedInfo"), Mapping)


def load(paths: list[Path]) -> Export:
    """Every job and protected item in ``paths``."""
    export = Export()
    for path in paths:
        export.add(read_json(path))
    return export
