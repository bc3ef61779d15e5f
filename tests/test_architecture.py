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
