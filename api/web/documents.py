"""The GraphQL documents the pages run, kept as files in api/web/graphql/.

Every `.graphql` file there holds operations and fragments; names are unique across files, and
any operation may spread any fragment. A definition preceded by a comment line
`# requires: feature[, feature]` (features.py) is left out when the schema lacks a feature: an
operation that needs one cannot be run (the page checks the feature first), and the spreads of a
fragment that needs one are removed from everything that uses it. So a page's query asks for
revisions or flags exactly when the API has them.

Each operation is printed as its own document (the operation plus the fragments it uses) and
validated against the schema when the workbench starts, so a mistake in a document fails at
start-up (and in the tests), not when a page is opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    print_ast,
    validate,
)

from api.web.features import unknown

DOCUMENTS_DIR = Path(__file__).resolve().parent / "graphql"
_REQUIRES = re.compile(r"^\s*#\s*requires:\s*(?P<names>[\w\s,]+?)\s*$")


class DocumentError(Exception):
    """A document file that cannot work: the message names the file and definition."""


class FeatureMissing(LookupError):
    """An operation whose feature the API does not have yet was asked for."""


@dataclass(frozen=True)
class Operation:
    name: str
    text: str  # the printed document: the operation and the fragments it uses
    kind: str  # "query" or "mutation"


@dataclass
class Documents:
    operations: dict[str, Operation] = field(default_factory=dict)
    # operations left out, with the features they need
    missing: dict[str, frozenset[str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Operation:
        if name in self.missing:
            needs = ", ".join(sorted(self.missing[name]))
            raise FeatureMissing(f"the API has no {needs} yet, which operation {name} needs")
        return self.operations[name]

    def __contains__(self, name: str) -> bool:
        return name in self.operations


def _requirements(source: str, start: int) -> frozenset[str]:
    """The `# requires:` features in the comment lines directly above offset `start`."""
    lines = source[:start].splitlines()
    needs: set[str] = set()
    while lines and lines[-1].strip().startswith("#"):
        match = _REQUIRES.match(lines.pop())
        if match:
            needs.update(n.strip() for n in match.group("names").split(",") if n.strip())
    return frozenset(needs)


def _prune(selection_set: SelectionSetNode | None, dropped: set[str], where: str) -> SelectionSetNode | None:
    """The selection set without spreads of `dropped` fragments, at every depth."""
    if selection_set is None:
        return None
    kept = []
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            if selection.name.value in dropped:
                continue
            kept.append(selection)
        elif isinstance(selection, FieldNode | InlineFragmentNode):
            inner = _prune(selection.selection_set, dropped, where)
            if selection.selection_set is not None and inner is not None and not inner.selections:
                raise DocumentError(f"{where}: removing {sorted(dropped)} leaves an empty selection")
            kept.append(replace(selection, selection_set=inner))
        else:  # pragma: no cover - graphql-core has no other selection kind
            kept.append(selection)
    return SelectionSetNode(selections=tuple(kept))


def _spreads(selection_set: SelectionSetNode | None) -> set[str]:
    found: set[str] = set()
    if selection_set is None:
        return found
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            found.add(selection.name.value)
        else:
            found |= _spreads(getattr(selection, "selection_set", None))
    return found


def load_documents(
    schema: GraphQLSchema, features: frozenset[str], directory: Path = DOCUMENTS_DIR
) -> Documents:
    operations: dict[str, tuple[OperationDefinitionNode, frozenset[str], str]] = {}
    fragments: dict[str, tuple[FragmentDefinitionNode, frozenset[str], str]] = {}
    for path in sorted(directory.glob("*.graphql")):
        source = path.read_text(encoding="utf-8")
        try:
            document = parse(source)
        except Exception as exc:
            raise DocumentError(f"{path.name}: {exc}") from None
        for definition in document.definitions:
            assert definition.loc is not None
            needs = _requirements(source, definition.loc.start)
            if bad := unknown(needs):
                raise DocumentError(f"{path.name}: unknown feature(s) {bad} in a `# requires:` line")
            if isinstance(definition, OperationDefinitionNode):
                if definition.name is None:
                    raise DocumentError(f"{path.name}: every operation needs a name")
                table: dict = operations
                name = definition.name.value
            elif isinstance(definition, FragmentDefinitionNode):
                table = fragments
                name = definition.name.value
            else:
                raise DocumentError(f"{path.name}: only operations and fragments belong here")
            if name in operations or name in fragments:
                raise DocumentError(f"{path.name}: {name} is defined twice")
            table[name] = (definition, needs, path.name)

    dropped = {name for name, (_, needs, _) in fragments.items() if not needs <= features}
    pruned: dict[str, FragmentDefinitionNode] = {}
    for name, (definition, _, file) in fragments.items():
        if name in dropped:
            continue
        selection = _prune(definition.selection_set, dropped, f"{file} fragment {name}")
        pruned[name] = replace(definition, selection_set=selection)

    result = Documents()
    for name, (definition, needs, file) in operations.items():
        if not needs <= features:
            result.missing[name] = needs - features
            continue
        selection = _prune(definition.selection_set, dropped, f"{file} operation {name}")
        operation = replace(definition, selection_set=selection)
        used: list[str] = []
        pending = sorted(_spreads(selection))
        while pending:
            fragment = pending.pop()
            if fragment in used:
                continue
            if fragment not in pruned:
                raise DocumentError(f"{file}: operation {name} spreads an unknown fragment {fragment}")
            used.append(fragment)
            pending.extend(sorted(_spreads(pruned[fragment].selection_set)))
        document = DocumentNode(definitions=(operation, *(pruned[f] for f in sorted(used))))
        errors = validate(schema, document)
        if errors:
            raise DocumentError(f"{file} operation {name}: " + "; ".join(e.message for e in errors))
        result.operations[name] = Operation(name, print_ast(document), definition.operation.value)
    return result
