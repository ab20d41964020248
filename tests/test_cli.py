"""The command line: ``python -m datar --help`` lists every verb in a line, help is plain text."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from datar.__main__ import main as datar_main
from datar.cli import VERBS

MARKUP = re.compile(r"``|:[a-z]+:`|(?<![A-Za-z])`[^`\s][^`]*`")


def test_help_lists_every_verb_with_one_line(capsys):
    assert datar_main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = dict(re.findall(r"^  ([a-z-]+) +(\S.*)$", out, re.M))
    assert set(listed) == set(VERBS)
    for verb, text in listed.items():
        assert len(text) > 10 and not MARKUP.search(text) and not text.startswith("python -m datar"), (verb, text)


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_verb_help_is_plain_text(verb):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as done:
        datar_main([verb, "--help"])
    assert done.value.code == 0
    text = buf.getvalue()
    assert text.startswith(f"usage: python -m datar {verb}")
    assert not MARKUP.search(text), f"raw markup in `{verb} --help`: {MARKUP.search(text).group(0)!r}"


def test_unknown_verb_suggests_the_closest(capsys):
    assert datar_main(["trian", "--config", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown verb 'trian'; did you mean train?")
    assert datar_main(["xyzzy"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_gpu_count_and_launcher():
    from datar.launch import gpu_count, launcher

    assert gpu_count({}) == 0 and launcher({}) == "python"
    assert launcher({"gpu": 1}) == "python -m datar lease --gpus 1 -- python"
    assert gpu_count({"gres": "gpu:a100:4"}) == 4 and gpu_count({"gpus": 2, "gres": "gpu:1"}) == 2
    assert launcher({"gpu": 4}) == "python -m datar lease --gpus 4 -- torchrun --standalone --nproc_per_node=4"
    assert gpu_count({"gpu": True, "gres": "tmp:10"}) == 0


def test_dvc_targets_follow_the_config_and_refuse_other_dirs(capsys):
    from conftest import REPO
    from datar.config import load_config
    from datar.runs import final_targets

    demo = str(REPO / "config" / "demo.yaml")
    assert datar_main(["dvc-targets", "--config", demo, "--data-dir", "data", "--results-dir", "results",
                       "runs", "vggsound"]) == 0
    assert capsys.readouterr().out.split() == [f"results/runs/vggsound/{v}/seed{s}/metrics.json"
                                               for v in ("ast", "datar") for s in (0, 1)]
    assert datar_main(["dvc-targets", "--config", demo, "data", "epic100"]) == 0
    assert capsys.readouterr().out.split() == ["data/epic100/version.json", "results/data/epic100_availability.md"]
    assert datar_main(["dvc-targets", "--config", demo, "report", "all"]) == 0
    assert capsys.readouterr().out.split() == final_targets(load_config(demo))
    assert datar_main(["dvc-targets", "--config", demo, "--data-dir", "elsewhere", "runs", "vggsound"]) == 2
    err = capsys.readouterr().err
    assert re.match(r"error: data_dir: .*demo\.yaml says 'data' but params\.yaml says 'elsewhere'", err), err
