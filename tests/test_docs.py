"""The README and docs/*.md are the contract: every file they name exists, every command they list is a
real command (and every command is listed), every setting the app reads is documented.

Code moves (a service split into modules, a module turned into a package); these checks make the
docs move with it instead of quietly pointing at files that are gone.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from addon.cli import build_cli
from addon.config import ENV_KEYS

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / ".env.example", *sorted((ROOT / "docs").glob("*.md"))]
TOP_DIRS = ("addon", "connectors", "jobs", "migrations", "tests", "bench", "scripts", "docs")

# A repository path such as addon/services/tenant_lock.py or docs/xero.md (not a URL path: no "/" or
# word character right before it).
_PATH = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP_DIRS) + r")/[\w./*-]*[\w/*])")
# A bare file name in backticks (`scoring_store.py`, `history/frame.py`): must exist somewhere.
_BARE = re.compile(r"`([\w/-]+\.(?:py|md|sh))`")
# Files that live outside this repository and are named as such in the docs.
_OUTSIDE = {"API_FACTS.md"}  # in the shared specs (../shared/specs/), see docs/quickbooks.md
# Relative markdown links: [text](other.md#anchor)
_LINK = re.compile(r"\]\(([^)#:\s]+)(?:#[^)]*)?\)")


def _lines(doc: Path) -> list[tuple[int, str]]:
    return list(enumerate(doc.read_text(encoding="utf-8").splitlines(), 1))


def _exists(ref: str) -> bool:
    ref = ref.rstrip(".")
    if "*" in ref:
        return any(ROOT.glob(ref))
    return (ROOT / ref).exists()


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_the_docs_name_exists(doc: Path) -> None:
    missing = [f"{doc.name}:{n}: {m.group(1)}" for n, line in _lines(doc)
               for m in _PATH.finditer(line) if not _exists(m.group(1))]
    assert not missing, "docs name files that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_bare_file_name_exists_somewhere(doc: Path) -> None:
    tracked = [p.relative_to(ROOT).as_posix() for top in TOP_DIRS if (ROOT / top).is_dir()
               for p in (ROOT / top).rglob("*") if p.is_file()]
    missing = []
    for n, line in _lines(doc):
        for m in _BARE.finditer(line):
            name = m.group(1)
            if name in _OUTSIDE or name.startswith(TOP_DIRS):
                continue
            if not any(t == name or t.endswith("/" + name) for t in tracked):
                missing.append(f"{doc.name}:{n}: {name}")
    assert not missing, "docs name files found nowhere in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc: Path) -> None:
    broken = [f"{doc.name}:{n}: {m.group(1)}" for n, line in _lines(doc) for m in _LINK.finditer(line)
              if not (doc.parent / m.group(1)).exists()]
    assert not broken, "broken links:\n" + "\n".join(broken)


def _leaf_commands() -> set[str]:
    """Every runnable command as typed after ``cashline``: ``worker``, ``model train-tenant`` ..."""
    cli = build_cli()
    ctx = click.Context(cli)
    found: set[str] = set()

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None
            if isinstance(cmd, click.Group):
                walk(cmd, f"{prefix}{name} ")
            else:
                found.add(prefix + name)

    walk(cli, "")
    return found


def _readme_commands_table() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Commands"):text.index("## Configuration")]


def test_readme_lists_every_cli_command() -> None:
    section = _readme_commands_table()
    rows = [r for r in section.splitlines() if r.startswith("| `cashline ")]
    missing = []
    for command in sorted(_leaf_commands()):
        if " " not in command:
            if f"`cashline {command}" not in section:
                missing.append(command)
            continue
        group, sub = command.split(" ", 1)
        if not any(r.startswith(f"| `cashline {group} ") and
                   re.search(rf"`(?:cashline )?(?:{group} )?{re.escape(sub)}(?![\w-])", r) for r in rows):
            missing.append(command)
    assert not missing, f"commands missing from the README's Commands section: {missing}"


def test_readme_commands_exist() -> None:
    commands = _leaf_commands()
    groups = {c.split()[0] for c in commands if " " in c}
    named = re.findall(r"`cashline ([a-z-]+)(?: ([a-z-]+))?", _readme_commands_table())

    def real(first: str, second: str) -> bool:
        if first in groups:  # a group needs its sub-command, and it must be one of the group's
            return f"{first} {second}" in commands
        return first in commands  # a plain command; what follows is an argument

    unknown = [f"{a} {b}".strip() for a, b in named if not real(a, b)]
    assert not unknown, f"the README lists commands that do not exist: {unknown}"


def test_readme_flags_exist() -> None:
    """Every --flag in a row of the commands table is an option of a command named in that row."""
    cli = build_cli()
    ctx = click.Context(cli)
    options: dict[str, set[str]] = {}

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None
            if isinstance(cmd, click.Group):
                walk(cmd, f"{prefix}{name} ")
            else:
                options[prefix + name] = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}

    walk(cli, "")
    by_group: dict[str, set[str]] = {}
    for name, opts in options.items():
        by_group.setdefault(name.split()[0], set()).update(opts)
    wrong = []
    for row in _readme_commands_table().splitlines():
        m = re.match(r"\| `cashline ([a-z-]+)", row)
        if not m:
            continue
        allowed = by_group.get(m.group(1), set()) | {"--help"}
        wrong += [f"{m.group(1)}: {flag}" for flag in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", row.split(" | ")[0])
                  if flag not in allowed]
    assert not wrong, f"the README lists flags no command has: {wrong}"


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    configuration = readme[readme.index("## Configuration"):readme.index("## JSON API lists")]
    example = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert sorted(set(ENV_KEYS) - example) == [], ".env.example lacks settings the app reads"
    assert sorted(example - set(ENV_KEYS)) == [], ".env.example lists settings the app does not read"
    undocumented = sorted(k for k in ENV_KEYS if f"`{k}`" not in configuration)
    assert not undocumented, f"README's configuration table lacks {undocumented}"


def test_procfile_is_quoted_in_the_readme() -> None:
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8").strip()
    assert procfile in (ROOT / "README.md").read_text(encoding="utf-8")
