"""lookup_ids: several names resolved in one statement must mean what lookup_id says for each."""

from __future__ import annotations

from graphql_client import count_statements, create_source

from api.store.db import Database
from api.store.resolve import SOURCE, lookup_id, lookup_ids, lookup_source_ids
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
            (T, mif),  # an id (the API decodes a global ID into it)
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


async def test_a_source_agrees_with_lookup_source_ids_and_joins_the_statement(seeded_db: Database) -> None:
    """createClaim looks its source up with its names: a (SOURCE, reference) pair means the one
    source lookup_source_ids finds (None for none or several), and a DOI or PMID costs nothing
    more than the names' statement."""
    by_doi = await create_source(seeded_db, "Source looked up by DOI", doi="10.5555/lookup.1")
    by_pmid = await create_source(seeded_db, "Source looked up by PMID", pmid="31415926")
    references: list[int | str] = [
        "10.5555/lookup.1",
        " https://doi.org/10.5555/LOOKUP.1 ",
        "PMID:31415926",
        by_pmid,  # an id
        "10.5555/no.such.doi",
        "https://nowhere.example.org/",
        "not a reference",
        "",
    ]
    async with seeded_db.read() as session:
        for reference in references:
            got = await lookup_ids(session, [(T, "IL-6R"), (SOURCE, reference)])
            found = await lookup_source_ids(session, reference)
            assert got[1] == (found[0] if len(found) == 1 else None), reference
            assert got[0] is not None, reference
    names = [(T, "IL-6R"), (SOURCE, "10.5555/lookup.1"), (OUT, "disease activity"), (SOURCE, "31415926")]
    with count_statements(seeded_db) as log:
        async with seeded_db.read() as session:
            got = await lookup_ids(session, names)
    assert got[1] == by_doi and got[3] == by_pmid and None not in got
    assert log.count == 1, f"expected one statement:\n{log}"
