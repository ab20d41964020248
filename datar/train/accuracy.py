"""Top-k accuracy for single-label heads and verb / noun / action accuracy for EPIC-100.

All results are percentages (0-100). ``k`` larger than the number of classes counts every
clip as right, as ``torch.topk`` with ``k = C`` would.
"""

from __future__ import annotations

import torch


def topk_hits(logits: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """Whether each clip's true class is in its top ``k``.

    Args:
        logits: (N, C) scores.
        target: (N,) int64 class indices.
        k: how many top classes count.

    Returns:
        (N,) bool.
    """
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices  # (N, k)
    return (top == target[:, None]).any(dim=1)


def percent(hits: torch.Tensor) -> float:
    """Mean of a (N,) bool tensor as a percentage; 0.0 for N = 0."""
    return 100.0 * float(hits.float().mean()) if hits.numel() else 0.0


def single_label_metrics(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """``{"top1", "top5"}`` for (N, C) logits and (N,) targets."""
    return {"top1": percent(topk_hits(logits, target, 1)), "top5": percent(topk_hits(logits, target, 5))}


def action_topk_hits(verb_logits: torch.Tensor, noun_logits: torch.Tensor, verb: torch.Tensor,
                     noun: torch.Tensor, k: int) -> torch.Tensor:
    """Whether the (verb, noun) pair is in the top ``k`` of the product of the two softmaxes.

    Args:
        verb_logits: (N, V); noun_logits: (N, U); verb, noun: (N,) int64.

    Returns:
        (N,) bool. For ``k = 1`` this is "both heads right" (the arg-max of a product of
        independent distributions is the pair of arg-maxes).
    """
    if k == 1:
        return (verb_logits.argmax(1) == verb) & (noun_logits.argmax(1) == noun)
    n_noun = noun_logits.shape[1]
    joint = verb_logits.softmax(1)[:, :, None] * noun_logits.softmax(1)[:, None, :]  # (N, V, U)
    flat = joint.reshape(joint.shape[0], -1)
    return topk_hits(flat, verb * n_noun + noun, k)


def epic_metrics(logits: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, float]:
    """``verb_top1/5, noun_top1/5, action_top1/5`` from ``{"verb": (N, V), "noun": (N, U)}``."""
    out: dict[str, float] = {}
    for head in ("verb", "noun"):
        out[f"{head}_top1"] = percent(topk_hits(logits[head], target[head], 1))
        out[f"{head}_top5"] = percent(topk_hits(logits[head], target[head], 5))
    for k in (1, 5):
        out[f"action_top{k}"] = percent(
            action_topk_hits(logits["verb"], logits["noun"], target["verb"], target["noun"], k))
    return out


def head_metrics(logits: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, float]:
    """Metrics for a dataset's heads: EPIC's set for ``{verb, noun}``, else per head.

    A single head yields ``top1``/``top5``; several other heads yield ``{head}_top1`` etc.
    """
    heads = sorted(logits)
    if heads == ["noun", "verb"]:
        return epic_metrics(logits, target)
    if len(heads) == 1:
        return single_label_metrics(logits[heads[0]], target[heads[0]])
    out: dict[str, float] = {}
    for h in heads:
        out.update({f"{h}_{k}": v for k, v in single_label_metrics(logits[h], target[h]).items()})
    return out
