"""`pip install mlkeras` brings everything the package imports.

The test extra (pytest, JAX, ruff) is installed wherever the tests run, so
an import that only the extra satisfies would pass every other test and
still fail for a user who ran README's first command alone.
"""

import ast
import configparser
import importlib.metadata
import pathlib
import re
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _install_requires():
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg")
    names = set()
    for line in config["options"]["install_requires"].splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(_canonical(re.split(r"[<>=!~;\[ ]", line)[0]))
    return names


def _module_level_imports(path):
    """Top-level third-party modules that importing `path` imports."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top != "mlkeras" and top not in sys.stdlib_module_names:
                found.add(top)
    return found


def test_every_module_level_import_is_an_install_requirement():
    required = _install_requires()
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for path in sorted((REPO_ROOT / "mlkeras").rglob("*.py")):
        for module in _module_level_imports(path):
            providers = {_canonical(d) for d in distributions.get(module, [])}
            if not providers & required:
                relative = str(path.relative_to(REPO_ROOT))
                missing.setdefault(module, []).append(relative)
    assert missing == {}
