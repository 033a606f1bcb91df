"""Writing claim records (api/store/export.py reads them) to a file as JSON Lines, CSV or Parquet,
a chunk at a time, so memory holds one chunk whatever the number of claims. docs/records.md
describes each format."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, contextmanager
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from api.store.export import claim_records
from api.store.record_lines import claim_lines
from schema.enums import ClaimStatus
from schema.flat import COLUMNS, neutralised, record_rows

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")
Chunks = AsyncIterator[list[dict[str, Any]]]


async def write_jsonl(chunks: Chunks, out: IO[bytes], progress: Callable[[int], None] | None = None) -> int:
    count = 0
    for_line = orjson.OPT_APPEND_NEWLINE
    async for chunk in chunks:
        out.write(b"".join(orjson.dumps(record, option=for_line) for record in chunk))
        count += len(chunk)
        if progress is not None:
            progress(len(chunk))
    return count


async def write_csv(chunks: Chunks, out: IO[bytes], progress: Callable[[int], None] | None = None) -> int:
    """One row per quote (schema/flat.py); every cell neutralised against formula injection. The
    claim key is the claim's position in the file."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    async for chunk in chunks:
        rows = []
        for record in chunk:
            count += 1
            rows.extend([neutralised(cell) for cell in row] for row in record_rows(str(count), record))
        writer.writerows(rows)
        if progress is not None:
            progress(len(chunk))
    text.flush()
    text.detach()  # leave `out` open for the caller
    return count


def _parquet_schema() -> Any:
    import pyarrow as pa

    string, integer, number = pa.string(), pa.int64(), pa.float64()
    cohort = pa.struct([("label", string), ("size", integer), ("femaleCount", integer), ("condition", string),
                        ("treatmentStatus", string), ("sampleType", string)])  # fmt: skip
    statistics = pa.struct([("effectSize", number), ("effectMeasure", string), ("pValue", number),
                            ("ciLow", number), ("ciHigh", number)])  # fmt: skip
    evidence = pa.list_(
        pa.struct([("quote", string), ("locator", string), ("stance", string), ("source", string)])
    )
    return pa.schema([
        ("statement", string), ("source", string), ("target", string), ("intervention", string),
        ("outcome", string), ("direction", string), ("modality", string), ("evidenceType", string),
        ("organism", string), ("condition", string), ("cohort", cohort), ("comparator", cohort),
        ("sampleType", string), ("statistics", statistics), ("evidence", evidence),
    ])  # fmt: skip


def _for_parquet(record: dict[str, Any]) -> dict[str, Any]:
    """Sources as text (a DOI, a PMID or an id in one column)."""
    out = {**record, "source": str(record["source"])}
    out["evidence"] = [
        {**ev, "source": str(ev["source"])} if "source" in ev else ev for ev in record.get("evidence") or ()
    ]
    return out


async def write_parquet(chunks: Chunks, out: IO[bytes], progress: Callable[[int], None] | None = None) -> int:
    """One row per claim, nested fields as structs, quotes as a list; a row group per chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    count = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        async for chunk in chunks:
            writer.write_table(pa.Table.from_pylist([_for_parquet(r) for r in chunk], schema=schema))
            count += len(chunk)
            if progress is not None:
                progress(len(chunk))
    return count


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


async def write_claims(
    fmt: Format,
    session: AsyncSession,
    statuses: Sequence[ClaimStatus],
    out: IO[bytes],
    progress: Callable[[int], None] | None = None,
) -> int:
    """The claims in `statuses`, read through `session`, written to `out` in `fmt`. JSON Lines
    come as the database writes them (api/store/record_lines.py: the same bytes write_jsonl
    writes of the records, in a fraction of the time); CSV and Parquet from the records."""
    if fmt != "jsonl":
        return await WRITERS[fmt](claim_records(session, statuses), out, progress)
    count = 0
    loop = asyncio.get_running_loop()
    # Written by one thread while the database reads the next chunk (one: each thread that
    # frees the chunks' large buffers would keep a malloc arena of its own).
    # aclosing: a failed write (a closed pipe) stops the reads at once, not when collected.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-writer") as writer:
        async with aclosing(claim_lines(session, statuses)) as chunks:
            async for lines, claims in chunks:
                await loop.run_in_executor(writer, out.write, lines)
                count += claims
                if progress is not None:
                    progress(claims)
    return count


MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


@contextmanager
def output_file(path: Path | None) -> Iterator[IO[bytes]]:
    """Standard output, or a file written whole or not at all: a temporary file beside `path`,
    renamed over it only when the body succeeds."""
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with temporary.open("wb") as file:
            yield file
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
