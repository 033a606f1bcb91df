"""Commands that grow the named vocabularies: targets, interventions (and their actions),
conditions, organisms, outcomes, aliases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from api.store.commands._common import collect, optional_label, require_role, required_label
from api.store.db import Writer
from api.store.errors import StoreError, UserErrorCode, invalid
from api.store.resolve import Reference, resolve_id
from api.store.vocabularies import VOCABULARIES, Vocabulary
from schema.bearing import target_level_direction
from schema.curies import parse_curie
from schema.enums import EffectDirection, Role, TargetAction, VocabularyKind
from schema.identifiers import IdentifierError
from schema.normalize import normalize_name
from schema.tables import (
    MAX_LABEL,
    Claim,
    ClaimTarget,
    Condition,
    ConditionLineage,
    Intervention,
    InterventionAction,
    Organism,
    Outcome,
    Target,
)
from schema.validation import given


@dataclass
class ActionInput:
    target: Reference  # a target's name, alias, CURIE or id
    action: TargetAction


@dataclass
class TargetInput:
    symbol: str
    name: str
    kind: str
    aliases: Sequence[str] = ()
    xrefs: Sequence[str] = ()


@dataclass
class InterventionInput:
    name: str
    kind: str
    aliases: Sequence[str] = ()
    xrefs: Sequence[str] = ()
    actions: Sequence[ActionInput] = ()


@dataclass
class ConditionInput:
    name: str
    parent: Reference | None = None  # a condition's name, alias, CURIE or id
    aliases: Sequence[str] = ()
    xrefs: Sequence[str] = ()


@dataclass
class OrganismInput:
    taxon_id: int
    scientific_name: str
    common_name: str | None = None
    aliases: Sequence[str] = ()


@dataclass
class OutcomeInput:
    name: str
    kind: str
    aliases: Sequence[str] = ()


@dataclass
class _Names:
    """The names an entity answers to, de-duplicated by normalised key, preferred first."""

    rows: list[tuple[str, str, bool]] = field(default_factory=list)  # (alias, normalized, preferred)

    @classmethod
    def build(cls, preferred: str, others: Sequence[str], preferred_field: str = "name") -> _Names:
        """`preferred_field` is the input field holding the preferred label (symbol, name, ...)."""
        names = cls()
        seen: set[str] = set()
        for index, raw in enumerate([preferred, *others]):
            path = ("aliases", str(index - 1)) if index else (preferred_field,)
            label = required_label(raw, MAX_LABEL, *path)
            key = normalize_name(label)
            if not key:
                raise invalid(f"'{raw}' has no letters or digits to match on", *path)
            if key in seen:
                continue
            seen.add(key)
            names.rows.append((label, key, index == 0))
        return names


async def _check_names_free(w: Writer, vocab: Vocabulary, names: _Names, field_name: str) -> None:
    keys = [key for _, key, _ in names.rows]
    taken = (
        await w.session.execute(
            sa.select(vocab.alias_table.alias, vocab.alias_table.normalized, vocab.label)
            .join(vocab.table, vocab.table.id == vocab.alias_owner)
            .where(vocab.alias_table.normalized.in_(keys))
        )
    ).all()
    if taken:
        alias, _, owner = taken[0]
        raise StoreError.one(
            UserErrorCode.DUPLICATE,
            f"the name '{alias}' already belongs to {vocab.noun} '{owner}' "
            "(names are compared ignoring case, spaces, hyphens and Greek spelling)",
            (field_name,),
        )


async def _insert_names(w: Writer, vocab: Vocabulary, entity_id: int, names: _Names) -> None:
    await w.session.execute(
        sa.insert(vocab.alias_table),
        [
            {"alias": alias, "normalized": key, "preferred": preferred, vocab.alias_fk: entity_id}
            for alias, key, preferred in names.rows
        ],
    )


def _parse_xrefs(xrefs: Sequence[str]) -> list[str]:
    parsed: list[str] = []
    errors: list[StoreError] = []
    for index, raw in enumerate(xrefs):
        try:
            curie = str(parse_curie(raw))
        except IdentifierError as exc:
            errors.append(invalid(str(exc), "xrefs", str(index)))
            continue
        if curie not in parsed:
            parsed.append(curie)
    collect(errors)
    return parsed


async def _insert_xrefs(w: Writer, vocab: Vocabulary, entity_id: int, curies: list[str]) -> None:
    if not curies:
        return
    assert vocab.xref_table is not None and vocab.xref_fk is not None
    owner = getattr(vocab.xref_table, vocab.xref_fk)
    taken = (
        await w.session.execute(
            sa.select(vocab.xref_table.curie, vocab.label)
            .join(vocab.table, vocab.table.id == owner)
            .where(vocab.xref_table.curie.in_(curies))
        )
    ).first()
    if taken:
        raise StoreError.one(
            UserErrorCode.DUPLICATE,
            f"{taken[0]} already identifies {vocab.noun} '{taken[1]}'",
            ("xrefs",),
        )
    await w.session.execute(
        sa.insert(vocab.xref_table), [{"curie": c, vocab.xref_fk: entity_id} for c in curies]
    )


async def _insert_entity(w: Writer, row: object) -> int:
    w.session.add(row)
    await w.session.flush()
    return row.id  # type: ignore[attr-defined]


async def create_target(w: Writer, data: TargetInput) -> Target:
    require_role(w.actor, Role.CURATOR, "creating a target")
    vocab = VOCABULARIES[VocabularyKind.TARGET]
    names = _Names.build(data.symbol, data.aliases, "symbol")
    target = Target(
        symbol=names.rows[0][0],
        name=required_label(data.name, MAX_LABEL, "name"),
        kind=required_label(data.kind, 64, "kind"),
    )
    curies = _parse_xrefs(data.xrefs)
    await _check_names_free(w, vocab, names, "aliases" if len(names.rows) > 1 else "symbol")
    target_id = await _insert_entity(w, target)
    await _insert_names(w, vocab, target_id, names)
    await _insert_xrefs(w, vocab, target_id, curies)
    w.record(
        "target.create",
        "Target",
        target_id,
        after={
            "symbol": target.symbol,
            "name": target.name,
            "kind": target.kind,
            "aliases": [a for a, _, p in names.rows if not p],
            "xrefs": curies,
        },
    )
    return target


async def create_intervention(w: Writer, data: InterventionInput) -> Intervention:
    require_role(w.actor, Role.CURATOR, "creating an intervention")
    vocab = VOCABULARIES[VocabularyKind.INTERVENTION]
    names = _Names.build(data.name, data.aliases)
    intervention = Intervention(name=names.rows[0][0], kind=required_label(data.kind, 64, "kind"))
    curies = _parse_xrefs(data.xrefs)
    target_ids = await _resolve_action_targets(w, data.actions)
    await _check_names_free(w, vocab, names, "aliases" if len(names.rows) > 1 else "name")
    intervention_id = await _insert_entity(w, intervention)
    await _insert_names(w, vocab, intervention_id, names)
    await _insert_xrefs(w, vocab, intervention_id, curies)
    for target_id, action in zip(target_ids, data.actions, strict=True):
        await _insert_action(w, intervention_id, target_id, action.action)
    w.record(
        "intervention.create",
        "Intervention",
        intervention_id,
        after={
            "name": intervention.name,
            "kind": intervention.kind,
            "aliases": [a for a, _, p in names.rows if not p],
            "xrefs": curies,
            "actions": [{"target": a.target, "action": a.action.value} for a in data.actions],
        },
    )
    return intervention


async def _resolve_action_targets(w: Writer, actions: Sequence[ActionInput]) -> list[int]:
    ids: list[int] = []
    errors: list[StoreError] = []
    for index, action in enumerate(actions):
        try:
            ids.append(
                await resolve_id(
                    w.session,
                    VocabularyKind.TARGET,
                    action.target,
                    ("actions", str(index), "target"),
                )
            )
        except StoreError as exc:
            errors.append(exc)
    collect(errors)
    if len(set(ids)) != len(ids):
        raise invalid("each target may appear once among the actions", "actions")
    return ids


async def _insert_action(w: Writer, intervention_id: int, target_id: int, action: TargetAction) -> None:
    await w.session.execute(
        sa.insert(InterventionAction).values(
            intervention_id=intervention_id, target_id=target_id, action=action
        )
    )
    # Claims already made about this intervention now bear on the target too.
    claims = (
        await w.session.execute(
            sa.select(Claim.id, Claim.direction).where(Claim.subject_intervention_id == intervention_id)
        )
    ).all()
    if claims:
        await w.session.execute(
            sa.insert(ClaimTarget),
            [
                {
                    "claim_id": claim_id,
                    "target_id": target_id,
                    "via_intervention_id": intervention_id,
                    "target_direction": _direction_value(direction, action),
                    "action": action.value,
                }
                for claim_id, direction in claims
            ],
        )


def _direction_value(direction: str, action: TargetAction | None) -> str | None:
    level = target_level_direction(EffectDirection(direction), action)
    return level.value if level is not None else None


async def add_action(w: Writer, intervention: Reference, data: ActionInput) -> Intervention:
    """Record that an intervention acts on a target (and re-read its claims at target level)."""
    require_role(w.actor, Role.CURATOR, "adding an intervention action")
    intervention_id = await resolve_id(
        w.session, VocabularyKind.INTERVENTION, intervention, ("intervention",)
    )
    (target_id,) = await _resolve_action_targets(w, [data])
    exists = await w.session.scalar(
        sa.select(InterventionAction.id).where(
            InterventionAction.intervention_id == intervention_id,
            InterventionAction.target_id == target_id,
        )
    )
    if exists is not None:
        raise StoreError.one(
            UserErrorCode.DUPLICATE,
            "this intervention already has an action on that target",
            ("target",),
        )
    await _insert_action(w, intervention_id, target_id, data.action)
    w.record(
        "intervention.add_action",
        "Intervention",
        intervention_id,
        after={"target_id": target_id, "action": data.action.value},
    )
    return await w.session.get_one(Intervention, intervention_id)


async def create_condition(w: Writer, data: ConditionInput) -> Condition:
    require_role(w.actor, Role.CURATOR, "creating a condition")
    vocab = VOCABULARIES[VocabularyKind.CONDITION]
    names = _Names.build(data.name, data.aliases)
    curies = _parse_xrefs(data.xrefs)
    parent_id = None
    if given(data.parent):
        parent_id = await resolve_id(w.session, VocabularyKind.CONDITION, data.parent, ("parent",))  # type: ignore[arg-type]
    await _check_names_free(w, vocab, names, "aliases" if len(names.rows) > 1 else "name")
    condition = Condition(name=names.rows[0][0], parent_id=parent_id)
    condition_id = await _insert_entity(w, condition)
    await _insert_names(w, vocab, condition_id, names)
    await _insert_xrefs(w, vocab, condition_id, curies)
    # The closure: every ancestor of the parent (the parent included) is an ancestor of this one.
    lineage = [{"ancestor_id": condition_id, "descendant_id": condition_id, "depth": 0}]
    if parent_id is not None:
        ancestors = (
            await w.session.execute(
                sa.select(ConditionLineage.ancestor_id, ConditionLineage.depth).where(
                    ConditionLineage.descendant_id == parent_id
                )
            )
        ).all()
        lineage += [{"ancestor_id": a, "descendant_id": condition_id, "depth": d + 1} for a, d in ancestors]
    await w.session.execute(sa.insert(ConditionLineage), lineage)
    w.record(
        "condition.create",
        "Condition",
        condition_id,
        after={
            "name": condition.name,
            "parent_id": parent_id,
            "aliases": [a for a, _, p in names.rows if not p],
            "xrefs": curies,
        },
    )
    return condition


async def create_organism(w: Writer, data: OrganismInput) -> Organism:
    require_role(w.actor, Role.CURATOR, "creating an organism")
    vocab = VOCABULARIES[VocabularyKind.ORGANISM]
    if data.taxon_id <= 0:
        raise invalid("taxonId must be a positive NCBI Taxonomy id (human is 9606)", "taxonId")
    common = optional_label(data.common_name, MAX_LABEL, "commonName")
    names = _Names.build(
        data.scientific_name, [*([common] if common else []), *data.aliases], "scientificName"
    )
    if await w.session.scalar(sa.select(Organism.id).where(Organism.taxon_id == data.taxon_id)):
        raise StoreError.one(
            UserErrorCode.DUPLICATE, f"NCBITaxon:{data.taxon_id} already exists", ("taxonId",)
        )
    await _check_names_free(w, vocab, names, "scientificName")
    organism = Organism(taxon_id=data.taxon_id, scientific_name=names.rows[0][0], common_name=common)
    organism_id = await _insert_entity(w, organism)
    await _insert_names(w, vocab, organism_id, names)
    w.record(
        "organism.create",
        "Organism",
        organism_id,
        after={
            "taxon_id": organism.taxon_id,
            "scientific_name": organism.scientific_name,
            "common_name": common,
            "aliases": [a for a, _, p in names.rows if not p],
        },
    )
    return organism


async def create_outcome(w: Writer, data: OutcomeInput) -> Outcome:
    require_role(w.actor, Role.CURATOR, "creating an outcome")
    vocab = VOCABULARIES[VocabularyKind.OUTCOME]
    names = _Names.build(data.name, data.aliases)
    outcome = Outcome(name=names.rows[0][0], kind=required_label(data.kind, 64, "kind"))
    await _check_names_free(w, vocab, names, "aliases" if len(names.rows) > 1 else "name")
    outcome_id = await _insert_entity(w, outcome)
    await _insert_names(w, vocab, outcome_id, names)
    w.record(
        "outcome.create",
        "Outcome",
        outcome_id,
        after={
            "name": outcome.name,
            "kind": outcome.kind,
            "aliases": [a for a, _, p in names.rows if not p],
        },
    )
    return outcome


async def add_alias(w: Writer, kind: VocabularyKind, entity_id: int, alias: str) -> None:
    require_role(w.actor, Role.CURATOR, "adding an alias")
    vocab = VOCABULARIES[kind]
    label = required_label(alias, MAX_LABEL, "alias")
    key = normalize_name(label)
    if not key:
        raise invalid(f"'{alias}' has no letters or digits to match on", "alias")
    exists = await w.session.scalar(sa.select(vocab.table.id).where(vocab.table.id == entity_id))
    if exists is None:
        raise StoreError.one(UserErrorCode.NOT_FOUND, f"no such {vocab.noun}", ("entity",))
    names = _Names(rows=[(label, key, False)])
    await _check_names_free(w, vocab, names, "alias")
    await _insert_names(w, vocab, entity_id, names)
    w.record(f"{vocab.noun}.add_alias", vocab.type_name, entity_id, after={"alias": label})
