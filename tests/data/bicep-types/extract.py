"""Vendor the Bicep type data for the resource types infra/ declares (tests/test_bicep_types.py reads it).

Run from the repository root, with local clones (or snapshots) of the two public type repositories:

    python tests/data/bicep-types/extract.py --az <path to Azure/bicep-types-az git dir> \
        --graph <path to microsoftgraph/msgraph-bicep-types git dir>

For every ``resource <symbol> '<type>@<version>'`` in infra/**/*.bicep it finds the ``types.json`` under
``generated/`` that declares that ResourceType and copies it **byte for byte** to the same relative path here. Then it
writes ``index.json`` in the format of the repositories' own ``generated/index.json`` (``resources``: type@version ->
``{"$ref": "<path>#/<n>"}``), restricted to the files copied. ``generated/index.json`` of Azure/bicep-types-az is
over 4 MiB, so the snapshot this was run on did not contain it: the script finds each file by reading the
ResourceType entries of ``generated/*/<namespace>/<version>/types.json`` instead, which is where that index points.

No file copied is over a few MB (the largest, Microsoft.Web 2024-04-01, is about 0.6 MB), so no file is trimmed:
every types.json here is verbatim. Files over LIMIT bytes would make the script stop rather than vendor them.
Microsoft.Graph types (``extension microsoftGraphV1``) come from msgraph-bicep-types, version GRAPH_VERSION.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
LIMIT = 4 * 1024 * 1024
GRAPH_VERSION = "1.0.0"  # the version bicepconfig.json pins: br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:1.0.0
_RESOURCE = re.compile(r"^resource \w+ '([^'@]+)@([^']+)'", re.M)


def used_types() -> set[tuple[str, str]]:
    used = set()
    for path in sorted((ROOT / "infra").rglob("*.bicep")):
        used |= {(t, v) for t, v in _RESOURCE.findall(path.read_text(encoding="utf-8"))}
    return used


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, capture_output=True).stdout


def resource_types(blob: bytes) -> dict[str, int]:
    return {t["name"].lower(): i for i, t in enumerate(json.loads(blob)) if t.get("$type") == "ResourceType"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--az", type=Path, required=True)
    parser.add_argument("--graph", type=Path, required=True)
    args = parser.parse_args()
    az_files = git(args.az, "ls-tree", "-r", "--name-only", "HEAD", "generated/").decode().split()
    index: dict[str, dict[str, str]] = {}
    copied: dict[str, tuple[str, str, int]] = {}  # relative path -> (repository, commit, size)
    for stale in HERE.rglob("types.json"):  # what infra no longer uses goes
        stale.unlink()
    for type_name, version in sorted(used_types()):
        namespace = type_name.split("/")[0].lower()
        if namespace == "microsoft.graph":
            repo, name = args.graph, "microsoftgraph/msgraph-bicep-types"
            candidates = [f"generated/microsoftgraph/microsoft.graph/{version}/{GRAPH_VERSION}/types.json"]
        else:
            repo, name = args.az, "Azure/bicep-types-az"
            candidates = [
                f
                for f in az_files
                if re.fullmatch(rf"generated/[^/]+/{re.escape(namespace)}/{re.escape(version)}/types\.json", f)
            ]
        key = f"{type_name}@{version}"
        for candidate in candidates:
            blob = git(repo, "show", f"HEAD:{candidate}")
            position = resource_types(blob).get(key.lower())
            if position is None:
                continue
            if len(blob) > LIMIT:
                raise SystemExit(f"{candidate} is {len(blob)} bytes: trim it to the reachable entries first")
            relative = candidate.removeprefix("generated/")
            (HERE / relative).parent.mkdir(parents=True, exist_ok=True)
            (HERE / relative).write_bytes(blob)
            commit = git(repo, "rev-parse", "HEAD").decode().strip()
            copied[relative] = (name, commit, len(blob))
            index[key] = {"$ref": f"{relative}#/{position}"}
            break
        else:
            print(f"not found in the type data: {key}")
    (HERE / "index.json").write_text(json.dumps({"resources": index}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for relative, (name, commit, size) in sorted(copied.items()):
        print(f"{name} {commit} generated/{relative} {size}")


if __name__ == "__main__":
    main()
