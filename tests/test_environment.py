"""pyproject.toml and environment.yml pin the same dependencies, exactly."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import REPO


def _pins(specs):
    pins = {}
    for spec in specs:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", spec.strip())
        assert m, f"not an exact pin: {spec!r}"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_pyproject_and_environment_pin_the_same_versions():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    py = _pins(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda = _pins([p for p in pip_section if not p.startswith("-e")])
    assert py == conda
    assert py["torch"] == py["torchaudio"]  # torchaudio needs the matching torch
    assert "python=3.11" in env["dependencies"] and "ffmpeg" in env["dependencies"]
    assert "nodejs" in env["dependencies"]


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for name, pinned in _pins(project["dependencies"]).items():
        assert version(name).split("+")[0] == pinned, name
