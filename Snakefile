# datar-repro: DATAR (Zhu, arXiv 2312.16228), Tables 1-4 and Fig. 1, end to end.
#
#   snakemake --cores 2 all                              # everything, locally
#   snakemake --profile slurm all                        # everything, on a SLURM cluster
#   snakemake --cores 2 results/tables/table2.md         # one table, and only what it needs
#   snakemake --configfile config/demo.yaml --cores 2 all  # the embedded demo (--configfile
#                                                          # takes several files: put it first)
#   snakemake --configfile config/demo.yaml --report results/report.html   # the report, after all
#
# Rules live in workflow/rules/ and call `python -m datar <verb>`; the logic is in datar/.
import os

from snakemake.utils import min_version, validate

min_version("9.0")


# The paper's experiment unless --configfile names another (replaced, not merged: a demo or
# user config must not inherit the paper's dataset entries).
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


validate(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))


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
