"""The schema frontend teams read: the committed SDL matches the code, and the code keeps the
public contract (/work/shared/design/api-contract.graphql)."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    EnumTypeDefinitionNode,
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    UnionTypeDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from graphql import build_schema as build_sdl_schema

from api.graphql.schema import build_schema
from api.settings import PROJECT_ROOT, Settings

SDL_FILE = PROJECT_ROOT / "api" / "schema.graphql"
CONTRACT = Path(os.environ.get("CLAIMSDB_API_CONTRACT", "/work/shared/design/api-contract.graphql"))

# What the contract names but later issues deliver, so may be missing for now. THIS LIST MUST
# SHRINK as those issues land: an entry whose type or field exists as the contract says makes
# test_contract_allowlist_has_no_stale_entries fail, so remove it then; anything missing that is
# not listed fails test_schema_keeps_the_contract. Entries are type names (the whole type) or
# Type.field, e.g. "Query.conflicts", "Claim.history", "Mutation", "CreateClaimInput",
# "ConflictPairConnection", "AuditEvent", "UserError".
#
# Empty: conflicts, the audit log, claim history and every mutation with its inputs and
# payloads had all landed (and matched the contract) when these tests were written.
NOT_YET_DELIVERED: frozenset[str] = frozenset()


def test_committed_sdl_matches_the_code() -> None:
    expected = build_schema(Settings()).as_str() + "\n"  # as `claimsdb export-schema` prints it
    assert SDL_FILE.is_file(), (
        "api/schema.graphql is missing; run `claimsdb export-schema > api/schema.graphql`"
    )
    committed = SDL_FILE.read_text(encoding="utf-8")
    if committed != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "api/schema.graphql (committed)",
                    "build_schema(Settings()) (the code)",
                )
            )[:60]
        )
        pytest.fail(
            "api/schema.graphql differs from the schema the code builds; "
            f"run `claimsdb export-schema > api/schema.graphql` and commit it.\n{diff}",
            pytrace=False,
        )


# --- the contract ---------------------------------------------------------------------------


def contract_document() -> DocumentNode:
    if not CONTRACT.is_file():
        pytest.skip(f"the API contract {CONTRACT} is not here (set CLAIMSDB_API_CONTRACT to its path)")
    return parse(CONTRACT.read_text(encoding="utf-8"))


def our_schema() -> GraphQLSchema:
    """The schema as frontend teams see it: built back from the SDL the code prints."""
    return build_sdl_schema(build_schema(Settings()).as_str())


def referenced_connections(document: DocumentNode) -> set[str]:
    """Connection types the contract uses but does not spell out ('...and the same Edge/Connection
    shape for Target, ...')."""
    defined = {d.name.value for d in document.definitions if hasattr(d, "name") and d.name is not None}
    used: set[str] = set()

    class Names(Visitor):
        def enter_named_type(self, node: NamedTypeNode, *_: object) -> None:
            used.add(node.name.value)

    visit(document, Names())
    return {name for name in used - defined if name.endswith("Connection")}


def synthesised(connections: set[str]) -> DocumentNode:
    """The Connection and Edge types the contract describes in words, built like ClaimConnection."""
    parts = []
    for connection in sorted(connections):
        node = connection.removesuffix("Connection")
        parts.append(
            f"type {node}Edge {{ cursor: String!  node: {node}! }}\n"
            f"type {connection} {{ edges: [{node}Edge!]!  nodes: [{node}!]!  pageInfo: PageInfo!  "
            "totalCount: Int! }"
        )
    return parse("\n".join(parts)) if parts else parse("scalar _Nothing")


@dataclass
class Comparison:
    """Differences between the contract and our schema, keyed by the allowlist entry that covers
    them (the type, or Type.field)."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)

    def add(self, key: str, message: str) -> None:
        self.problems.setdefault(key, []).append(message)


def _type(node: object) -> str:
    return print_ast(node)  # type: ignore[arg-type]


def _optional(argument: GraphQLArgument) -> bool:
    return not isinstance(argument.type, GraphQLNonNull) or argument.default_value is not None


def compare(document: DocumentNode, schema: GraphQLSchema) -> Comparison:
    result = Comparison()
    kinds = {
        ObjectTypeDefinitionNode: GraphQLObjectType,
        InterfaceTypeDefinitionNode: GraphQLInterfaceType,
        InputObjectTypeDefinitionNode: GraphQLInputObjectType,
        EnumTypeDefinitionNode: GraphQLEnumType,
        UnionTypeDefinitionNode: GraphQLUnionType,
        ScalarTypeDefinitionNode: GraphQLScalarType,
    }
    for definition in document.definitions:
        expected_kind = kinds.get(type(definition))
        if expected_kind is None:
            continue
        name = definition.name.value
        result.checked.add(name)
        ours = schema.get_type(name)
        if ours is None:
            result.add(name, f"type {name} is missing")
            continue
        if not isinstance(ours, expected_kind):
            result.add(
                name, f"{name} is a {type(ours).__name__}, the contract has a {expected_kind.__name__}"
            )
            continue

        if isinstance(definition, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            ours_interfaces = {i.name for i in getattr(ours, "interfaces", [])}
            for interface in definition.interfaces or []:
                if interface.name.value not in ours_interfaces:
                    result.add(name, f"{name} does not implement {interface.name.value}")
            for f in definition.fields or []:
                key = f"{name}.{f.name.value}"
                result.checked.add(key)
                our_field = ours.fields.get(f.name.value)  # type: ignore[union-attr]
                if our_field is None:
                    result.add(key, f"field {key} is missing")
                    continue
                if str(our_field.type) != _type(f.type):
                    result.add(key, f"{key}: type {our_field.type}, the contract says {_type(f.type)}")
                contract_args = {a.name.value: a for a in f.arguments or []}
                for arg_name, arg in contract_args.items():
                    our_arg = our_field.args.get(arg_name)
                    if our_arg is None:
                        result.add(key, f"{key}: argument {arg_name} is missing")
                    elif str(our_arg.type) != _type(arg.type):
                        result.add(
                            key, f"{key}({arg_name}:) is {our_arg.type}, the contract says {_type(arg.type)}"
                        )
                for arg_name, our_arg in our_field.args.items():
                    if arg_name not in contract_args and not _optional(our_arg):
                        result.add(key, f"{key}: added argument {arg_name} is required, which breaks clients")
        elif isinstance(definition, InputObjectTypeDefinitionNode):
            contract_fields = {f.name.value: f for f in definition.fields or []}
            for field_name, f in contract_fields.items():
                our_field = ours.fields.get(field_name)  # type: ignore[union-attr]
                if our_field is None:
                    result.add(name, f"input field {name}.{field_name} is missing")
                elif str(our_field.type) != _type(f.type):
                    result.add(
                        name, f"{name}.{field_name}: {our_field.type}, the contract says {_type(f.type)}"
                    )
            for field_name, our_field in ours.fields.items():  # type: ignore[union-attr]
                required = isinstance(our_field.type, GraphQLNonNull) and our_field.default_value is None
                if field_name not in contract_fields and required:
                    result.add(name, f"{name}.{field_name} was added as required, which breaks clients")
        elif isinstance(definition, EnumTypeDefinitionNode):
            missing = [v.name.value for v in definition.values or [] if v.name.value not in ours.values]  # type: ignore[union-attr]
            if missing:
                result.add(name, f"enum {name} lacks {missing}")
        elif isinstance(definition, UnionTypeDefinitionNode):
            members = {t.name for t in ours.types}  # type: ignore[union-attr]
            missing = [t.name.value for t in definition.types or [] if t.name.value not in members]
            if missing:
                result.add(name, f"union {name} lacks {missing}")
    return result


def contract_comparison() -> Comparison:
    document = contract_document()
    schema = our_schema()
    result = compare(document, schema)
    extra = compare(synthesised(referenced_connections(document)), schema)
    for key, messages in extra.problems.items():
        for message in messages:
            result.add(key, message + " (built like ClaimConnection, as the contract describes)")
    result.checked |= extra.checked
    return result


def covered(key: str) -> bool:
    return key in NOT_YET_DELIVERED or key.split(".")[0] in NOT_YET_DELIVERED


def test_schema_keeps_the_contract() -> None:
    comparison = contract_comparison()
    assert {"ClaimConnection", "TargetConnection", "TargetEdge", "SourceConnection"} <= comparison.checked
    broken = [m for key, messages in comparison.problems.items() if not covered(key) for m in messages]
    assert not broken, (
        "the schema departs from the contract (api-contract.graphql names, arguments and types are "
        "fixed; the code may only add):\n  " + "\n  ".join(sorted(broken))
    )


def test_contract_allowlist_has_no_stale_entries() -> None:
    comparison = contract_comparison()
    unknown = sorted(key for key in NOT_YET_DELIVERED if key not in comparison.checked)
    assert not unknown, f"allowlist entries the contract does not name: {unknown}"
    delivered = sorted(
        key
        for key in NOT_YET_DELIVERED
        if not any(k == key or k.startswith(key + ".") for k in comparison.problems)
    )
    assert not delivered, (
        f"these are now delivered as the contract says; remove them from NOT_YET_DELIVERED: {delivered}"
    )
