"""The house: the top of the package holds leaves and packages only, modules stay small, and the README's
Layout section names every room and every file it points to, so a newcomer can trust it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "sovereel"
LEAVES = {"__init__", "captions", "errors", "fair_lock", "ids", "settings", "telemetry", "textnorm", "usernames"}
MAX_LINES = 500


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Layout\n")
    following = re.search(r"^## ", readme[start + 10 :], flags=re.M)
    return readme[start : start + 10 + following.start()] if following else readme[start:]


def test_the_top_level_holds_only_leaves_and_packages() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules <= LEAVES, f"orchestrators belong in the package their concern names: {modules - LEAVES}"


def test_no_source_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if "migrations/versions" not in str(p) and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these along a real seam: {long}"


def test_the_readme_layout_names_every_package_and_leaf() -> None:
    section = layout_section()
    packages = [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    missing = [name for name in packages if f"{name}/" not in section]
    missing += [leaf for leaf in LEAVES - {"__init__"} if f"`{leaf}`" not in section]
    assert not missing, f"README's Layout section does not mention: {missing}"


def test_every_file_the_readme_layout_points_to_exists() -> None:
    section = layout_section()
    named = set(re.findall(r"\b([a-z_]+(?:/[a-z_]+)*\.py)\b", section))
    files = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")}
    stray = [n for n in named if not any(f == n or f.endswith("/" + n) for f in files)]
    assert named and not stray, f"README's Layout names files that do not exist: {stray}"
