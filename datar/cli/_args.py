"""The arguments every data-stage verb shares: ``--config``, ``--dataset`` and ``--shard``."""

from __future__ import annotations

import argparse


def stage_parser(verb: str, description: str | None, *, shard: bool = False) -> argparse.ArgumentParser:
    """An argument parser for ``python -m datar <verb>`` with ``--config`` and ``--dataset``.

    Args:
        verb: the verb's name (``download``, ``data-version``, ...).
        description: the module docstring.
        shard: also require ``--shard`` (a per-shard job).
    """
    p = argparse.ArgumentParser(prog=f"python -m datar {verb}", description=description)
    p.add_argument("--config", required=True, help="config YAML (e.g. .datar/config.resolved.yaml)")
    p.add_argument("--dataset", required=True, help="dataset name under datasets: in the config")
    if shard:
        p.add_argument("--shard", required=True, help="shard name from shards.json, e.g. train-00000")
    return p
