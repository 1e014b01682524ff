"""The package's shape: no import cycles, small modules, private APIs in one place."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "musicgen"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports, anywhere in its body (a lazy import counts)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".") if is_package else name.split(".")[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # A package's __init__ re-exporting its own children is not a cycle.
            if target and target != name and not (name.startswith(target + ".") or target.startswith(name + ".")):
                found.add(target)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_inside_the_package() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert sum(len(targets) for targets in graph.values()) > 50  # the parser does see the imports
    assert find_cycles(graph) == []


# The pipeline's stages, in order: a module may import its own stage and earlier ones, never a later one.
# The top-level modules (errors, fileio, options, paths, runtime, compat) are the foundation, stage 0.
STAGES = ("music", "tokens", "data", "models", "training", "generation", "evaluation", "demos", "bench", "studio",
          "cli")
TOP_LEVEL_MODULES = {"musicgen", "musicgen.__main__", "musicgen.errors", "musicgen.fileio", "musicgen.options",
                     "musicgen.paths", "musicgen.runtime", "musicgen.compat"}


def stage_of(module: str) -> int:
    """0 for the foundation, else 1 + the index of the module's stage package."""
    parts = module.split(".")
    return STAGES.index(parts[1]) + 1 if len(parts) > 1 and parts[1] in STAGES else 0


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for every import of a later stage (the entry points excepted)."""
    entry_points = {"musicgen", "musicgen.__main__"}  # lazy top-level names and ``python -m``
    return sorted(f"{name} -> {target}" for name, targets in graph.items() if name not in entry_points
                  for target in targets if stage_of(target) > stage_of(name))


def test_no_module_imports_a_later_stage() -> None:
    modules = _modules()
    assert {name for name in modules if stage_of(name) == 0} == TOP_LEVEL_MODULES
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert upward_imports(graph) == []


def test_the_stage_check_sees_an_upward_import() -> None:
    graph = {"musicgen.tokens.base": {"musicgen.generation.sampler"}, "musicgen.cli.generate": {"musicgen.data.cache"}}
    assert upward_imports(graph) == ["musicgen.tokens.base -> musicgen.generation.sampler"]


def test_at_most_eight_modules_at_the_top() -> None:
    assert len(list(PACKAGE.glob("*.py"))) <= 8


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: _module_name(path))
def test_modules_stay_under_500_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 500


def test_private_keras_and_tensorflow_apis_are_used_in_compat_only() -> None:
    users = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [module or ""]
            if any(n.startswith(("keras.src", "tensorflow.python")) for n in names):
                users.append(name)
    assert sorted(set(users)) == ["musicgen.compat"]


def test_the_command_line_starts_without_tensorflow() -> None:
    code = "import sys; from musicgen.cli import build_parser; build_parser(); print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_scripts_are_sorted_by_purpose_and_none_edits_sys_path() -> None:
    scripts = PACKAGE.parent / "scripts"
    assert {path.name for path in scripts.glob("*.py")} == {"generate.py", "train.py", "evaluate.py", "prepare.py"}
    assert {path.name for path in scripts.iterdir() if path.is_dir() and path.name != "__pycache__"} == {
        "corpus", "fixtures", "experiments"}
    assert [str(path) for path in scripts.rglob("*.py") if "sys.path" in path.read_text(encoding="utf-8")] == []


def encoding_name_comparisons(source: str) -> list[int]:
    """Lines comparing something with an encoding's name, or comparing an ``encoding`` attribute."""
    from musicgen.tokens import ENCODINGS

    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        sides += [item for side in sides if isinstance(side, (ast.Tuple, ast.List, ast.Set)) for item in side.elts]
        named = any(isinstance(side, ast.Constant) and side.value in ENCODINGS for side in sides)
        attribute = any(isinstance(side, ast.Attribute) and side.attr == "encoding" for side in sides)
        if named or attribute:
            lines.append(node.lineno)
    return lines


def test_nothing_outside_the_tokens_package_compares_an_encoding_name() -> None:
    assert encoding_name_comparisons('if tokenizer.config.encoding == "notes":\n    pass\nx = a in ("events",)') == [1, 3]
    found = {name: encoding_name_comparisons(path.read_text(encoding="utf-8")) for name, path in _modules().items()
             if not name.startswith("musicgen.tokens")}
    assert {name: lines for name, lines in found.items() if lines} == {}


def layout_branches(source: str) -> list[int]:
    """Lines that ask an encoding's layout instead of its contract: ``X.has_bars`` or ``Kind.NAME``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and (
                node.attr == "has_bars" or (isinstance(node.value, ast.Name) and node.value.id == "Kind")):
            lines.append(node.lineno)
    return sorted(set(lines))


def test_nothing_outside_the_tokens_package_branches_on_the_layout() -> None:
    assert layout_branches("if tokenizer.has_bars:\n    x = Kind.BAR\ny = roles.bar") == [1, 2]
    found = {name: layout_branches(path.read_text(encoding="utf-8")) for name, path in _modules().items()
             if not name.startswith("musicgen.tokens")}
    assert {name: lines for name, lines in found.items() if lines} == {}


def long_functions(source: str, limit: int = 80) -> list[str]:
    """Functions of more than ``limit`` lines, as ``name (lines)``."""
    return [f"{node.name} ({node.end_lineno - node.lineno + 1})" for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit]


def test_functions_stay_under_80_lines() -> None:
    assert long_functions("def f():\n" + "    x = 1\n" * 80) == ["f (81)"]
    found = {name: long_functions(path.read_text(encoding="utf-8")) for name, path in _modules().items()}
    assert {name: functions for name, functions in found.items() if functions} == {}
