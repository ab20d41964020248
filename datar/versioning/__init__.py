"""Data versioning with DVC: remote, pulled-file hashes, data versions, mtimes after a pull.

``dvc.yaml`` (repo root) versions what Snakemake builds; this package checks that what a
reviewer pulled is what ``dvc.lock`` names, that runs, tables and ``version.json`` agree on
the data version, and makes Snakemake trust pulled files (see ``docs/dvc.md``).
"""

from datar.versioning.dvcrepo import DvcRepo
from datar.versioning.integrity import verify_outputs
from datar.versioning.provenance import check_data_versions
from datar.versioning.touch import touch_targets

__all__ = ["DvcRepo", "check_data_versions", "touch_targets", "verify_outputs"]
