"""Errors raised for bad user input. Each message names the file, row or key at fault."""


class DatarError(Exception):
    """Base class: the CLI prints ``error: <message>`` and exits with status 2."""


class ConfigError(DatarError):
    """A config file or key is missing, unknown or of the wrong type."""


class ManifestError(DatarError):
    """A manifest or source csv row is malformed (message names file and line)."""


class DataError(DatarError):
    """Stored data (audio, feature shard, stats) is missing, corrupt or inconsistent."""


class CheckpointError(DatarError):
    """A checkpoint is missing, corrupt, or does not match the model."""


class TrainingError(DatarError):
    """Training cannot go on (non-finite loss, out of memory, ...)."""
