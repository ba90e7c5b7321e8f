"""Project-wide rules: it stands alone, and tests never skip over a broken hard dependency."""

from __future__ import annotations

import re
import subprocess
import tomllib

from tests.conftest import ROOT

# Notes and trackers that live outside the repository: a reader of the code cannot follow
# a reference to them.
OUTSIDE = re.compile(
    r"DESIGN\.md|\.\./shared\b|\bissues? *#?\d+\b|\bthe issue'?s?\b|\(issue\b", re.IGNORECASE
)


def _tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return [f for f in out.stdout.splitlines() if not f.endswith((".png", ".mp4", ".csv", ".lock"))
            and f != "package-lock.json"]


def test_no_file_cites_documents_outside_the_repository():
    hits = []
    for name in _tracked():
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line) and name != "tests/test_project.py":
                hits.append(f"{name}:{number}: {line.strip()}")
    assert hits == []


def test_no_test_skips_when_a_hard_dependency_is_missing():
    """importorskip on a required package would turn a broken install into a green run."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower().replace("-", "_") for d in deps}
    skips = []
    for name in _tracked():
        if name.startswith("tests/") and name.endswith(".py"):
            for m in re.finditer(r"importorskip\(\s*[\"']([\w.]+)", (ROOT / name).read_text()):
                if m.group(1).split(".")[0].lower() in names:
                    skips.append(f"{name}: {m.group(1)}")
    assert skips == []


def _commands(group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in group.commands.items():
        if getattr(command, "commands", None):
            out += _commands(command, (*path, name))
        else:
            out.append((*path, name))
    return out


def test_the_readme_documents_every_command_and_config_key():
    """A newcomer finds every `gaka` command and every configuration key in the README."""
    import typer

    from gaka.cli import app
    from gaka.config import Settings

    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    missing = []
    for path in _commands(typer.main.get_command(app)):
        # `gaka chain account new|import|show` documents all three: the group's path, then
        # the command's name as a word after it on the same line.
        prefix = " ".join(("gaka", *path[:-1]))
        if not any(prefix in line and re.search(rf"\b{path[-1]}\b", line.split(prefix, 1)[1])
                   for line in lines):
            missing.append(" ".join(("gaka", *path)))
    missing += [key for key in Settings.model_fields if f"`{key}`" not in readme]
    assert missing == []
