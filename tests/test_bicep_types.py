"""Every ``resource`` in infra/ checked against the Bicep type data Microsoft publishes, without a Bicep compiler.

The type data is what the Bicep compiler itself loads: ``generated/<provider>/<namespace>/<api-version>/types.json``
from Azure/bicep-types-az (and, for ``extension microsoftGraphV1``, from microsoftgraph/msgraph-bicep-types),
vendored verbatim under tests/data/bicep-types/ for the type@versions infra/ uses (PROVENANCE.md there, and
extract.py to refresh it). The Bicep is parsed with pycep, the parser checkov uses (same pinned version).

For each resource declaration the check asks: does the type@version exist; does every property the body sets exist
on the type, recursively into object literals and arrays of them, with a compatible kind (string, int, bool, object,
array; a string literal must be one of the allowed values when the type is a closed union of literals); are the
required properties set; is no read-only property set. Values the parser cannot type (a resource's output, a
function call other than a few string-valued ones, a loop variable) are not judged; parameters count with their
declared type, and variables are looked through. ``test_the_check_fails_on_*`` show the check is not vacuous.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser
from pycep.transformer import BicepElement

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
DATA = ROOT / "tests" / "data" / "bicep-types"

# Flags of a property in bicep-types (bicep-types/src/bicep-types/src/types.ts, ObjectTypePropertyFlags).
REQUIRED, READ_ONLY = 1, 2
# Keys Bicep itself adds to every resource body; they are not in the type data.
BICEP_KEYS = {"parent", "scope", "dependsOn"}
# Functions whose result is always a string (the rest are not judged).
STRING_FUNCTIONS = {
    "concat_string", "format", "guid", "join", "resourceId", "subscriptionResourceId", "string", "toLower", "toUpper",
    "uniqueString", "replace", "substring", "trim", "extensionResourceId", "tenantResourceId",
}  # fmt: skip
_EXTENSION = re.compile(r"^extension (\w+)[ \t]*$", re.M)


@cache
def _parser() -> BicepParser:
    return BicepParser()


@cache
def _parse(text: str) -> dict[str, Any]:
    """pycep's JSON for ``text``. pycep (as checkov pins it) predates ``extension``: that line is blanked first."""
    parsed = _parser().parse(text=_EXTENSION.sub(lambda m: " " * len(m.group(0)), text))
    return dict(parsed)


@cache
def _index() -> dict[str, str]:
    resources = json.loads((DATA / "index.json").read_text(encoding="utf-8"))["resources"]
    return {key.lower(): value["$ref"] for key, value in resources.items()}


@cache
def _types(relative: str) -> list[dict[str, Any]]:
    types: list[dict[str, Any]] = json.loads((DATA / relative).read_text(encoding="utf-8"))
    return types


@dataclass
class _Context:
    file: str
    types: list[dict[str, Any]]
    params: dict[str, str]
    variables: dict[str, Any]
    errors: list[str] = field(default_factory=list)

    def node(self, ref: dict[str, str] | str) -> dict[str, Any]:
        text = ref["$ref"] if isinstance(ref, dict) else ref
        return self.types[int(text.rsplit("/", 1)[1])]


def _unwrap(config: dict[str, Any]) -> dict[str, Any]:
    """The body of a resource, through ``if (...)`` and ``[for ...]``."""
    while isinstance(config, dict) and "config" in config and set(config) <= {"condition", "config", "loop_type"}:
        config = config["config"]
    return config


def _candidates(value: Any, context: _Context, depth: int = 0) -> list[Any]:
    """What ``value`` may be: itself, a variable's value, both branches of ``a ? b : c``; ``...`` when unknown."""
    if depth > 10:
        return [...]
    if isinstance(value, BicepElement):
        name = str(value)
        if name in context.params:
            return [("param", context.params[name])]
        if name in context.variables:
            return _candidates(context.variables[name], context, depth + 1)
        return [...]  # a resource or module symbol, a loop variable
    if isinstance(value, dict) and set(value) == {"operator"} and value["operator"].get("type") == "conditional":
        operands = value["operator"]["operands"]
        return [
            *_candidates(operands["true_value"], context, depth + 1),
            *_candidates(operands["false_value"], context, depth + 1),
        ]
    if isinstance(value, dict) and set(value) == {"function"} and value["function"].get("type") == "concat":
        parts = [_candidates(arg, context, depth + 1) for arg in value["function"].get("parameters", {}).values()]
        if all(len(part) == 1 and isinstance(part[0], list) for part in parts):
            return [[item for part in parts for item in part[0]]]  # concat of arrays: one array of all their items
        return [...]
    if isinstance(value, dict) and set(value) == {"function"}:
        return [("param", "string")] if value["function"].get("type") in STRING_FUNCTIONS else [...]
    if isinstance(value, dict) and set(value) == {"operator"}:
        return [...]
    if isinstance(value, dict) and "loop_type" in value and "config" in value:
        return [[value["config"]]]  # an array of whatever the loop yields
    return [value]


def _kind(value: Any) -> str:
    if isinstance(value, tuple):
        return str({"secureString": "string", "secureObject": "object"}.get(value[1], value[1]))
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else "unknown"


_KIND_OF_TYPE = {"StringType": "string", "StringLiteralType": "string", "IntegerType": "int", "BooleanType": "bool",
                 "ObjectType": "object", "DiscriminatedObjectType": "object", "ArrayType": "array"}  # fmt: skip


def _check(value: Any, ref: dict[str, str], where: str, context: _Context) -> list[str]:
    """Errors of ``value`` against the type at ``ref`` (every candidate of the value must fit)."""
    errors: list[str] = []
    for candidate in _candidates(value, context):
        if candidate is ...:
            continue
        errors += _check_one(candidate, context.node(ref), where, context)
    return errors


def _check_one(value: Any, node: dict[str, Any], where: str, context: _Context) -> list[str]:
    kind, type_kind = _kind(value), node["$type"]
    if type_kind == "AnyType" or kind == "null":
        return []
    if type_kind == "UnionType":
        literals, attempts = [], []
        for element in node["elements"]:
            errors = _check_one(value, context.node(element), where, context)
            if not errors:
                return []
            attempts.append(errors)
            member = context.node(element)
            if member["$type"] == "StringLiteralType":
                literals.append(member["value"])
        if literals and kind == "string" and len(literals) == len(node["elements"]):
            return [f"{where}: {value!r} is not one of {literals}"]
        return min(attempts, key=len)
    expected = _KIND_OF_TYPE.get(type_kind)
    if expected is None:
        return []  # a type the check does not model (e.g. a resource function): not judged
    if kind != expected:
        return [f"{where}: a {kind} where the type wants a {expected} ({node.get('name', type_kind)})"]
    if type_kind == "StringLiteralType" and isinstance(value, str) and "${" not in value and value != node["value"]:
        return [f"{where}: {value!r} is not {node['value']!r}"]
    if type_kind == "ArrayType" and isinstance(value, list):
        return [e for i, item in enumerate(value) for e in _check(item, node["itemType"], f"{where}[{i}]", context)]
    if type_kind in ("ObjectType", "DiscriminatedObjectType") and isinstance(value, dict):
        return _check_object(value, node, where, context, required=True)
    return []


def _object_properties(
    value: dict[str, Any], node: dict[str, Any], where: str, context: _Context
) -> tuple[dict[str, Any], list[str]]:
    if node["$type"] == "ObjectType":
        return dict(node.get("properties", {})), []
    properties = dict(node.get("baseProperties", {}))
    discriminator = node["discriminator"]
    chosen = value.get(discriminator)
    if isinstance(chosen, str) and not isinstance(chosen, BicepElement) and "${" not in chosen:
        if chosen not in node["elements"]:
            return properties, [f"{where}.{discriminator}: {chosen!r} is not one of {sorted(node['elements'])}"]
        properties |= context.node(node["elements"][chosen]).get("properties", {})
    else:  # not a literal: any element's properties may be meant
        for element in node["elements"].values():
            properties |= context.node(element).get("properties", {})
    return properties, []


def _check_object(value: dict[str, Any], node: dict[str, Any], where: str, context: _Context, *, required: bool) -> list[str]:
    properties, errors = _object_properties(value, node, where, context)
    additional = node.get("additionalProperties")
    for key, item in value.items():
        if key == "__child_resource__":
            continue
        path = f"{where}.{key}"
        if key not in properties:
            if additional is not None:
                errors += _check(item, additional, path, context)
                continue
            near = [name for name in properties if name.lower() == key.lower()]
            hint = f" (the type spells it {near[0]!r})" if near else f"; the type has {sorted(properties)}"
            errors.append(f"{path}: no such property on {node.get('name', 'the object')}{hint}")
            continue
        prop = properties[key]
        if prop.get("flags", 0) & READ_ONLY and not prop.get("flags", 0) & REQUIRED:
            errors.append(f"{path}: read-only on {node.get('name', 'the object')}; it cannot be set")
            continue
        errors += _check(item, prop["type"], path, context)
    if required:
        for name, prop in properties.items():
            if prop.get("flags", 0) & REQUIRED and name not in value:
                errors.append(f"{where}.{name}: required on {node.get('name', 'the object')}, not set")
    return errors


def check_bicep(text: str, file: str = "<inline>") -> list[str]:
    """Every error of the resource declarations in ``text`` against the vendored type data."""
    parsed = _parse(text)
    params = {name: attrs["type"] for name, attrs in parsed.get("parameters", {}).items()}
    variables = {name: attrs["value"] for name, attrs in parsed.get("variables", {}).items()}
    errors = []
    for symbol, resource in parsed.get("resources", {}).items():
        key = f"{resource['type']}@{resource['api_version']}"
        where = f"{file}: {symbol} ({key})"
        ref = _index().get(key.lower())
        if ref is None:
            known = sorted(k for k in _index() if k.startswith(resource["type"].lower() + "@"))
            errors.append(f"{where}: no such type@version in the vendored type data (vendored versions: {known or 'none'})")
            continue
        relative, _, _ = ref.partition("#")
        context = _Context(file, _types(relative), params, variables)
        resource_type = context.node(ref)
        assert resource_type["$type"] == "ResourceType", ref
        body_node = context.node(resource_type["body"])
        body = _unwrap(resource["config"])
        if not isinstance(body, dict):
            continue
        own = {k: v for k, v in body.items() if k not in BICEP_KEYS}
        if resource["existing"]:  # only the identifying keys may be set on an existing resource
            props = body_node.get("properties", {})
            for k in own:
                if k not in props:
                    errors.append(f"{where}.{k}: no such property on {body_node.get('name')}")
            continue
        errors += _check_object(own, body_node, where, context, required=True)
    return errors


BICEP_FILES = sorted(path.relative_to(INFRA).as_posix() for path in INFRA.rglob("*.bicep"))


@pytest.mark.parametrize("name", BICEP_FILES)
def test_every_resource_matches_the_published_types(name: str) -> None:
    text = (INFRA / name).read_text(encoding="utf-8")
    parsed = _parse(text)
    assert parsed.get("resources"), f"{name}: pycep found no resource (parse problem?)"
    errors = check_bicep(text, name)
    assert not errors, "\n".join(errors)


def test_every_type_at_version_in_infra_is_vendored_and_nothing_else() -> None:
    used = set()
    for name in BICEP_FILES:
        resources = _parse((INFRA / name).read_text(encoding="utf-8")).get("resources", {})
        used |= {f"{r['type']}@{r['api_version']}".lower() for r in resources.values()}
    assert used == set(_index()), f"vendor exactly what infra uses: missing {used - set(_index())}, extra {set(_index()) - used}"
    vendored = {p.relative_to(DATA).as_posix() for p in DATA.rglob("types.json")}
    referenced = {ref.partition("#")[0] for ref in _index().values()}
    assert vendored == referenced, (vendored - referenced, referenced - vendored)
    provenance = (DATA / "PROVENANCE.md").read_text(encoding="utf-8")
    for relative in referenced:
        assert f"generated/{relative}" in provenance, f"PROVENANCE.md does not list generated/{relative}"


def test_a_graph_file_declares_the_extension() -> None:
    for name in BICEP_FILES:
        text = (INFRA / name).read_text(encoding="utf-8")
        if "'Microsoft.Graph/" in text:
            assert _EXTENSION.findall(text) == ["microsoftGraphV1"], f"{name}: Graph resources need `extension microsoftGraphV1`"
            assert (INFRA / "bicepconfig.json").is_file()


# --- The check fails when it should -----------------------------------------------------------------------------

_STORAGE = """
param location string
resource storage 'Microsoft.Storage/storageAccounts@{version}' = {{
  name: 'stexample'
  location: location
  kind: 'StorageV2'
  sku: {{
    name: 'Standard_LRS'
  }}
  properties: {{
    {property}: 'TLS1_2'
  }}
}}
"""


def test_the_check_passes_a_correct_snippet() -> None:
    assert check_bicep(_STORAGE.format(version="2023-01-01", property="minimumTlsVersion")) == []


def test_the_check_fails_on_a_misspelt_property() -> None:
    errors = check_bicep(_STORAGE.format(version="2023-01-01", property="minimumTlsVerison"))
    assert len(errors) == 1 and "properties.minimumTlsVerison: no such property" in errors[0], errors


def test_the_check_fails_on_an_unknown_api_version() -> None:
    errors = check_bicep(_STORAGE.format(version="2023-01-32", property="minimumTlsVersion"))
    assert len(errors) == 1 and "no such type@version" in errors[0] and "2023-01-01" in errors[0], errors


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        # a value outside a closed enum
        ("properties: {\n    accessTier: 'Archive'\n  }", "is not one of"),
        # the wrong kind
        ("properties: {\n    allowSharedKeyAccess: 'false'\n  }", "a string where the type wants a bool"),
        # a read-only property
        ("properties: {\n    provisioningState: 'Succeeded'\n  }", "read-only"),
        # into an object: a misspelt nested key
        ("properties: {\n    networkAcls: {\n      defaultAction: 'Allow'\n      bypas: 'AzureServices'\n    }\n  }", "bypas"),
        # a required nested property missing (networkAcls.defaultAction)
        ("properties: {\n    networkAcls: {\n      bypass: 'AzureServices'\n    }\n  }", "defaultAction: required"),
        # a parameter of the wrong declared type
        ("properties: {\n    supportsHttpsTrafficOnly: location\n  }", "a string where the type wants a bool"),
    ],
)
def test_the_check_fails_on_other_mistakes(snippet: str, expected: str) -> None:
    text = f"""
param location string
resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {{
  name: 'stexample'
  location: location
  kind: 'StorageV2'
  sku: {{
    name: 'Standard_LRS'
  }}
  {snippet}
}}
"""
    errors = check_bicep(text)
    assert any(expected in e for e in errors), errors


def test_the_check_fails_on_a_missing_required_property_and_into_arrays() -> None:
    errors = check_bicep(
        """
resource group 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag'
  location: 'Global'
  properties: {
    groupShortName: 'ag'
    enabled: true
    webhookReceivers: [
      {
        name: 'relay'
        serviceUri: 'https://example.com'
        useAadAuth: true
        objectID: 'x'
      }
    ]
  }
}
resource sku 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: 'st'
  location: 'x'
  kind: 'StorageV2'
}
"""
    )
    assert any("webhookReceivers[0].objectID: no such property" in e and "'objectId'" in e for e in errors), errors
    assert any("sku (Microsoft.Storage/storageAccounts@2023-01-01).sku: required" in e for e in errors), errors
