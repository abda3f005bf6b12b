"""The code's shape, checked from its syntax trees: short functions, no import cycles, stages in order.

Every import counts, including those inside functions (a lazy import still ties two modules together).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.scripts import ROOT

MAX_FUNCTION_LINES = 60
# The pipeline's stages, lowest first: a stage may import the ones before it, never one after it. The sidecar
# module checks a model's recorded split (utils.data), and every later stage reads sidecars.
STAGES = ("models", "utils.data", "utils.sidecar", "utils.training", "utils.evaluation", "utils.export",
          "utils.reproduction")


def product_files() -> list[Path]:
    return sorted([*ROOT.glob("*.py"), *(ROOT / "models").rglob("*.py"), *(ROOT / "utils").rglob("*.py")])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of models/ and utils/ and the project modules it imports."""
    modules = {module_name(p): p for p in product_files() if p.parent != ROOT}
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {other for other in imported if other in modules and other != name}
    return graph


def stage_of(module: str) -> int | None:
    return next((i for i, stage in enumerate(STAGES) if module == stage or module.startswith(stage + ".")), None)


def test_no_function_is_longer_than_60_lines():
    long = []
    for path in product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for other in sorted(graph[module]):
            if state.get(other) == 1:
                return path[path.index(other):] + [module, other] if other in path else [module, other]
            if other not in state and (found := cycle_from(other, path + [module])):
                return found
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            assert (found := cycle_from(module, [])) is None, " -> ".join(found)


def test_each_stage_imports_only_earlier_stages():
    backwards = [f"{module} -> {other}" for module, others in import_graph().items() for other in others
                 if stage_of(module) is not None and stage_of(other) is not None and stage_of(other) > stage_of(module)]
    assert not backwards, backwards


def test_the_shared_modules_below_the_stages_import_no_stage():
    upwards = [f"{module} -> {other}" for module, others in import_graph().items()
               if stage_of(module) is None and module != "utils"
               for other in others if stage_of(other) is not None]
    assert not upwards, upwards


def test_the_graph_holds_the_edges_of_lazy_imports():
    """The checks above are only as good as the graph: it must contain the edges an import inside a function makes."""
    graph = import_graph()
    assert "utils.data.frames_data" in graph["utils.training.input_pipeline"]
    assert "utils.training.input_pipeline" in graph["utils.training.teacher_cache"]  # imported inside a function
