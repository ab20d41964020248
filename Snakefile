# datar-repro: DATAR (Zhu, arXiv 2312.16228), Tables 1-4 and Fig. 1, end to end.
#
#   snakemake --cores 2 all                              # everything, locally
#   snakemake --profile slurm all                        # everything, on a SLURM cluster
#   snakemake --cores 2 results/tables/table2.md         # one table, and only what it needs
#   snakemake --configfile config/demo.yaml --cores 2 all  # the embedded demo
#   snakemake --configfile config/test.yaml --cores 2 all  # the smallest run (CI, a check)
#   snakemake --configfile config/demo.yaml seeds.yaml ... # later files override keys of earlier
#                                                          # ones (e.g. seeds: [0, 1, 2])
#   snakemake --configfile config/demo.yaml --report results/report.html   # the report, after all
#
# Rules live in workflow/rules/ and call `python -m datar <verb>`; the logic is in datar/.
import os

from snakemake.utils import min_version

min_version("9.0")


# The paper's experiment unless --configfile names another (replaced, not merged: a demo or
# user config must not inherit the paper's dataset entries).
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


# common.smk checks the config against workflow/schemas/config.schema.yaml (datar.schema: one
# line per bad key, with the file and a fix), fills in its defaults and writes the resolved
# config that every job reads.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets,
    default_target: True
