"""The README's two commands are the ones CI and users run; keep them in step with .ci/run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("```bash") + 1
    return lines[start:lines.index("```", start)]


def test_readme_starts_with_exactly_two_commands_demo_then_tests() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("cde demo") and commands[1].endswith("pytest")
    assert (ROOT / "README.md").read_text().splitlines()[2] == "```bash"


def test_ci_runs_the_readme_test_command() -> None:
    test_command = readme_commands()[1].split("&&", 1)[1].strip()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in [line.strip() for line in ci_lines]
