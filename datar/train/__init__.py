"""Training and evaluation of one run (dataset x variant x seed).

Entry points: :func:`datar.train.loop.train_run` (``python -m datar train``) and
:func:`datar.train.evaluate.evaluate_run` (``python -m datar evaluate``). The pieces are
one idea per module: :mod:`.schedule` (learning rate), :mod:`.seeding` (RNG state),
:mod:`.sampler` (resumable, rank-aware data order), :mod:`.signals` (SIGTERM / SIGUSR1),
:mod:`.faults` (non-finite loss, out of memory), :mod:`.progress` (bar or lines),
:mod:`.envinfo` (``env.json``), :mod:`.mixup`, :mod:`.accuracy`, :mod:`.runlog` (``log.csv``),
:mod:`.distributed` (torchrun / DDP), :mod:`.data` (loaders from feature shards).
"""
