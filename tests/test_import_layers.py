"""The package's import graph: no cycle, and no module importing a layer above its own.

The layers are those of ``docs/design.md`` (and ``../shared/DESIGN.md``), from the
bottom up: the shared floor (``_parallel``, ``_validation``, ``_sparse_checks``),
``kernels``, ``families``, ``engine``, then the user-facing packages (estimators,
selection, plot, io, datasets), the command line, and the package's ``__init__``.
Every ``import`` statement counts, including those inside functions (a lazy
import is still a dependency, and was how the old cycles hid).
"""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "mixfit"

#: (layer, rank): a module may import modules of its own rank or below, never above.
LAYERS = {
    "mixfit._parallel": 0,
    "mixfit._validation": 0,
    "mixfit._sparse_checks": 0,
    "mixfit._version": 0,
    "mixfit._memory": 0,
    "mixfit.kernels": 1,
    "mixfit.families": 2,
    "mixfit.engine": 3,
    "mixfit.datasets": 4,
    "mixfit.estimators": 4,
    "mixfit.selection": 4,
    "mixfit.plot": 4,
    "mixfit.io": 4,
    "mixfit.cli": 5,
    "mixfit.reporting": 5,  # mixfit.report is the function (a package of that name would shadow it)
    "mixfit.__main__": 6,
    "mixfit": 6,  # the package's own __init__ (public names)
}


def module_name(path):
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def rank(module):
    """The layer rank of a module: its longest prefix in LAYERS."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise KeyError(module)


def imported_modules(path, name, known):
    """The mixfit modules a file imports (resolved to modules, not attributes)."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # "from pkg import sub" imports the submodule pkg.sub where one exists.
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "mixfit" or target.startswith("mixfit."):
                while target not in known and "." in target:
                    target = target.rpartition(".")[0]
                if target != name:
                    found.add(target)
    return found


def import_graph():
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    return {name: imported_modules(path, name, paths) for name, path in paths.items()}


GRAPH = import_graph()


def test_every_module_has_a_layer():
    missing = [name for name in GRAPH if not any(
        name == prefix or name.startswith(prefix + ".") for prefix in LAYERS)]
    assert not missing, f"modules outside every layer (add them to LAYERS): {missing}"


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted(
        f"{name} (rank {rank(name)}) imports {target} (rank {rank(target)})"
        for name, targets in GRAPH.items() for target in targets
        if rank(target) > rank(name)
    )
    assert not upward, "upward imports:\n" + "\n".join(upward)


def find_cycle(graph):
    """One import cycle as a list of modules, or None (iterative depth-first search)."""
    state = {}
    for root in sorted(graph):
        if root in state:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                return path[path.index(child):] + [child]
            elif child not in state and child in graph:
                state[child] = "open"
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_import_graph_has_no_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_catch_a_cycle_and_an_upward_import():
    # The checker itself must be able to fail.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert rank("mixfit.kernels.em") < rank("mixfit.engine.em")


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: module_name(p))
def test_modules_stay_small(path):
    # "A module should fit in one head": past ~600 lines, split it along a concern.
    n_lines = len(path.read_text().splitlines())
    assert n_lines <= 620, f"{module_name(path)} has {n_lines} lines; split it"
