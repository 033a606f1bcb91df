"""Claim pages as JSON documents built by the database (the compiled read path).

The GraphQL layer (api/graphql/compiled) describes what a client selected as a `Shape`: which
keys each object has and where each value comes from (a column of its row, a constant, a related
row, a list of related rows or names). `claim_documents` fetches one page of a `ClaimList` (the
same filter, visibility, ordering and plan as the ordinary resolvers) and builds, per claim, one
JSON text per shape, in SQL: json_object / json_group_array on SQLite, json_build_object /
json_agg on PostgreSQL (`json`, not `jsonb`, so keys keep their order). Related objects are
joined by primary key (SQLite) or read by correlated subqueries (PostgreSQL; see _documents),
lists by correlated subqueries, evaluated only for the page's rows; relations, their keys and
their orders are the ones the DataLoaders follow (api/store/queries/relations.py); so the
document equals what the resolvers would build, value for value, once the GraphQL layer has
turned ids into global IDs and timestamps into the DateTime scalar's text. The SQL of a
selection is made once (`Documents`).

Values leave the database as JSON can carry them exactly: integers, text, booleans, dates as
YYYY-MM-DD, timestamps as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLite's stored form; PostgreSQL
renders the same). Floats are refused (`UnsupportedShape`): SQLite writes them with 15 significant
digits, which would not round-trip.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from api.caches import NamedCache
from api.store.queries import relations
from api.store.queries.claims import ClaimList
from api.store.queries.pagination import Ordering, Page, PageRequest, page_of_rows
from api.store.queries.relations import ToMany, ToOne
from schema.base import UTCDateTime

R = TypeVar("R", ToOne, ToMany, relations.Names)


class UnsupportedShape(ValueError):
    """The shape asks for something this module cannot build exactly; use the resolvers."""


# --- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of the object's own row."""

    name: str


@dataclass(frozen=True)
class Constant:
    """A fixed text (GraphQL's __typename)."""

    value: str


@dataclass(frozen=True)
class One:
    """The related row (null when the foreign key is null)."""

    relation: str
    shape: Shape


@dataclass(frozen=True)
class FirstOf:
    """The first of several related rows that exists (a claim's subject: target or intervention,
    never both, by the claim table's CHECK constraint)."""

    options: tuple[One, ...]


@dataclass(frozen=True)
class Many:
    """The related rows, as a list in the DataLoaders' order."""

    relation: str
    shape: Shape


@dataclass(frozen=True)
class Names:
    """A list of names (aliases, cross-references), in the DataLoaders' order."""

    relation: str


Value = Column | Constant | One | FirstOf | Many | Names


@dataclass(frozen=True)
class Shape:
    """One JSON object: its keys, in order, and where each value comes from."""

    entity: str
    fields: tuple[tuple[str, Value], ...]


# Keys and constants are written into the SQL text (PostgreSQL cannot type a bound parameter
# given to json_build_object), so only GraphQL names (plus '#', a marker no name can hold) pass.
_SAFE_TEXT = re.compile(r"[#A-Za-z_][A-Za-z0-9_]*")
# json_build_object takes at most 100 arguments; SQLite's json_object 127 by default.
MAX_KEYS = 50


@lru_cache(maxsize=1)
def _subtypes_pass() -> bool:
    """Whether this process's SQLite keeps JSON values JSON through a scalar subquery, nested as
    the documents nest them (3.40 does; the documentation promises nothing). aiosqlite runs the
    standard library's sqlite3, so asking it once answers for every connection."""
    probe = "SELECT json_object('a', (SELECT json_group_array(json_object('b', (SELECT json_array(1))))))"
    try:
        with closing(sqlite3.connect(":memory:")) as connection:
            return bool(connection.execute(probe).fetchone()[0] == '{"a":[{"b":[1]}]}')
    except sqlite3.Error:
        return False


def _text(value: str) -> Any:
    if not _SAFE_TEXT.fullmatch(value):
        raise UnsupportedShape(f"'{value}' cannot be written into SQL")
    return sa.literal_column(f"'{value}'")


class _JsonBuilder:
    """SQL expressions building JSON for one dialect.

    Related rows reached from the claim through to-one relations only (its subject, outcome,
    source, the source's origin, ...) are LEFT JOINs of the statement (`joins`): each table is
    read once per row by its primary key, and its object is built inline. Lists, and what list
    items relate to, are correlated subqueries, evaluated for the page's rows only. (PostgreSQL
    plans each subquery alone, so it cannot share a lookup across rows: it reads a vocabulary
    table of a few hundred rows through in every subquery; hence joins where joins can be.)"""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        # (alias, ON clause) for the statement's FROM, in order; aliases named j1, j2, ... so that
        # the documents' SQL text (see _as_text) and the FROM agree on them.
        self.joins: list[tuple[Any, Any]] = []

    def object(self, shape: Shape, row: Any, joinable: bool = False) -> Any:
        """A JSON object for `row` (an alias of the shape's entity table); `joinable`: the row is
        one of the statement's FROM items, so its to-one relations can be joined to it."""
        if len(shape.fields) > MAX_KEYS:
            raise UnsupportedShape(f"{len(shape.fields)} keys in one object; at most {MAX_KEYS}")
        arguments: list[Any] = []
        for key, value in shape.fields:
            arguments.append(_text(key))
            arguments.append(self.value(shape.entity, value, row, joinable))
        return (sa.func.json_object if self.sqlite else sa.func.json_build_object)(*arguments)

    def value(self, entity: str, value: Value, row: Any, joinable: bool = False) -> Any:
        if isinstance(value, Column):
            return self.column(row, value.name)
        if isinstance(value, Constant):
            return _text(value.value)
        if isinstance(value, One) and joinable:
            child, present = self.joined(entity, value, row)
            return sa.case((present, self.object(value.shape, child, joinable=True)), else_=sa.null())
        if isinstance(value, FirstOf) and joinable:
            whens = []
            for option in value.options:
                child, present = self.joined(entity, option, row)
                whens.append((present, self.object(option.shape, child, joinable=True)))
            return sa.case(*whens, else_=sa.null())
        if isinstance(value, One):
            return self.embedded(self.related(entity, value, row))
        if isinstance(value, FirstOf):
            return self.embedded(sa.func.coalesce(*[self.related(entity, o, row) for o in value.options]))
        if isinstance(value, Many):
            return self.embedded(self.many(entity, value, row))
        if isinstance(value, Names):
            return self.embedded(self.names(entity, value.relation, row))
        raise UnsupportedShape(f"unknown value {value!r}")

    def joined(self, entity: str, one: One, row: Any) -> tuple[Any, Any]:
        """The related table joined to `row` (LEFT JOIN on its primary key), and the condition
        that a related row is there (the foreign key is set)."""
        spec = self._declared(entity, one.relation, ToOne, one.shape.entity)
        child = relations.entity(spec.child).table.alias(f"j{len(self.joins) + 1}")
        self.joins.append((child, child.c.id == row.c[spec.foreign_key]))
        return child, row.c[spec.foreign_key].is_not(None)

    @staticmethod
    def _declared(entity: str, name: str, kind: type[R], child: str | None = None) -> R:
        """The relation `entity.name` (relations.py), which must be of `kind` and lead to `child`."""
        try:
            spec = relations.relation(entity, name)
        except relations.UnknownRelation as exc:
            raise UnsupportedShape(str(exc)) from None
        if not isinstance(spec, kind):
            raise UnsupportedShape(f"{entity}.{name} is not a {kind.__name__} relation")
        if child is not None and getattr(spec, "child", None) != child:
            raise UnsupportedShape(f"{entity}.{name} leads to {getattr(spec, 'child', None)}, not {child}")
        return spec

    def embedded(self, expression: Any) -> Any:
        """A JSON value from a subquery, marked as JSON where it is embedded: SQLite passes the
        'this is JSON' mark through a scalar subquery in some versions only (_SUBTYPES_PASS);
        where it does not, json() sets it again (at the cost of parsing the value once more)."""
        return sa.func.json(expression) if self.sqlite and not _subtypes_pass() else expression

    def column(self, row: Any, name: str) -> Any:
        column = row.c.get(name)
        if column is None:
            raise UnsupportedShape(f"no column {name}")
        column_type = column.type
        if isinstance(column_type, sa.Float):
            raise UnsupportedShape(f"{name} is a float")
        if isinstance(column_type, sa.Boolean):
            # SQLite keeps 0/1; json() of the literal text makes a JSON true/false.
            true, false = sa.literal_column("'true'"), sa.literal_column("'false'")
            return sa.func.json(sa.case((column, true), else_=false)) if self.sqlite else column
        if isinstance(column_type, sa.JSON):
            return sa.func.json(column) if self.sqlite else column
        if isinstance(column_type, UTCDateTime | sa.DateTime):
            if self.sqlite:
                return column  # stored as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff'
            utc = sa.func.timezone(sa.literal_column("'UTC'"), column)
            return sa.func.to_char(utc, sa.literal_column("'YYYY-MM-DD HH24:MI:SS.US'"))
        return column

    def related(self, entity: str, one: One, row: Any) -> Any:
        """The related row's object as a correlated subquery. LIMIT 1 (the key is the primary
        key, so it changes nothing) lets PostgreSQL stop at the row it finds: for the few hundred
        rows of a vocabulary table it scans rather than probes its index inside a subquery."""
        spec = self._declared(entity, one.relation, ToOne, one.shape.entity)
        child = relations.entity(spec.child).table.alias()
        return (
            sa.select(self.object(one.shape, child))
            .where(child.c.id == row.c[spec.foreign_key])
            .limit(1)
            .scalar_subquery()
        )

    def many(self, entity: str, many: Many, row: Any) -> Any:
        spec = self._declared(entity, many.relation, ToMany, many.shape.entity)
        child = relations.entity(spec.child).table.alias()
        link = relations.entity(spec.link).table.alias() if spec.link is not None else None
        # batch.rows_by_parent's key and order: columns of the link table when there is one
        keyed = link if link is not None else child
        order = [keyed.c[column] for column in spec.order]
        belongs = keyed.c[spec.parent_key] == row.c.id
        if self.sqlite:
            # SQLite 3.40 has no ORDER BY inside an aggregate: the aggregate reads an ordered
            # subquery, which SQLite does not flatten into an aggregate query (so keeps its order).
            joined = child
            if link is not None and spec.child_key is not None:
                joined = sa.join(link, child, child.c.id == link.c[spec.child_key])
            rows = sa.select(child).select_from(joined).where(belongs).order_by(*order).correlate(row)
            ordered = rows.subquery()
            return (
                sa.select(sa.func.json_group_array(self.object(many.shape, ordered)))
                .select_from(ordered)
                .scalar_subquery()
            )
        empty = sa.literal_column("'[]'::json")
        if link is not None and spec.child_key is not None:
            # Each item found by its key (related's LIMIT 1 subquery): joined to the link table
            # instead, PostgreSQL would hash the whole vocabulary table once per parent.
            item = (
                sa.select(self.object(many.shape, child))
                .where(child.c.id == link.c[spec.child_key])
                .limit(1)
                .scalar_subquery()
            )
            aggregate = sa.func.json_agg(aggregate_order_by(item, *order))
            return (
                sa.select(sa.func.coalesce(aggregate, empty))
                .select_from(link)
                .where(belongs)
                .scalar_subquery()
            )
        aggregate = sa.func.json_agg(aggregate_order_by(self.object(many.shape, child), *order))
        return (
            sa.select(sa.func.coalesce(aggregate, empty)).select_from(child).where(belongs).scalar_subquery()
        )

    def names(self, entity: str, relation: str, row: Any) -> Any:
        vocab = self._declared(entity, relation, relations.Names).vocabulary
        if relation == "aliases":
            # batch.names_by_owner: the names other than the preferred label, by alias id
            table = vocab.alias_table.__table__.alias()
            owner, value, order = table.c[vocab.alias_fk], table.c.alias, table.c.id
            where = [owner == row.c.id, table.c.preferred.is_(False)]
        elif relation == "xrefs" and vocab.xref_table is not None and vocab.xref_fk is not None:
            # batch.names_by_owner: by xref id
            table = vocab.xref_table.__table__.alias()
            owner, value, order = table.c[vocab.xref_fk], table.c.curie, table.c.id
            where = [owner == row.c.id]
        elif relation == "xrefs":
            return sa.literal_column("'[]'") if self.sqlite else sa.literal_column("'[]'::json")
        else:
            raise UnsupportedShape(f"no names {entity}.{relation}")
        if self.sqlite:
            ordered = sa.select(value.label("v")).where(*where).order_by(order).correlate(row).subquery()
            return sa.select(sa.func.json_group_array(ordered.c.v)).scalar_subquery()
        aggregate = sa.func.json_agg(aggregate_order_by(value, order))
        empty = sa.literal_column("'[]'::json")
        return sa.select(sa.func.coalesce(aggregate, empty)).where(*where).scalar_subquery()

    def text(self, document: Any) -> Any:
        """The document as text for the driver (asyncpg would otherwise decode `json` itself)."""
        return document if self.sqlite else sa.cast(document, sa.Text)


# --- a page of claims as documents ------------------------------------------------------------


@dataclass(frozen=True)
class _DocumentsSql:
    """What a statement over the page needs to build the documents: the alias of the rows'
    table (named c), the joins (alias, ON clause) to add after it, and one text expression per
    shape."""

    row: Any
    joins: list[tuple[Any, Any]]
    expressions: list[Any]
    sqlite: bool


# The SQL of each selection's documents, by dialect and shapes (see _documents).
_SQL: NamedCache[tuple[Any, tuple[Shape, ...], str], _DocumentsSql] = NamedCache(
    "compiled documents SQL", maxsize=256
)


def _documents(dialect: Any, shapes: tuple[Shape, ...], entity: str) -> _DocumentsSql:
    """The SQL of the documents, made once per selection and dialect: building the expression
    tree, and compiling it, costs more Python than all the rest of a request. The expressions
    hold no parameters (keys and constants are written in), so each is compiled once to SQL text
    and embedded in every statement as that text."""
    made = _SQL.get((dialect, shapes, entity))
    if made is None:
        made = _SQL.put((dialect, shapes, entity), _make_documents(dialect, shapes, entity))
    return made


def _make_documents(dialect: Any, shapes: tuple[Shape, ...], entity: str) -> _DocumentsSql:
    """`shapes` are all of `entity` (claims for a page, a vocabulary's rows for a summary)."""
    builder = _JsonBuilder(dialect.name)
    others = sorted({shape.entity for shape in shapes} - {entity})
    if others:
        raise UnsupportedShape(f"documents of {entity} rows, not of {others}")
    row = relations.entity(entity).table.alias("c")
    documents = [builder.text(builder.object(shape, row, joinable=True)) for shape in shapes]
    source = row
    for alias, on in builder.joins:
        source = source.outerjoin(alias, on)
    return _DocumentsSql(
        row, builder.joins, [_as_text(dialect, d, source) for d in documents], builder.sqlite
    )


def _as_text(dialect: Any, document: Any, source: Any) -> Any:
    """`document` as literal SQL, compiled where it will stand: in the select list of a query
    over the claim alias and its joins (so its subqueries correlate to them instead of selecting
    from them). Aliases are named (c, j1, j2, ...), so the text and the FROM built for each
    statement (claim_documents) name them alike."""
    compiled = str(
        sa.select(document.label("document"))
        .select_from(source)
        .compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    )
    head, tail = "SELECT ", " AS document \nFROM "
    end = compiled.rfind(tail)
    if not compiled.startswith(head) or end < 0 or "%" in compiled:
        return document  # not the text expected: use the expression itself (slower, as correct)
    return sa.literal_column(compiled[len(head) : end], sa.Text)


@dataclass
class DocumentPage:
    """One page: per claim, the decoded document of each shape (in the order given) and its sort
    keys; whether there are pages before and after (pagination.Page); the total when asked for."""

    documents: list[tuple[Any, ...]]
    keys: list[Sequence[Any]]
    page: Page
    ordering: Ordering
    total: int | None

    def cursor(self, index: int) -> str:
        """The cursor of the claim at `index` (pagination's codec; encoded only when asked for:
        a client reading pageInfo.endCursor needs one of a page's hundred)."""
        return self.ordering.encode_cursor(self.keys[index])


class Documents:
    """The shapes of one selection (a document per shape and claim), and their SQL per dialect
    once made: a planned operation keeps this, so its requests neither rebuild nor even hash the
    shapes."""

    def __init__(self, shapes: Sequence[Shape], entity: str = "claim") -> None:
        self.shapes = tuple(shapes)
        self.entity = entity
        self._sql: dict[Any, _DocumentsSql] = {}

    def sql(self, dialect: Any) -> _DocumentsSql:
        made = self._sql.get(dialect)
        if made is None:
            made = self._sql[dialect] = _documents(dialect, self.shapes, self.entity)
        return made


async def claim_documents(
    session: AsyncSession,
    claims: ClaimList,
    request: PageRequest,
    documents: Documents,
    with_total: bool = False,
) -> DocumentPage:
    """One page of `claims` in two statements at most (the page; the total when asked for).

    The page is the ordinary path's keyset page (ClaimList.page: the sort keys of the page's
    claims) as a subquery; the documents are built over its rows alone, so however many claims
    the filter matches, JSON is built for one page (plus the row that tells there is more).
    """
    request = request.validated()
    page = claims.page(request)
    rows: list[Any] = []
    if request.size:
        sql = documents.sql(session.bind.dialect)
        columns = list(page.c)
        source = page.join(sql.row, sql.row.c.id == columns[-1])
        for alias, on in sql.joins:
            source = source.outerjoin(alias, on)
        statement = (
            sa.select(*columns, *sql.expressions)
            .select_from(source)
            .order_by(*claims.page_order(page, request))
        )
        # On the session's connection: the statement returns plain rows, so the ORM's
        # per-statement work would be spent for nothing.
        connection = await session.connection()
        if not sql.sqlite and sql.joins:
            # The joins are written in the order to run them (the page, then each related row by
            # its primary key): PostgreSQL need not search the orders of up to a dozen joins, at
            # ~5 ms a planning (and it plans again for each cursor its generic plan misjudges).
            # For this read transaction only (bench/RESULTS.md, finding 6).
            await connection.exec_driver_sql("SET LOCAL join_collapse_limit = 1")
        rows = list((await connection.execute(statement)).all())
    total = int(await session.scalar(claims.count_statement()) or 0) if with_total else None

    async def count() -> int:
        return total or 0

    width = len(page.c)
    fetched = page_of_rows(rows, claims.ordering, request, lambda row: row[:width], count, encode=False)
    # One decoding for the whole page: the documents joined into one JSON array of arrays.
    texts = ",".join("[" + ",".join(row[width:]) + "]" for row in fetched.rows)
    decoded = [tuple(documents) for documents in orjson.loads("[" + texts + "]")]
    keys = [row[:width] for row in fetched.rows]
    return DocumentPage(decoded, keys, fetched, claims.ordering, total)


async def object_documents(session: AsyncSession, documents: Documents, ids: Sequence[int]) -> dict[int, Any]:
    """The decoded document (of the one shape `documents` holds) of each row of its entity whose
    id is in `ids`, by id: objects shown beside a claim page or a summary (a summary's
    conditions and outcomes), built as the claim documents build them."""
    if len(documents.shapes) != 1:
        raise UnsupportedShape("one shape per object_documents")
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    sql = documents.sql(session.bind.dialect)
    source: Any = sql.row
    for alias, on in sql.joins:
        source = source.outerjoin(alias, on)
    statement = sa.select(sql.row.c.id, *sql.expressions).select_from(source).where(sql.row.c.id.in_(wanted))
    connection = await session.connection()
    rows = (await connection.execute(statement)).all()
    decoded = orjson.loads("[" + ",".join(row[1] for row in rows) + "]")
    return {row[0]: document for row, document in zip(rows, decoded, strict=True)}
