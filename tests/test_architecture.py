import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_does_not_import_flask():
    code = "import sys, mailer.cli; assert 'flask' not in sys.modules, 'flask imported'"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_web_imports_flask():
    offenders = []
    for path in (ROOT / "mailer").rglob("*.py"):
        if "web" in path.relative_to(ROOT / "mailer").parts:
            continue
        if any(
            name.split(".")[0] in ("flask", "flask_wtf", "flask_limiter")
            for name in imported_modules(path)
        ):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_core_does_not_reach_for_the_web_layer():
    offenders = []
    for path in (ROOT / "mailer").rglob("*.py"):
        if "web" in path.relative_to(ROOT / "mailer").parts:
            continue
        if any(name.split(".")[:2] == ["mailer", "web"] for name in imported_modules(path)):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def import_cycles() -> list[list[str]]:
    """Strongly connected groups of mailer modules, function-level imports included."""
    import grimp

    graph = grimp.build_graph("mailer", exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                group.append(other)
                if other == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_import_cycles():
    assert import_cycles() == []
