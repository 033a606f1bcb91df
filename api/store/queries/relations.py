"""The object graph, declared once: what each store entity is and how entities relate.

Two readers follow these declarations, so they can never disagree on a relation's key or order:
- the batched loads behind the GraphQL DataLoaders (batch.py: one statement per relation for any
  number of parents, ORM rows), and
- the compiled read path's JSON documents (documents.py: the same rows, in the same order, built
  as JSON by the database).

The GraphQL types (api/graphql/types) name these relations in their field declarations
(`related("outcome")`, `listed("evidence")`, `names("aliases")`), so adding a field that follows
an existing relation is one line there, and a new relation is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from api.store.vocabularies import VOCABULARIES, Vocabulary
from schema.enums import VocabularyKind
from schema.tables import (
    AuditEvent,
    Claim,
    ClaimTarget,
    Cohort,
    Condition,
    Evidence,
    Flag,
    Intervention,
    InterventionAction,
    Organism,
    Outcome,
    Review,
    Revision,
    Source,
    Target,
    User,
)


@dataclass(frozen=True)
class Entity:
    """A kind of stored row: its name in the graph and its table model."""

    name: str
    model: Any  # the SQLModel table class
    # The column people know a row by (a target's symbol, a source's title), if it has one.
    label: str | None = None

    @property
    def table(self) -> sa.Table:
        """The Core table: expressions over it cost far less Python to build than over the ORM."""
        return self.model.__table__  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ToOne:
    """The one row of `child` that the parent's `foreign_key` names (none when it is NULL)."""

    parent: str
    name: str
    child: str
    foreign_key: str  # a column of the parent's table


@dataclass(frozen=True)
class ToMany:
    """The rows of `child` that belong to a parent, in `order`.

    Without a link table, `parent_key` and `order` are columns of the child. With one (`link`,
    e.g. claim_target between claims and targets), they are columns of the link, and the link's
    `child_key` names the child row."""

    parent: str
    name: str
    child: str
    parent_key: str
    order: tuple[str, ...]
    link: str | None = None
    child_key: str | None = None


@dataclass(frozen=True)
class Names:
    """A list of names of a vocabulary entity: its aliases (every name but the preferred label,
    in the order given) or its cross-references (CURIEs, in the order given)."""

    parent: str
    name: str  # "aliases" or "xrefs"

    @property
    def vocabulary(self) -> Vocabulary:
        return VOCABULARIES[VOCABULARY_OF[self.parent]]


Relation = ToOne | ToMany | Names


ENTITIES: dict[str, Entity] = {
    entity.name: entity
    for entity in (
        Entity("claim", Claim, "statement"),
        Entity("claim_target", ClaimTarget),
        Entity("target", Target, "symbol"),
        Entity("intervention", Intervention, "name"),
        Entity("intervention_action", InterventionAction),
        Entity("condition", Condition, "name"),
        Entity("organism", Organism, "scientific_name"),
        Entity("outcome", Outcome, "name"),
        Entity("cohort", Cohort, "label"),
        Entity("source", Source, "title"),
        Entity("evidence", Evidence, "quote"),
        Entity("review", Review),
        Entity("user", User, "name"),
        Entity("audit_event", AuditEvent),
        Entity("revision", Revision),
        Entity("flag", Flag, "comment"),
    )
}

# The entities that are named vocabularies (they have aliases, and some have CURIEs).
VOCABULARY_OF: dict[str, VocabularyKind] = {
    "target": VocabularyKind.TARGET,
    "intervention": VocabularyKind.INTERVENTION,
    "condition": VocabularyKind.CONDITION,
    "organism": VocabularyKind.ORGANISM,
    "outcome": VocabularyKind.OUTCOME,
}


def _declare(*relations: Relation) -> dict[tuple[str, str], Relation]:
    out: dict[tuple[str, str], Relation] = {}
    for relation in relations:
        key = (relation.parent, relation.name)
        if key in out:
            raise ValueError(f"relation {relation.parent}.{relation.name} is declared twice")
        out[key] = relation
    return out


RELATIONS: dict[tuple[str, str], Relation] = _declare(
    # a claim's subject is its target or its intervention (never both: a CHECK constraint)
    ToOne("claim", "subject_target", "target", "subject_target_id"),
    ToOne("claim", "subject_intervention", "intervention", "subject_intervention_id"),
    ToOne("claim", "outcome", "outcome", "outcome_id"),
    ToOne("claim", "organism", "organism", "organism_id"),
    ToOne("claim", "condition", "condition", "condition_id"),
    ToOne("claim", "cohort", "cohort", "cohort_id"),
    ToOne("claim", "comparator", "cohort", "comparator_id"),
    ToOne("claim", "source", "source", "source_id"),
    ToOne("claim", "created_by", "user", "created_by_id"),
    ToMany("claim", "evidence", "evidence", "claim_id", ("position",)),
    # what the claim bears on: its claim_target rows, in target order
    ToMany("claim", "targets", "target", "claim_id", ("target_id",), "claim_target", "target_id"),
    ToMany("claim", "reviews", "review", "claim_id", ("at", "id")),
    ToMany("claim", "bearings", "claim_target", "claim_id", ("target_id",)),
    ToOne("claim_target", "target", "target", "target_id"),
    ToOne("claim_target", "via", "intervention", "via_intervention_id"),
    ToOne("evidence", "source", "source", "source_id"),
    ToOne("review", "reviewer", "user", "reviewer_id"),
    ToOne("cohort", "organism", "organism", "organism_id"),
    ToOne("cohort", "condition", "condition", "condition_id"),
    ToOne("cohort", "source", "source", "source_id"),
    ToOne("source", "derived_from", "source", "derived_from_id"),
    ToMany("source", "cohorts", "cohort", "source_id", ("id",)),
    ToOne("condition", "parent", "condition", "parent_id"),
    ToMany("condition", "children", "condition", "parent_id", ("name",)),
    ToMany("target", "interventions", "intervention_action", "target_id", ("id",)),
    ToMany("intervention", "actions", "intervention_action", "intervention_id", ("id",)),
    ToOne("intervention_action", "intervention", "intervention", "intervention_id"),
    ToOne("intervention_action", "target", "target", "target_id"),
    ToOne("audit_event", "actor", "user", "actor_id"),
    ToOne("revision", "claim", "claim", "claim_id"),
    ToOne("revision", "created_by", "user", "created_by_id"),
    ToOne("revision", "decided_by", "user", "decided_by_id"),
    # flags: a claim's, oldest first (Claim.flags filters them by open / resolved)
    ToMany("claim", "flags", "flag", "claim_id", ("created_at", "id")),
    ToOne("flag", "claim", "claim", "claim_id"),
    ToOne("flag", "created_by", "user", "created_by_id"),
    ToOne("flag", "resolved_by", "user", "resolved_by_id"),
    *(Names(entity, "aliases") for entity in VOCABULARY_OF),
    *(Names(entity, "xrefs") for entity in VOCABULARY_OF),
)


class UnknownRelation(LookupError):
    """A field names a relation that is not declared here."""


def relation(parent: str, name: str) -> Relation:
    try:
        return RELATIONS[(parent, name)]
    except KeyError:
        known = sorted(n for p, n in RELATIONS if p == parent)
        raise UnknownRelation(
            f"{parent} has no relation '{name}' (declared: {', '.join(known) or 'none'}); "
            "declare it in api/store/queries/relations.py"
        ) from None


def entity(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise UnknownRelation(f"no entity '{name}' is declared in api/store/queries/relations.py") from None
