"""bench/reliability.py, which writes docs/reliability.md, without running the suites: a stand-in
run hands it test outcomes, HTTP counts and figure files, and the document must carry exactly
those numbers (so the report cannot rot, or print figures it was not given)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench import reliability
from bench.reliability import RecordedTest, Recorder

LOAD = {
    "suite": "load",
    "test": "concurrent_writers_and_readers",
    "backend": "postgresql",
    "duration_seconds": 12.3,
    "writers": 16,
    "readers": 4,
    "requests_total": 4321,
    "acknowledged_writes": 987,
    "acknowledged_by_kind": {"createClaim": 600, "updateClaim": 387},
    "user_errors_by_code": {"VERSION_CONFLICT": 55},
    "busy_answers": 7,
    "http_5xx": 0,
    "transport_errors": 0,
    "latency_ms": {"all": {"p50": 41.5, "p99": 812.4}, "updateClaim": {"p50": 20.0, "p99": 90.0}},
    "reader_pages": {"claims": 31, "conflicts": 17},
    "conflict_pairs_compared": {"anonymous": 5, "reviewer": 9},
    "claims_in_database": 654,
    "audit_events_verified": 2222,
}
SERVER_KILL = {
    "suite": "faults",
    "test": "server_sigkill",
    "backend": "sqlite",
    "kills": 2,
    "cycles": [
        {
            "write_transaction_open": True,
            "in_flight": 6,
            "acknowledged_writes": 12,
            "unanswered_requests": 5,
            "unanswered_that_committed_whole": 1,
            "unanswered_absent": 4,
            "restart_seconds": 3.5,
            "audit_events_verified": 178,
        },
        {
            "write_transaction_open": False,
            "in_flight": 3,
            "acknowledged_writes": 13,
            "unanswered_requests": 2,
            "unanswered_that_committed_whole": 0,
            "unanswered_absent": 2,
            "restart_seconds": 3.6,
            "audit_events_verified": 198,
        },
    ],
}
SEED_KILL = {
    "suite": "faults",
    "test": "seed_sigkill",
    "backend": "sqlite",
    "kills": 1,
    "attempts": [{"landed": "inside the transaction"}],
    "uninterrupted_write_seconds": 8.4,
    "audit_events_verified": 151,
}


def fake_run(files: list[str], figures: Path, env: dict[str, str], extra: list[str]) -> Recorder:
    """What run_suites returns, without pytest: a few tests, their requests, figure files."""
    for document in (LOAD, SERVER_KILL, SEED_KILL):
        (figures / f"{document['suite']}-{document['test']}-{document['backend']}.json").write_text(
            json.dumps(document)
        )
    recorder = Recorder()
    tests = [
        RecordedTest(
            "tests/test_load.py::test_concurrent_writers_and_readers[postgresql]",
            "passed",
            30.0,
            4400,
            Counter({200: 4400}),
        ),
        RecordedTest(
            "tests/test_faults.py::test_server_killed_mid_mutations_restarts_whole[sqlite]",
            "passed",
            60.0,
            40,
            Counter({200: 40}),
        ),
        RecordedTest(
            "tests/test_faults.py::test_seed_killed_mid_way_then_rerun_equals_uninterrupted[sqlite]",
            "failed",
            10.0,
            message="AssertionError: a killed seed left part of its rows \ud800",
        ),
        RecordedTest(
            "tests/test_security.py::test_no_field_suggestions[sqlite-claimz]",
            "passed",
            1.0,
            3,
            Counter({200: 2, 500: 1}),
        ),
        RecordedTest(
            "tests/test_fuzz.py::test_garbage[postgresql]",
            "passed",
            20.0,
            61,
            Counter({200: 61}),
            fuzz_cases=60,
        ),
    ]
    recorder.tests = {t.nodeid: t for t in tests}
    recorder.exit_status = 1
    return recorder


def test_the_document_holds_the_run_figures(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(reliability, "postgres_version", lambda: "15.0 (stand-in)")
    output = tmp_path / "reliability.md"
    status = reliability.main(["--output", str(output)], run=fake_run)
    text = output.read_text()
    assert status == 1, "the exit status is pytest's"
    assert "python -m bench.reliability" in text and "## Machine and versions" in text
    assert "15.0 (stand-in)" in text
    assert "**4 tests passed, 1 failed, 0 skipped; pytest exit status 1.**" in text
    rows = {line for line in text.splitlines() if line.startswith("| `tests/")}
    # load on PostgreSQL: its requests, writers / readers from the figures, held
    assert (
        "| `tests/test_load.py` | postgresql | 1 / 0 / 0 | 4,400 | 0 | 0 | 0 | 16 / 4 | – | – | 30 | held |"
        in rows
    )
    # the seed kill failed: the faults row on SQLite says so; kills: the server's 2 and the seed's 1
    assert (
        "| `tests/test_faults.py` | sqlite | 1 / 1 / 0 | 40 | 0 | 0 | 0 | – | 3 | – | 70 | **FAILED** |"
        in rows
    )
    # a 500 anywhere is shown, with the test's parameter parsed to its database
    assert "| `tests/test_security.py` | sqlite | 1 / 0 / 0 | 3 | 1 | 0 | 0 | – | – | – | 1 | held |" in rows
    assert (
        "| `tests/test_fuzz.py` | postgresql | 1 / 0 / 0 | 61 | 0 | 0 | 0 | – | – | 60 | 20 | held |" in rows
    )
    assert "| acknowledged writes | 987 |" in text and "| busy answers (SERVICE_BUSY, retried) | 7 |" in text
    assert "| latency p50 / p99 ms, all | 41.5 / 812.4 |" in text
    assert "| sqlite | 2 | not seen | 3 | 13 | 2 | 0 | 2 | 3.6 | 198 |" in text
    assert "| `claimsdb seed` | sqlite | 1 | inside the transaction | 8.4 | 151 |" in text
    # a lone surrogate (a fuzzer's input quoted in a message) is escaped, not a crash
    assert "AssertionError: a killed seed left part of its rows \\ud800" in text


def test_the_database_of_a_test_comes_from_its_parameters() -> None:
    assert RecordedTest("tests/test_x.py::test_a[sqlite]").database == "sqlite"
    assert RecordedTest("tests/test_x.py::test_a[postgresql-probe]").database == "postgresql"
    assert RecordedTest("tests/test_x.py::test_a[probe-sqlite]").database == "sqlite"
    assert RecordedTest("tests/test_x.py::test_a[sqlite_like]").database is None
    assert RecordedTest("tests/test_x.py::test_a").database is None


def test_hypothesis_statistics_are_read_in_both_formats() -> None:
    text = "- 60 passing, 0 failing, and 7 invalid test cases\n- 2 passing examples, 1 failing examples"
    assert sum(int(p) + int(f) for p, f in reliability._EXAMPLES.findall(text)) == 63
