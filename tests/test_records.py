"""The input records (schema.records) are declared once and read alike by every way in; their rules
(schema.validation) report every problem at once; global IDs are decoded at the API's edge only.

- The GraphQL inputs have exactly the records' fields (so the generic conversion loses nothing),
  under the same names; the seed YAML's snake_case keys and the API's camelCase names read the
  same record; the records give a JSON Schema in the API's names.
- check_claim / check_source / parse_record: every problem, with its code, path and message.
- Through the API: a reference given as a global ID reaches the store as the id, and a message
  about one that names nothing quotes it as the client gave it; the store itself takes ids.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from graphql_client import create_user, global_id, gql

from api.graphql import mutations
from api.graphql.ids import GivenIds, name_or_id, to_global_id
from api.graphql.records import to_record
from api.graphql.schema import build_schema
from api.settings import Settings
from api.store.commands.claims import create_claim
from api.store.db import Database
from api.store.errors import Ref, StoreError, UserErrorCode
from schema.enums import ClaimStatus, EffectDirection, EvidenceType, Modality, Role, SourceKind
from schema.errors import UserError
from schema.records import (
    RECORDS,
    ClaimRecord,
    CohortRecord,
    EvidenceRecord,
    Record,
    SourceRecord,
    StatisticsRecord,
)
from schema.users import Actor
from schema.validation import check_claim, check_source, parse_record

# The GraphQL input of each record, and the record fields an input may lack (documentation only).
INPUTS: list[tuple[type, type[Record], set[str]]] = [
    (mutations.CreateSourceInput, SourceRecord, {"note"}),
    (mutations.CohortInput, CohortRecord, set()),
    (mutations.StatisticsInput, StatisticsRecord, set()),
    (mutations.EvidenceInput, EvidenceRecord, set()),
    (mutations.CreateClaimInput, ClaimRecord, {"note"}),
]


@pytest.mark.parametrize(("graphql_input", "record", "only_in_record"), INPUTS)
def test_graphql_inputs_have_the_records_fields(
    graphql_input: type, record: type[Record], only_in_record: set[str]
) -> None:
    definition = graphql_input.__strawberry_definition__  # type: ignore[attr-defined]
    in_graphql = {f.python_name: f.graphql_name or f.python_name for f in definition.fields}
    in_record = {name: field.alias for name, field in record.model_fields.items()}
    assert set(in_graphql) == set(in_record) - only_in_record, graphql_input.__name__
    # The API shows each field under the record's alias.
    served = build_schema(Settings()).as_str()
    block = served.split(f"input {definition.name} {{", 1)[1].split("}", 1)[0]
    names = {line.split(":")[0].strip() for line in block.splitlines() if ":" in line and '"' not in line}
    assert names == {in_record[name] for name in in_graphql}, graphql_input.__name__


def _claim_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "statement": "IL-6R raises disease activity.",
        "source": "10.5555/x.1",
        "target": "IL-6R",
        "outcome": "disease activity",
        "direction": "INCREASES",
        "modality": "ASSERTED",
        "evidence_type": "OBSERVATIONAL",
        "organism": "human",
        "cohort": {"label": "RRMS", "female_count": 3, "size": 9},
        "statistics": {"p_value": 0.01, "ci_low": 1, "ci_high": 2},
        "evidence": [{"quote": "It rose.", "stance": "DISPUTES"}],
    }
    data.update(changes)
    return data


def _camel(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key.split("_")[0] + "".join(p.title() for p in key.split("_")[1:]): _camel(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_camel(item) for item in data]
    return data


def test_snake_case_and_graphql_names_read_the_same_record() -> None:
    snake, errors = parse_record(ClaimRecord, _claim_data())
    assert errors == [] and snake is not None
    camel, errors = parse_record(ClaimRecord, _camel(_claim_data()))
    assert errors == [] and camel == snake
    assert snake.evidence_type is EvidenceType.OBSERVATIONAL and snake.cohort == CohortRecord(
        label="RRMS", size=9, female_count=3
    )
    assert snake.statistics is not None and snake.statistics.ci_low == 1.0
    assert snake.submit is False and snake.note is None and snake.evidence[0].source is None


def test_the_records_give_a_json_schema_in_the_api_names() -> None:
    for record in RECORDS:
        schema = record.model_json_schema(by_alias=True)
        assert schema["additionalProperties"] is False, record.__name__
        assert set(schema["properties"]) == {f.alias for f in record.model_fields.values()}
        undocumented = [name for name, prop in schema["properties"].items() if not prop.get("description")]
        assert not undocumented, f"{record.__name__}: document {undocumented}"
    claim = ClaimRecord.model_json_schema(by_alias=True)
    assert {"evidenceType", "sampleType"} <= set(claim["properties"])
    assert set(claim["required"]) == {
        "statement", "source", "outcome", "direction", "modality", "evidenceType", "organism", "evidence"
    }  # fmt: skip


def _shape(errors: list[UserError]) -> list[tuple[str, tuple[str, ...], str]]:
    return [(e.code.value, e.field, e.message) for e in errors]


def test_check_claim_reports_every_problem_with_its_path() -> None:
    record = ClaimRecord(
        statement="  ",
        source=1,
        target="IL-6R",
        intervention=7,  # two subjects
        outcome=2,
        direction=EffectDirection.INCREASES,
        modality=Modality.ASSERTED,
        evidence_type=EvidenceType.OBSERVATIONAL,
        organism=3,
        sample_type="s" * 101,
        statistics=StatisticsRecord(effect_size=math.inf, p_value=1.5, ci_low=2, ci_high=1),
        evidence=[EvidenceRecord(quote=" "), EvidenceRecord(quote="q" * 2001, locator="l" * 301)],
        cohort=CohortRecord(label="c", size=4, female_count=5, treatment_status="t" * 301),
        comparator=CohortRecord(label=" ", size=-1),
    )
    checked, errors = check_claim(record)
    assert checked is None
    assert _shape(errors) == [
        ("INVALID", ("statement",), "statement must not be empty"),
        ("INVALID", ("sampleType",), "sampleType is 101 characters; at most 100 are allowed"),
        ("INVALID", ("statistics", "effectSize"), "effectSize must be a finite number"),
        ("INVALID", ("statistics", "pValue"), "pValue must be between 0 and 1"),
        ("INVALID", ("statistics", "ciLow"), "ciLow must not exceed ciHigh"),
        ("INVALID", ("target",), "give exactly one of target and intervention as the claim's subject"),
        ("INVALID", ("evidence", "0", "quote"), "quote must not be empty"),
        ("INVALID", ("evidence", "1", "quote"), "quote is 2001 characters; at most 2000 are allowed"),
        ("INVALID", ("evidence", "1", "locator"), "locator is 301 characters; at most 300 are allowed"),
        ("INVALID", ("cohort", "femaleCount"), "femaleCount must not exceed size"),
        (
            "INVALID",
            ("cohort", "treatmentStatus"),
            "treatmentStatus is 301 characters; at most 300 are allowed",
        ),
        ("INVALID", ("comparator", "label"), "label must not be empty"),
        ("INVALID", ("comparator", "size"), "size must not be negative"),
    ]


def test_check_claim_cleans_what_it_passes() -> None:
    record, _ = parse_record(
        ClaimRecord,
        _claim_data(
            statement="  IL-6R   raises\ndisease activity. ",
            sample_type="  ",
            evidence=[{"quote": "  It rose.  ", "locator": " Results  p. 4 "}],
        ),
    )
    assert record is not None
    checked, errors = check_claim(record)
    assert errors == [] and checked is not None
    assert checked.statement == "IL-6R raises disease activity." and checked.sample_type is None
    assert (checked.evidence[0].quote, checked.evidence[0].locator) == ("It rose.", "Results p. 4")
    assert checked.statistics == {
        "effect_size": None, "effect_measure": None, "p_value": 0.01, "ci_low": 1.0, "ci_high": 2.0
    }  # fmt: skip


def test_check_source_reports_every_problem_and_normalises_identifiers() -> None:
    _, errors = check_source(
        SourceRecord(
            kind=SourceKind.REVIEW, title=" ", doi="not a doi", pmid="0", year=1200,
            published="2001-02-03", url="ftp://x.org/", authors=["A", " "],
        )
    )  # fmt: skip
    assert [(e.field, e.code) for e in errors] == [
        (("doi",), UserErrorCode.INVALID),
        (("pmid",), UserErrorCode.INVALID),
        (("year",), UserErrorCode.INVALID),
        (("published",), UserErrorCode.INVALID),
        (("url",), UserErrorCode.INVALID),
        (("authors", "1"), UserErrorCode.INVALID),
        (("title",), UserErrorCode.INVALID),
    ]
    checked, errors = check_source(
        SourceRecord(
            kind=SourceKind.REVIEW, title=" A  review ", doi="https://doi.org/10.5555/ABC", pmid="PMID: 42",
            published="2001-02-03",
        )
    )  # fmt: skip
    assert errors == [] and checked is not None
    assert (checked.title, checked.doi, checked.pmid, checked.year) == ("A review", "10.5555/abc", "42", 2001)


def test_parse_record_says_what_is_wrong_with_the_types() -> None:
    data = _claim_data(direction="SIDEWAYS", target=["IL-6R"], unknown=1)
    del data["organism"]
    data["cohort"] = {"label": "RRMS", "size": "many"}
    data["evidence"] = [{"quote": 3}]
    record, errors = parse_record(ClaimRecord, data)
    assert record is None
    assert sorted((e.field, e.message) for e in errors) == sorted(
        [
            (("target",), "target must be a name or an id"),
            (("direction",), "direction 'SIDEWAYS' is not one of INCREASES, DECREASES, NO_EFFECT, MIXED"),
            (("organism",), "organism is required"),
            (("cohort", "size"), "size must be a whole number"),
            (("evidence", "0", "quote"), "quote must be text"),
            ((), "'unknown' is not a field here"),
        ]
    )
    assert {e.code for e in errors} == {UserErrorCode.INVALID}


def test_a_message_names_objects_by_ref_and_each_edge_renders_them() -> None:
    error = UserError.naming(UserErrorCode.DUPLICATE, ("statement",), "repeats ", Ref("Claim", 12), ".")
    assert error.message == "repeats Claim 12."
    inner = error.within("records", "3", prefix="claim 3: ")
    assert inner.field == ("records", "3", "statement") and inner.message == "claim 3: repeats Claim 12."
    ids = GivenIds()
    assert inner.render(ids.render) == f"claim 3: repeats {to_global_id('Claim', 12)}."
    padded = f" {to_global_id('Claim', 12)}= "
    assert ids.name_or_id(padded, "Claim") == 12 and ids.name_or_id("IL-6R", "Target") == "IL-6R"
    assert inner.render(ids.render) == f"claim 3: repeats {padded}.", "quoted as the client gave it"
    assert name_or_id(to_global_id("Source", 5), "Target") == to_global_id("Source", 5), "another type's ID"


def test_graphql_inputs_convert_generically_decoding_global_ids() -> None:
    cohort = mutations.CohortInput(label="RRMS", condition=global_id("Condition", 4))  # type: ignore[call-arg]
    evidence = mutations.EvidenceInput(quote="q", source="10.5555/x")  # type: ignore[call-arg]
    given = mutations.CreateClaimInput(  # type: ignore[call-arg]
        statement="s", outcome=global_id("Outcome", 2), direction=EffectDirection.DECREASES,
        modality=Modality.HEDGED, evidence_type=EvidenceType.REVIEW, organism="human",
        source=global_id("Source", 9), evidence=[evidence], target=global_id("Claim", 3), cohort=cohort,
        submit=None,
    )  # fmt: skip
    record = to_record(given, ClaimRecord, GivenIds())
    assert (record.outcome, record.source, record.organism) == (2, 9, "human")
    assert record.target == global_id("Claim", 3), "a global ID of another type stays text (a name)"
    assert record.cohort == CohortRecord(label="RRMS", condition=4)
    assert record.evidence == [EvidenceRecord(quote="q", source="10.5555/x")]
    assert record.submit is False and record.statistics is None
    assert [f.name for f in dataclasses.fields(given)] != [], "a Strawberry input is a dataclass"


# --- through the store and the API ------------------------------------------------------------

CREATE = """mutation($input: CreateClaimInput!) { createClaim(input: $input) {
  claim { id source { id } } userErrors { field message code } } }"""


async def test_references_by_global_id_reach_the_store_as_ids(
    seeded_db: Database, settings: Settings
) -> None:
    curator = await create_user(seeded_db, "record-curator", Role.CURATOR)
    from graphql_client import create_source

    source = await create_source(seeded_db, "Named by its global ID", doi="10.5555/records.1")
    missing = f"  {global_id('Source', 999_999)} "
    base = {
        "statement": "IL-6R may raise disease activity.", "outcome": "disease activity",
        "direction": "INCREASES", "modality": "HEDGED", "evidenceType": "OBSERVATIONAL", "organism": "human",
        "evidence": [{"quote": "It may."}],
    }  # fmt: skip
    data = await gql(
        seeded_db,
        settings,
        CREATE,
        {"input": {**base, "target": global_id("Target", 999_998), "source": missing}},
        actor=curator,
    )
    assert data["createClaim"]["userErrors"] == [
        {
            "field": ["input", "target"],
            "message": f"no target is called '{global_id('Target', 999_998)}'; create the target first",
            "code": "NOT_FOUND",
        },
        {
            "field": ["input", "source"],
            "message": f"no source matches '{missing}'; give a DOI (10.x/...), a PMID, a URL or a source ID "
            "of a source that exists (createSource adds one)",
            "code": "NOT_FOUND",
        },
    ]
    data = await gql(
        seeded_db,
        settings,
        CREATE,
        {"input": {**base, "target": "IL-6R", "source": global_id("Source", source)}},
        actor=curator,
    )
    assert data["createClaim"]["claim"]["source"]["id"] == global_id("Source", source)

    # The store takes the id itself; a global ID is only text to it (a name that names nothing).
    record = ClaimRecord.model_validate(
        {**_claim_data(cohort=None, statistics=None), "source": source, "sample_type": "serum"}
    )
    async with seeded_db.write(Actor(curator.user_id, curator.name, Role.CURATOR)) as w:
        claim = await create_claim(w, record.model_copy(update={"statement": "By id, in the store."}))
        assert claim.source_id == source and claim.status is ClaimStatus.DRAFT
    with pytest.raises(StoreError) as caught:
        async with seeded_db.write(Actor(curator.user_id, curator.name, Role.CURATOR)) as w:
            await create_claim(w, record.model_copy(update={"source": global_id("Source", source)}))
    assert [(e.code, e.field) for e in caught.value.errors] == [(UserErrorCode.NOT_FOUND, ("source",))]
