"""Feature stage: AST's Kaldi fbank front end, per-shard safetensors files, their statistics
and the ``torch`` Dataset that reads them.

Modules (one idea each): ``fbank`` (the front end), ``audio`` (ffmpeg decoding of tar
members), ``shards`` (the shard file format, checksummed), ``extract`` (one shard job),
``stats`` (training-split mean/std), ``specaugment``, ``dataset`` (lazy reader),
``version`` (the data version hash). Importing this package has no side effects.
"""
