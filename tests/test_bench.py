"""The benchmark runs end to end at a small scale and reports every measure (its speed is not asserted)."""

import os
import re

from bench.__main__ import main

MEASURES = ["client page: General settings", "admin list: Administrators (50 rows)",
            "Deny access htmx toggle", "login / one argon2 verify", "the same, client round trip",
            "users list: p50 / p95", "auth log: p50 / p95", "orders list: p50 / p95",
            "clear data (10 users, 100 log rows)", "auth-log purge (1,000 rows)"]


def test_bench_reports_every_measure(capsys, monkeypatch):
    monkeypatch.setenv("BENCH_NO_INSTALL", "1")  # wrk if the machine has it, else the Python load generator
    database = ["--database-url", os.environ["PORTAL_TEST_DATABASE_URL"]] \
        if os.environ.get("PORTAL_TEST_DATABASE_URL") else []
    assert main([*database, "--divide", "1000", "--seconds", "1", "--rounds", "1", "--no-write"]) == 0
    printed = capsys.readouterr().out
    rows = {cells[0]: cells[1:] for cells in (
        [cell.strip() for cell in line.strip("|").split("|")] for line in printed.splitlines()
        if line.startswith("| "))}
    for measure in MEASURES:
        assert re.match(r"[0-9.]+( / [0-9.]+)? (ms|s|req/s)$", rows[measure][0]), (measure, rows[measure])
    assert "bad answers" not in printed
