"""The house rules that keep nnfit easy to change (docs/internals.md): modules small enough to read, imports that
run one way, click only in the command-line modules, and no runtime dependency beyond the five promised."""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nnfit"
MODULES = {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.glob("*.py"))}
CLI_MODULES = {"cli", "cliutil", "clisweep"}
RUNTIME = {"numpy", "click", "yaml", "pandas", "tqdm"}  # pyproject.toml's dependencies
EXTRAS = {"matplotlib", "dask", "distributed"}  # the plot and dask extras (test_plots: other commands never load them)


def imports(tree):
    """(module imported, whether at module level) for every import in a module; relative ones as .name."""
    for node in ast.walk(tree):
        top = node in tree.body
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                for name in ([node.module] if node.module else [a.name for a in node.names]):
                    yield "." + name.split(".")[0], top
            else:
                yield node.module.split(".")[0], top
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], top


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_is_under_300_lines(name):
    lines = (PACKAGE / f"{name}.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 300, f"nnfit/{name}.py has {lines} lines: it is probably doing two jobs"


def test_imports_inside_the_package_form_no_cycle_even_counting_lazy_ones():
    graph = {name: {m[1:] for m, _ in imports(tree) if m.startswith(".") and m[1:] in MODULES}
             for name, tree in MODULES.items()}
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name not in done:
            path.append(name)
            for dep in sorted(graph[name]):
                visit(dep)
            path.pop()
            done.add(name)

    for name in graph:
        visit(name)


def test_only_the_command_line_modules_import_click():
    users = {name for name, tree in MODULES.items() if any(m == "click" for m, _ in imports(tree))}
    assert users == CLI_MODULES


def test_nnfit_imports_only_its_promised_dependencies_and_extras():
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for name, tree in MODULES.items():
        for module, _ in imports(tree):
            if module.startswith(".") or module in stdlib:
                continue
            assert module in RUNTIME | EXTRAS, f"nnfit/{name}.py imports {module}, not a dependency of nnfit"
