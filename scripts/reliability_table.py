"""Build the table in docs/RELIABILITY.md: each reliability test, what it proves, its latest figures.

    .venv/bin/python scripts/reliability_table.py [--run] [--junit PATH] [--soak PATH] [--check]

--run     runs the fast reliability tests first (tests/hardening, the authorization matrix, public ids,
          the web concurrency, read-retry and SQLite writer-lock tests) with pytest's JUnit XML output, then
          builds the table from that output;
--junit   reads an existing JUnit XML file instead (default: bench/out/reliability-junit.xml);
--soak    the soak's result file (default: the newest bench/soak/results/soak-*.json);
--check   exits 1 when the table in the document differs from the one built (for CI or review).

What each test proves is its docstring's first line, else its name in words; figures are its outcome
(passed cases / all cases) and time from the JUnit file, and for the soak the figures of its result file.
The table is written between the markers `<!-- reliability-table:start -->` and `:end -->`.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"
JUNIT = ROOT / "bench" / "out" / "reliability-junit.xml"
SOAKS = ROOT / "bench" / "soak" / "results"
TESTS = [
    "tests/hardening",
    "tests/web/test_web_authorization_matrix.py",
    "tests/web/test_web_public_ids.py",
    "tests/web/test_web_concurrency.py",
    "tests/web/test_web_retry.py",
    "tests/store/test_sqlite_writer.py",
]
START, END = "<!-- reliability-table:start -->", "<!-- reliability-table:end -->"


@dataclass
class Row:
    """One test function (all its parametrized cases together)."""

    file: str
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    skip_reasons: set[str] = field(default_factory=set)


def run_tests(junit: Path) -> int:
    """Run the fast reliability tests with JUnit XML output; returns pytest's exit status."""
    junit.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    return subprocess.call(command, cwd=ROOT)


def read_junit(path: Path) -> dict[tuple[str, str], Row]:
    """Test functions with their case counts and total time, from a JUnit XML file."""
    rows: dict[tuple[str, str], Row] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "")
        file = module.replace(".", "/") + ".py"
        name = case.get("name", "").split("[", 1)[0]
        row = rows.setdefault((file, name), Row(file=file, name=name))
        row.seconds += float(case.get("time", 0) or 0)
        skipped = case.find("skipped")
        if skipped is not None:
            row.skipped += 1
            row.skip_reasons.add((skipped.get("message") or "").strip()[:80])
        elif case.find("failure") is not None or case.find("error") is not None:
            row.failed += 1
        else:
            row.passed += 1
    return rows


def what_it_proves(file: str, name: str) -> str:
    """The test's docstring (first line), else its name in words."""
    path = ROOT / file
    if not path.exists():
        candidates = list((ROOT / "tests").rglob(Path(file).name))
        path = candidates[0] if candidates else path
    if path.exists():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name == name:
                doc = ast.get_docstring(node)
                if doc:
                    return doc.strip().splitlines()[0]
    words = name.removeprefix("test_").replace("_", " ")
    return words[:1].upper() + words[1:]


def newest_soak(folder: Path) -> Path | None:
    """The newest soak result file, or None."""
    found = sorted(folder.glob("soak-*.json"))
    return found[-1] if found else None


def soak_rows(path: Path | None) -> list[str]:
    """Table rows for the soak (from its JSON result)."""
    if path is None:
        return ["| bench/soak/soak.py | 50 clients, mixed reads/writes, 10 min on PostgreSQL | not run yet |"]
    r = json.loads(path.read_text(encoding="utf-8"))
    verdict = ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["pass"].items())
    think = r.get("think_ms", 0.0)  # files from before the option sent requests back to back
    pacing = f"pausing {think:.0f} ms on average between requests" if think else "back to back"
    figures = (
        f"{r['date'][:16].replace('T', ' ')} UTC, {r['machine']}; "
        f"{r['clients']} clients {pacing}, {r['seconds']:.0f} s "
        f"({r['warmup_s']:.0f} s warm-up), {r['requests']} requests ({r['throughput_rps']} req/s), "
        f"**{r['errors']} errors**; p95 reads **{r['reads_p95_ms']} ms** (target ≤ 100), "
        f"p95 writes **{r['writes_p95_ms']} ms** (target ≤ 150); server RSS {r['rss_mb_first_minute']} → "
        f"{r['rss_mb_last_minute']} MB (growth {100 * (r['rss_growth'] or 0):.1f}%, limit 10%). "
        f"Met: {verdict}"
    )
    return [
        f"| `bench/soak/soak.py` ({path.relative_to(ROOT)}) | Under 50 concurrent clients for 10 minutes the "
        f"server makes no error, stays within the latency targets and does not grow in memory | {figures} |"
    ]


def build_table(rows: dict[tuple[str, str], Row], soak: Path | None, junit: Path) -> str:
    """The Markdown table (one line per test function, then the soak)."""
    lines = [
        "| test | what it proves | latest figures |",
        "|---|---|---|",
    ]
    for (file, name), row in sorted(rows.items()):
        total = row.passed + row.failed + row.skipped
        status = "passed" if row.failed == 0 and row.skipped == 0 else "FAILED" if row.failed else "skipped"
        cases = f"{row.passed}/{total} cases passed" if total > 1 else status
        if row.skipped:
            cases += f" ({row.skipped} skipped: {'; '.join(sorted(row.skip_reasons))})"
        lines.append(f"| `{file}::{name}` | {what_it_proves(file, name)} | {cases}, {row.seconds:.1f} s |")
    lines.extend(soak_rows(soak))
    stamp = junit.stat().st_mtime if junit.exists() else 0
    import datetime as dt

    when = dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if stamp else "never"
    lines.append("")
    lines.append(
        f"Fast tests last run: {when} (JUnit: `{junit.relative_to(ROOT)}`). Built by `{Path(__file__).name}`."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--junit", type=Path, default=JUNIT)
    parser.add_argument("--soak", type=Path, default=None)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.run:
        run_tests(args.junit)
    if not args.junit.exists():
        raise SystemExit(f"--junit: {args.junit} does not exist; run with --run first")
    table = build_table(read_junit(args.junit), args.soak or newest_soak(SOAKS), args.junit)
    text = DOC.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{DOC}: the markers {START} and {END} are missing")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{START}\n{table}\n{END}{tail}"
    if args.check:
        sys.exit(0 if updated == text else 1)
    DOC.write_text(updated, encoding="utf-8")
    print(f"wrote the table ({len(table.splitlines())} lines) into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
