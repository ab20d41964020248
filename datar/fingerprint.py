"""Code fingerprints: which ``datar`` modules a verb runs, and a hash of what they compute.

A Snakemake shell rule reruns when its command text changes, not when the Python it calls
does. Each rule therefore carries, as a param, :func:`verb_fingerprint` of the one
``python -m datar <verb>`` it runs: a hash over the verb's *import closure* inside the
package (every ``datar`` module it imports, directly or through other ``datar`` modules,
at module level or inside a function, plus the packages whose ``__init__`` those imports
execute; the dispatcher and verb table, :data:`DISPATCH`, aside). Each module contributes its syntax tree with docstrings removed
(``ast.dump`` without positions): comments, formatting and docstrings never change a
fingerprint; any change of a statement, a constant or a name does.

The closure is found by reading source files (``ast``), never by importing them: nothing
runs, and planning a workflow costs a parse of the package (~0.3 s, cached per process).
``dvc.yaml``'s code dependencies come from the same closure (:func:`stage_files`,
``python -m datar code-deps``).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

PACKAGE = "datar"
ROOT = Path(__file__).resolve().parent  # the datar package directory

#: Modules every verb runs through ``python -m datar`` (the package, the dispatcher and the
#: verb table) that hold no computation: left out of every closure, so adding a verb or
#: bumping ``__version__`` reruns nothing.
DISPATCH = frozenset({"datar", "datar.__main__", "datar.cli"})


def module_path(module: str) -> Path | None:
    """The source file of a ``datar`` module (``datar.models`` -> ``datar/models/__init__.py``)."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_package(module: str) -> bool:
    path = module_path(module)
    return path is not None and path.name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _with_parents(module: str) -> list[str]:
    """``datar.a.b`` -> ``datar``, ``datar.a``, ``datar.a.b``: importing it runs every ``__init__``."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@lru_cache(maxsize=None)
def _tree(module: str) -> ast.Module:
    path = module_path(module)
    if path is None:
        raise KeyError(module)
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@lru_cache(maxsize=None)
def direct_imports(module: str) -> tuple[str, ...]:
    """The ``datar`` modules ``module`` imports anywhere in its source (sorted)."""
    found: set[str] = set()
    for node in ast.walk(_tree(module)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            names = [base]
            # ``from datar.x import y``: y may be a submodule
            names += [f"{base}.{a.name}" for a in node.names if a.name != "*"]
        for name in names:
            if name.split(".")[0] != PACKAGE:
                continue
            for m in _with_parents(name):
                if module_path(m) is not None:
                    found.add(m)
    found.discard(module)
    return tuple(sorted(found))


def closure(modules: Iterable[str]) -> tuple[str, ...]:
    """Every ``datar`` module that importing ``modules`` can execute (sorted)."""
    todo = [m for start in modules for m in _with_parents(start) if module_path(m) is not None]
    seen: set[str] = set()
    while todo:
        m = todo.pop()
        if m in seen or m in DISPATCH:
            continue
        seen.add(m)
        todo.extend(direct_imports(m))
    return tuple(sorted(seen))


def verb_modules(verb: str) -> tuple[str, ...]:
    """The import closure of ``python -m datar <verb>``."""
    from datar.cli import VERBS

    if verb not in VERBS:
        raise KeyError(f"unknown verb {verb!r}; known: {', '.join(sorted(VERBS))}")
    return closure([f"datar.cli.{VERBS[verb]}"])


class _StripDocstrings(ast.NodeTransformer):
    """Remove the docstring of every module, class and function (it computes nothing)."""

    def _strip(self, node):  # noqa: ANN001, ANN202 - ast nodes
        self.generic_visit(node)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _strip


def source_hash(source: str) -> str:
    """SHA-256 of Python source's syntax tree without docstrings, comments or layout."""
    tree = _StripDocstrings().visit(ast.parse(source))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False, include_attributes=False).encode()).hexdigest()


@lru_cache(maxsize=None)
def module_hash(module: str) -> str:
    """:func:`source_hash` of one ``datar`` module."""
    path = module_path(module)
    if path is None:
        raise KeyError(module)
    return source_hash(path.read_text(encoding="utf-8"))


def fingerprint(modules: Iterable[str]) -> str:
    """One hash over the given modules (name and :func:`module_hash` of each), 16 hex digits."""
    h = hashlib.sha256()
    for m in sorted(set(modules)):
        h.update(f"{m}\0{module_hash(m)}\n".encode())
    return h.hexdigest()[:16]


@lru_cache(maxsize=None)
def verb_fingerprint(verb: str) -> str:
    """The code fingerprint of ``python -m datar <verb>`` (a rule's ``code`` param)."""
    return fingerprint(verb_modules(verb))


def module_file(module: str) -> str:
    """A module's file relative to the repository root (``datar/models/dat.py``)."""
    path = module_path(module)
    assert path is not None, module
    return path.relative_to(ROOT.parent).as_posix()


def stage_files(verbs: Iterable[str]) -> list[str]:
    """The package files the given verbs run (sorted paths relative to the repository)."""
    return sorted({module_file(m) for v in verbs for m in verb_modules(v)})


def code_fingerprint() -> str:
    """The fingerprint of the whole package (every module): recorded in runs and tables."""
    modules = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(parts))
    return fingerprint(modules)
