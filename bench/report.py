"""The results table: printed, and written to bench/RESULTS.md with the machine and the date."""

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Row:
    """One measured figure, with the bare app's figure and the ratio when there is one."""

    name: str
    value: str
    bare: str = ""
    ratio: str = ""
    target: str = ""
    ok: bool | None = None  # None: nothing to compare with (not built yet, or informational)

    @property
    def verdict(self) -> str:
        return {True: "yes", False: "NO", None: "–"}[self.ok]


def table(rows: list[Row]) -> str:
    header = ["measure", "portal", "bare Flask", "ratio", "target", "met"]
    lines = [header] + [[r.name, r.value, r.bare, r.ratio, r.target, r.verdict] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(line):
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) + " |"

    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                     + [fmt(line) for line in lines[1:]])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{memory_kb / 1024 / 1024:.0f} GiB"
    except OSError:
        memory = "?"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {memory} RAM, "
            f"Python {platform.python_version()}; load average before the run: {load}")


def write_results(rows: list[Row], facts: dict, notes: list[str]) -> str:
    """Write this run's section of bench/RESULTS.md (one section per database, the latest run
    of each); returns the table."""
    text = table(rows)
    section = [
        f"## {facts['database']}",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- Machine: {facts['machine']}",
        f"- Command: `{facts['command']}`",
        f"- Data: {facts['scale']}",
        f"- Servers: gunicorn ({facts['gunicorn']}), the same settings for the portal and the bare app;"
        f" load: {facts['tool']}, {facts['connections']} connections, {facts['seconds']} s a round,"
        f" median of {facts['rounds']} alternating rounds",
        "",
        text,
        "",
    ] + [f"- {note}" for note in notes] + [""]
    sections = _sections(RESULTS.read_text() if RESULTS.exists() else "")
    sections[facts["database"]] = "\n".join(section)
    RESULTS.write_text("\n".join([HEADER, *[sections[name] for name in sorted(sections)]]))
    return text


HEADER = """# Benchmark results

Written by `python -m bench` (`make bench`): the latest run on each database. Any other section
(the analysis) is written by hand and kept from run to run.
"""


def _sections(text: str) -> dict[str, str]:
    """The existing "## <name>" sections of RESULTS.md (databases, and the hand-written analysis)."""
    sections = {}
    for chunk in text.split("\n## ")[1:]:
        name = chunk.split("\n", 1)[0].strip()
        sections[name] = "## " + chunk.rstrip() + "\n"
    return sections
