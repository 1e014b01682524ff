"""Every ``musicgen`` import in the package, the tests and the scripts names a module and a name that exist.

A moved module or a renamed function breaks an import inside a function only when that
function runs; this finds them all statically, from the source, without importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "musicgen"


def module_index() -> dict[str, Path]:
    """Dotted module name -> source file, for every module and package of musicgen."""
    index = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        index[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return index


def _bound_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for item in target.elts for name in _bound_names(item)]
    return []


def defined_names(source: str) -> set[str]:
    """The names a module defines at its top level (in ``if`` and ``try`` blocks too), and the
    keys of a ``_LAZY`` table that a module ``__getattr__`` serves."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    names.update(_bound_names(target))
                if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets) and \
                        isinstance(node.value, ast.Dict):
                    names.update(key.value for key in node.value.keys if isinstance(key, ast.Constant))
            elif isinstance(node, ast.AnnAssign):
                names.update(_bound_names(node.target))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    visit(ast.parse(source).body)
    return names


def musicgen_imports(source: str, module: str = "", is_package: bool = False) -> list[tuple[str, str | None, int]]:
    """``(module, name or None, line)`` of every musicgen import in ``source``, anywhere in it.

    ``module`` (the importing module's dotted name) resolves relative imports.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names if alias.name.split(".")[0] == "musicgen"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".") if is_package else module.split(".")[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            if base.split(".")[0] == "musicgen":
                found += [(base, alias.name, node.lineno) for alias in node.names]
    return found


def unresolved(path: Path, index: dict[str, Path]) -> list[str]:
    """The musicgen imports of the file at ``path`` whose module or name does not exist."""
    relative = path.relative_to(ROOT)
    parts = relative.with_suffix("").parts
    module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    problems = []
    for target, name, line in musicgen_imports(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
        where = f"{relative}:{line}"
        if target not in index:
            problems.append(f"{where}: no module {target}")
        elif name is not None and name != "*" and f"{target}.{name}" not in index and \
                name not in defined_names(index[target].read_text(encoding="utf-8")):
            problems.append(f"{where}: {target} has no {name}")
    return problems


def _sources() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "scripts").rglob("*.py")])


def test_every_musicgen_import_resolves() -> None:
    index = module_index()
    problems = [problem for path in _sources() for problem in unresolved(path, index)]
    assert problems == []


def test_the_checker_sees_imports_inside_functions_and_finds_the_broken_ones(tmp_path: Path) -> None:
    index = module_index()
    source = (
        "def later():\n"
        "    from musicgen.music.piece import Piece, NoSuchName\n"
        "    import musicgen.no_such_module\n"
        "    from musicgen import errors, __version__\n"
    )
    found = musicgen_imports(source)
    assert [(module, name) for module, name, _ in found] == [
        ("musicgen.music.piece", "Piece"), ("musicgen.music.piece", "NoSuchName"),
        ("musicgen.no_such_module", None), ("musicgen", "errors"), ("musicgen", "__version__"),
    ]
    path = ROOT / "tests" / "_broken_import_example.py"
    try:
        path.write_text(source, encoding="utf-8")
        problems = unresolved(path, index)
    finally:
        path.unlink()
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "musicgen.music.piece has no NoSuchName", "no module musicgen.no_such_module"]


@pytest.mark.parametrize("name", ["Tokenizer", "TokenizerConfig", "MidiError", "GenerationOptions", "TrainConfig",
                                  "train", "generate", "load_checkpoint"])
def test_the_main_names_stay_importable_from_the_package(name: str) -> None:
    import musicgen

    assert getattr(musicgen, name) is not None
