"""lookup_ids: several names resolved in one statement must mean what lookup_id says for each."""

from __future__ import annotations

from graphql_client import count_statements, global_id

from api.store.db import Database
from api.store.resolve import lookup_id, lookup_ids
from schema.enums import VocabularyKind

T, OUT, C = VocabularyKind.TARGET, VocabularyKind.OUTCOME, VocabularyKind.CONDITION
ORG = VocabularyKind.ORGANISM


async def test_lookup_ids_agrees_with_lookup_id_name_by_name(seeded_db: Database) -> None:
    async with seeded_db.read() as session:
        mif = await lookup_id(session, T, "MIF")
        assert mif is not None
        names = [
            (T, "IL-6R"),
            (T, "  il6r "),  # an alias, differently spelled and spaced
            (OUT, "disease activity"),
            (ORG, "NCBITaxon:10090"),  # a CURIE
            (C, "MONDO:0005301"),
            (C, "RRMS"),
            (T, global_id("Target", mif)),  # a global ID
            (T, "no such target"),
            (C, ""),
            (OUT, "x" * 400),  # longer than any name: nothing, not an error
        ]
        got = await lookup_ids(session, names)
        expected = [await lookup_id(session, kind, name) for kind, name in names]
    assert got == expected
    assert got[0] == got[1] is not None and got[6] == mif
    assert got[7:] == [None, None, None]
    assert all(value is not None for value in got[:7])


async def test_plain_names_cost_one_statement(seeded_db: Database) -> None:
    names = [(T, "IL-6R"), (OUT, "disease activity"), (ORG, "human"), (C, "RRMS")]
    with count_statements(seeded_db) as log:
        async with seeded_db.read() as session:
            got = await lookup_ids(session, names)
    assert None not in got
    assert log.count == 1, f"expected one statement:\n{log}"
