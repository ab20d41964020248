"""datar-repro: a workflow-orchestrated reproduction of DATAR (Zhu, arXiv 2312.16228)."""

__version__ = "0.1.0"
