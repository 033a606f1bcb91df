"""The one claim record's documented forms: the committed JSON Schema is the model's, and the
table form (schema/flat.py) reads back what it writes."""

from __future__ import annotations

import json

from api.settings import PROJECT_ROOT
from schema.flat import COLUMNS, missing_columns, record_from_rows, record_rows, unknown_columns
from schema.records import ClaimRecord, claim_record_json_schema
from schema.validation import parse_record

SCHEMA_FILE = PROJECT_ROOT / "docs" / "claim-record.schema.json"


def test_committed_json_schema_is_the_models() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == claim_record_json_schema(), (
        "docs/claim-record.schema.json is stale; run "
        "`claimsdb export-record-schema > docs/claim-record.schema.json`"
    )


def test_json_schema_uses_graphql_field_names() -> None:
    properties = claim_record_json_schema()["properties"]
    assert isinstance(properties, dict)
    assert {"evidenceType", "sampleType", "statement", "evidence"} <= set(properties)
    assert "evidence_type" not in properties


RECORD = {
    "statement": "IL-6R blockade lowers =CSF IL-6",
    "source": "10.1000/example",
    "target": "IL-6R",
    "outcome": "relapse rate",
    "direction": "DECREASES",
    "modality": "ASSERTED",
    "evidenceType": "RANDOMIZED_TRIAL",
    "organism": "Homo sapiens",
    "cohort": {"label": "NMOSD patients", "size": 83},
    "statistics": {"pValue": 0.01},
    "evidence": [
        {"quote": "Relapse fell.", "locator": "p. 4", "stance": "SUPPORTS"},
        {"quote": "Not in all.", "stance": "DISPUTES"},
    ],
}


def test_rows_read_back_as_the_record() -> None:
    rows = record_rows("k1", RECORD)
    assert len(rows) == 2 and all(len(r) == len(COLUMNS) for r in rows)
    data, disagreements = record_from_rows([dict(zip(COLUMNS, r, strict=True)) for r in rows])
    assert disagreements == []
    parsed, errors = parse_record(ClaimRecord, data)
    assert errors == [] and parsed is not None
    again, _ = parse_record(ClaimRecord, RECORD)
    assert parsed == again


def test_rows_of_one_claim_that_disagree_are_reported() -> None:
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in record_rows("k1", RECORD)]
    rows[1]["outcome"] = "something else"
    _, disagreements = record_from_rows(rows)
    assert [column for column, _ in disagreements] == ["outcome"]


def test_headers_are_checked() -> None:
    assert missing_columns(["claim_key", "statement"])[:2] == ["source", "outcome"]
    assert unknown_columns(["claim_key", "evidence.qoute"]) == ["evidence.qoute"]
