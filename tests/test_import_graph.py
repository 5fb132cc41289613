"""No import cycles within the fastinit package.

The graph is read from the source (the AST), not from ``sys.modules``, so it
sees every module whether or not its optional dependencies are installed.
An edge ``a -> b`` is an import of fastinit module ``b`` that runs when ``a``
is imported: any ``import``/``from ... import`` outside a function body,
including those under ``if TYPE_CHECKING:`` (a cycle hidden from the
interpreter is still a cycle to a reader and to tools).  Imports inside
functions are deliberate late imports and are left out.  ``from p import n``
is an edge to ``p.n`` when that is a module of the package, else to ``p``.
The implicit import of a parent package (``import a.b`` runs ``a`` first) is
not an edge: it cannot form a cycle the interpreter trips over, and every
submodule would otherwise "import" its own package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fastinit

PACKAGE = "fastinit"
# The package under test (the checkout's, or an installed wheel's in tools/check_release.sh).
ROOT = Path(fastinit.__file__).resolve().parent


def module_files() -> dict:
    """Module name -> source path, for every .py and .pyx file of the package (packages by
    __init__).  A compiled module (``_core.pyx``) is a node; its own cimports are C, not edges."""
    modules = {}
    for path in [*ROOT.rglob("*.py"), *ROOT.rglob("*.pyx")]:
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def top_level_imports(tree: ast.Module):
    """The Import/ImportFrom nodes that run when the module is imported (not inside a function)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def import_targets(name: str, path: Path, node, modules: dict) -> set:
    """The package modules one import statement in module ``name`` names."""
    if isinstance(node, ast.Import):
        candidates = [alias.name for alias in node.names]
    else:
        if node.level:                                  # relative: resolve against this module
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = package[:len(package) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        candidates = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                      for alias in node.names]
    return {target for target in candidates if target in modules}


def import_graph() -> dict:
    modules = module_files()
    graph = {}
    for name, path in modules.items():
        if path.suffix != ".py":
            graph[name] = set()
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for node in top_level_imports(tree):
            targets |= import_targets(name, path, node, modules)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycle(graph: dict):
    """One cycle as a list of modules (first repeated last), or None (iterative DFS)."""
    state = {}                                          # absent: new, 1: on the path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path, iterators = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            child = next(iterators[-1], None)
            if child is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif child not in state:
                state[child] = 1
                path.append(child)
                iterators.append(iter(sorted(graph[child])))
    return None


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert {"fastinit", "fastinit.cli", "fastinit.cli.init_command"} <= set(graph)
    # a known edge of each kind: `import fastinit as fi`, `from fastinit.cli.x import y`
    assert "fastinit" in graph["fastinit.cli.init_command"]
    assert "fastinit.cli.errors" in graph["fastinit.cli.init_command"]
    # `from . import _core` names the compiled module, not the package
    assert "fastinit._core" in graph["fastinit._validate"]
    assert "fastinit" not in graph["fastinit._validate"]


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_import_targets_resolve_relative_and_submodule_imports():
    modules = {"p": Path("p/__init__.py"), "p.a": Path("p/a.py"), "p.b": Path("p/b.py")}
    parse = lambda text: ast.parse(text).body[0]                          # noqa: E731
    assert import_targets("p.a", modules["p.a"], parse("from . import b"), modules) == {"p.b"}
    assert import_targets("p.a", modules["p.a"], parse("from .b import x"), modules) == {"p.b"}
    assert import_targets("p", modules["p"], parse("from .a import x"), modules) == {"p.a"}
    assert import_targets("p.a", modules["p.a"], parse("from p import x"), modules) == {"p"}
    assert import_targets("p.a", modules["p.a"], parse("import numpy"), modules) == set()


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    if cycle is not None:
        pytest.fail("import cycle within fastinit: " + " -> ".join(cycle))
