"""advdl's architecture, checked from the source: the modules of advdl/ import each other without
cycles, and never a module of a layer above their own.

Layers by folder, lowest first (a layer may import its own and the ones below it). ``advdl/__init__.py``
and ``advdl/__main__.py`` are the package's facade, outside the layers. Every import counts, also
one inside a function: it runs sooner or later, and it ties the modules together all the same.
"""

import ast
from collections import deque
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "advdl"
LAYERS = {"api": 0, "settings": 1, "loading": 2, "runs": 3, "rl": 4, "datasets": 4, "experiments": 5,
          "commands": 6, "testing": 7}
FACADE = {"advdl", "advdl.__main__"}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name, path, known):
    """(imported advdl module, line) of every import in the module's source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1 packages
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from advdl.x import y`` imports the module advdl.x.y when there is one, else names of advdl.x
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target == "advdl" or target.startswith("advdl."):
                while target not in known and "." in target:  # ``import advdl.x.y`` of a name y
                    target = target.rpartition(".")[0]
                yield target, node.lineno


def graph():
    """({module: [(imported module, line)]}, {module: path})."""
    known = modules()
    return {name: sorted({edge for edge in imports(name, path, known) if edge[0] != name})
            for name, path in known.items()}, known


def layer(name):
    folder = name.split(".")[1]
    return folder, LAYERS.get(folder)


def test_every_module_belongs_to_a_layer():
    unplaced = [name for name in modules() if name not in FACADE and layer(name)[1] is None]
    assert not unplaced, f"modules in a folder without a layer (add it to LAYERS in {__file__}): {unplaced}"


def test_no_module_imports_one_of_a_layer_above_its_own():
    edges, known = graph()
    wrong = []
    for name, targets in edges.items():
        if name in FACADE or layer(name)[1] is None:
            continue
        (folder, level), path = layer(name), known[name].relative_to(PACKAGE.parent)
        for target, line in targets:
            if target not in FACADE and layer(target)[1] is not None and layer(target)[1] > level:
                wrong.append((str(path), line, f"{name} ({folder}, layer {level}) imports {target} "
                                               f"({layer(target)[0]}, layer {layer(target)[1]})"))
    assert not wrong, "imports of a higher layer:\n" + "\n".join(f"{p}:{n}: {what}" for p, n, what in sorted(wrong))


def test_the_families_of_one_layer_do_not_import_each_other():
    """rl/ and datasets/ are siblings: what both need lives below them (runs/, api/)."""
    edges, _ = graph()
    across = [f"{name} imports {target} (line {line})" for name, targets in edges.items() for target, line in targets
              if name not in FACADE and target not in FACADE and layer(name)[0] != layer(target)[0]
              and layer(name)[1] is not None and layer(name)[1] == layer(target)[1]]
    assert not across, "imports between folders of one layer:\n" + "\n".join(across)


def test_the_plugin_api_package_imports_only_the_plugin_api():
    edges, _ = graph()
    outside = [f"{target} (line {line})" for target, line in edges["advdl.api"] if not target.startswith("advdl.api.")]
    assert not outside, f"advdl/api/__init__.py imports from outside advdl/api: {outside}"


def cycles(edges):
    """One cycle through each group of modules that import each other (Tarjan's strongly connected
    components), as lists of (module, line of its import of the next)."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return [shortest_cycle(edges, group) for group in groups]


def shortest_cycle(edges, group):
    """[(module, line where it imports the next one)] around a shortest cycle through the group's first module."""
    start = min(group)
    queue, came_from = deque([start]), {}  # module -> (the module importing it, line)
    while queue:
        module = queue.popleft()
        for target, line in edges[module]:
            if target == start:
                cycle = [(module, line)]
                while cycle[0][0] != start:
                    cycle.insert(0, came_from[cycle[0][0]])
                return cycle
            if target in group and target not in came_from:
                came_from[target] = (module, line)
                queue.append(target)
    raise AssertionError(f"no cycle in {group}")


def test_modules_do_not_import_each_other_in_a_cycle():
    edges, _ = graph()
    found = [" -> ".join(f"{module} (line {line})" for module, line in cycle) + f" -> {cycle[0][0]}"
             for cycle in cycles(edges)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    source = tmp_path / "advdl" / "rl"
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "a.py").write_text("def f():\n    from advdl.commands.main import main\n    from . import b\n")
    (source / "b.py").write_text("import advdl.rl.a\n")
    known = {"advdl.rl", "advdl.rl.a", "advdl.rl.b", "advdl.commands.main"}
    found = sorted(imports("advdl.rl.a", source / "a.py", known))
    assert found == [("advdl.commands.main", 2), ("advdl.rl.b", 3)]
    edges = {"advdl.rl.a": found, "advdl.rl.b": [("advdl.rl.a", 1)], "advdl.commands.main": []}
    assert cycles(edges) == [[("advdl.rl.a", 3), ("advdl.rl.b", 1)]]
