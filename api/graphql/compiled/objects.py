"""Which GraphQL object fields the compiled path builds, and from what.

Each supported object type names its store entity (api/store/queries/documents.py) and, per
field, where the value comes from: a column (with the conversion its scalar needs), a related
object, a list, a list of names, or the claim's subject union. These mirror the resolvers in
api/graphql/types/ one for one (the comment on each says which); a field not listed here (a
nested connection, reviews, statistics, ...) makes the whole operation fall back to them.

`compile_object` turns one selection of such a type into a documents.Shape (what the database
builds) and a values.Fixer (what Python converts afterwards: ids, timestamps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLUnionType, get_named_type
from graphql.execution.collect_fields import FieldDetailsList

from api.graphql.compiled.selection import Selection, Unsupported
from api.graphql.compiled.values import MEMBER_KEY, Convert, Fix, global_id, utc_datetime
from api.store.queries import documents as doc


@dataclass(frozen=True)
class Scalar:
    column: str
    convert: Convert | None = None


@dataclass(frozen=True)
class Related:
    """A to-one relation (documents.TO_ONE)."""

    relation: str


@dataclass(frozen=True)
class Listed:
    """A list relation (documents.TO_MANY)."""

    relation: str


@dataclass(frozen=True)
class NameList:
    """aliases / xrefs (documents.Names)."""

    relation: str


@dataclass(frozen=True)
class Subject:
    """Claim.subject: Target when subject_target_id is set, else Intervention."""

    members: tuple[tuple[str, str], ...] = (
        ("Target", "subject_target"),
        ("Intervention", "subject_intervention"),
    )


FieldSource = Scalar | Related | Listed | NameList | Subject


@dataclass(frozen=True)
class ObjectSpec:
    entity: str
    fields: dict[str, FieldSource] = field(default_factory=dict)


def _node(type_name: str, entity: str, **fields: FieldSource) -> ObjectSpec:
    """A Node type: `id` is the global ID of the row's id (to_global_id in each from_row)."""
    return ObjectSpec(entity, {"id": Scalar("id", global_id(type_name)), **fields})


_DATETIME = utc_datetime

OBJECTS: dict[str, ObjectSpec] = {
    # types/claims.py Claim (from_row, subject, targets, outcome, ..., evidence, created_by)
    "Claim": _node(
        "Claim",
        "claim",
        statement=Scalar("statement"),
        direction=Scalar("direction"),
        modality=Scalar("modality"),
        evidenceType=Scalar("evidence_type"),
        sampleType=Scalar("sample_type"),
        status=Scalar("status"),
        version=Scalar("version"),
        createdAt=Scalar("created_at", _DATETIME),
        updatedAt=Scalar("updated_at", _DATETIME),
        subject=Subject(),
        targets=Listed("targets"),
        outcome=Related("outcome"),
        organism=Related("organism"),
        condition=Related("condition"),
        cohort=Related("cohort"),
        comparator=Related("comparator"),
        source=Related("source"),
        evidence=Listed("evidence"),
        createdBy=Related("created_by"),
    ),
    # types/claims.py Evidence
    "Evidence": ObjectSpec(
        "evidence",
        {
            "quote": Scalar("quote"),
            "locator": Scalar("locator"),
            "stance": Scalar("stance"),
            "source": Related("source"),
        },
    ),
    # types/vocabulary.py
    "Target": _node(
        "Target",
        "target",
        symbol=Scalar("symbol"),
        name=Scalar("name"),
        kind=Scalar("kind"),
        aliases=NameList("aliases"),
        xrefs=NameList("xrefs"),
        interventions=Listed("interventions"),
    ),
    "Intervention": _node(
        "Intervention",
        "intervention",
        name=Scalar("name"),
        kind=Scalar("kind"),
        aliases=NameList("aliases"),
        xrefs=NameList("xrefs"),
        actions=Listed("actions"),
    ),
    "InterventionAction": ObjectSpec(
        "intervention_action",
        {"action": Scalar("action"), "intervention": Related("intervention"), "target": Related("target")},
    ),
    "Condition": _node(
        "Condition",
        "condition",
        name=Scalar("name"),
        aliases=NameList("aliases"),
        xrefs=NameList("xrefs"),
        parent=Related("parent"),
        children=Listed("children"),
    ),
    "Organism": _node(
        "Organism",
        "organism",
        taxonId=Scalar("taxon_id"),
        scientificName=Scalar("scientific_name"),
        commonName=Scalar("common_name"),
    ),
    "Outcome": _node(
        "Outcome", "outcome", name=Scalar("name"), kind=Scalar("kind"), aliases=NameList("aliases")
    ),
    # types/sources.py
    "Source": _node(
        "Source",
        "source",
        kind=Scalar("kind"),
        title=Scalar("title"),
        authors=Scalar("authors"),
        venue=Scalar("venue"),
        year=Scalar("year"),
        published=Scalar("published"),
        doi=Scalar("doi"),
        pmid=Scalar("pmid"),
        url=Scalar("url"),
        peerReviewed=Scalar("peer_reviewed"),
        aiGenerated=Scalar("ai_generated"),
        derivedFrom=Related("derived_from"),
        cohorts=Listed("cohorts"),
    ),
    "Cohort": _node(
        "Cohort",
        "cohort",
        label=Scalar("label"),
        size=Scalar("size"),
        femaleCount=Scalar("female_count"),
        treatmentStatus=Scalar("treatment_status"),
        sampleType=Scalar("sample_type"),
        organism=Related("organism"),
        condition=Related("condition"),
        source=Related("source"),
    ),
    "User": _node("User", "user", name=Scalar("name"), role=Scalar("role"), orcid=Scalar("orcid")),
}


def _object_type(selection: Selection, type_: object, where: str) -> GraphQLObjectType:
    named = get_named_type(type_)  # type: ignore[arg-type]
    if not isinstance(named, GraphQLObjectType):
        raise Unsupported(f"{where} is not an object type")
    return named


def _is_list(type_: object) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def compile_object(
    selection: Selection, type_: GraphQLObjectType, details: FieldDetailsList, member: bool = False
) -> tuple[doc.Shape, Fix]:
    """The Shape (what the database builds) and the Fix (what Python converts afterwards) of the
    fields `details` select on an object of `type_`. `member`: the object is one member of a
    union, so its document carries the member marker."""
    spec = OBJECTS.get(type_.name)
    if spec is None:
        raise Unsupported(f"type {type_.name}")
    values: list[tuple[str, doc.Value]] = []
    converts: list[tuple[str, Convert]] = []
    objects: list[tuple[str, Fix]] = []
    lists: list[tuple[str, Fix]] = []
    unions: list[tuple[str, tuple[tuple[str, Fix | None], ...]]] = []
    for key, field_details in selection.subfields(type_, details).items():
        name = field_details[0].node.name.value
        if name == "__typename":
            values.append((key, doc.Constant(type_.name)))
            continue
        source = spec.fields.get(name)
        if source is None:
            raise Unsupported(f"field {type_.name}.{name}")
        selection.require_plain(field_details)
        field_type = type_.fields[name].type
        where = f"{type_.name}.{name}"
        if isinstance(source, Scalar):
            values.append((key, doc.Column(source.column)))
            if source.convert is not None:
                converts.append((key, source.convert))
        elif isinstance(source, Related | Listed):
            child_type = _object_type(selection, field_type, where)
            if _is_list(field_type) != isinstance(source, Listed):
                raise Unsupported(f"{where}: list and relation disagree")
            shape, fix = compile_object(selection, child_type, field_details)
            if isinstance(source, Related):
                values.append((key, doc.One(source.relation, shape)))
                if fix:
                    objects.append((key, fix))
            else:
                values.append((key, doc.Many(source.relation, shape)))
                if fix:
                    lists.append((key, fix))
        elif isinstance(source, NameList):
            values.append((key, doc.Names(source.relation)))
        elif isinstance(source, Subject):
            union = get_named_type(field_type)
            if not isinstance(union, GraphQLUnionType):
                raise Unsupported(f"{where} is not a union")
            options: list[doc.One] = []
            members: list[tuple[str, Fix | None]] = []
            for member_name, relation in source.members:
                member_type = selection.schema.get_type(member_name)
                if not isinstance(member_type, GraphQLObjectType) or member_type not in union.types:
                    raise Unsupported(f"{where}: {member_name} is not a member")
                shape, fix = compile_object(selection, member_type, field_details, member=True)
                options.append(doc.One(relation, shape))
                members.append((member_name, fix or None))
            values.append((key, doc.FirstOf(tuple(options))))
            unions.append((key, tuple(members)))
    if member:
        values.append((MEMBER_KEY, doc.Constant(type_.name)))
    fix = Fix(tuple(converts), tuple(objects), tuple(lists), tuple(unions))
    return doc.Shape(spec.entity, tuple(values)), fix
