import subprocess
import sys


def test_core_imports_without_qt():
    code = (
        "import sys, pkgutil, importlib, guiapp.core as c\n"
        "for m in pkgutil.walk_packages(c.__path__, 'guiapp.core.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m.startswith('PySide6') or m.startswith('shiboken')]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
