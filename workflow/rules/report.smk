# Tables 1-4 (paper numbers beside reproduced ones), the claims, Fig. 1, the extra figures and
# the report's pages. Report items are HTML or PNG (shown inline); md/tex/csv are the files of record.


rule table:
    """One of the paper's tables from the runs' metrics and predictions, as markdown, LaTeX, csv and HTML."""
    input:
        metrics=table_metrics,
        predictions=table_predictions,
        availability=table_availability,
        version=table_version,
        paper=PAPER,
    output:
        md=runs.table_file(RESULTS, "{table}", "md"),
        tex=runs.table_file(RESULTS, "{table}", "tex"),
        csv=runs.table_file(RESULTS, "{table}", "csv"),
        html=report(runs.table_file(RESULTS, "{table}", "html"), caption="../report/table.rst", category="Tables",
                    labels=table_labels),
        metrics=runs.table_metrics_file(RESULTS, "{table}"),  # dvc metrics (dvc.yaml)
    log:
        f"{RESULTS}/logs/table/{{table}}.log",
    params:
        code=code_of("table"),
        cfg=resolved_config,
        sections=section_hash("tables", "report"),
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar table --config {params.cfg} --table {wildcards.table}"
        " --paper {input.paper} --out-prefix {params.prefix} {input.metrics} > {log} 2>&1"


rule claims:
    """Every quantitative claim of the paper: reproduced Δ (paired), its interval, p-value and verdict."""
    input:
        metrics=claims_metrics,
        predictions=claims_predictions,
        availability=claims_availability,
        paper=PAPER,
    output:
        md=runs.table_file(RESULTS, "claims", "md"),
        tex=runs.table_file(RESULTS, "claims", "tex"),
        csv=runs.table_file(RESULTS, "claims", "csv"),
        html=report(runs.table_file(RESULTS, "claims", "html"), caption="../report/claims.rst", category="Claims",
                    labels={"table": "claims", "what": "every quantitative claim of the paper, with a verdict"}),
        metrics=runs.table_metrics_file(RESULTS, "claims"),  # dvc metrics (dvc.yaml)
    log:
        f"{RESULTS}/logs/claims.log",
    params:
        code=code_of("claims"),
        cfg=resolved_config,
        sections=section_hash("tables", "report", "model", "fbank"),
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar claims --config {params.cfg} --paper {input.paper}"
        " --out-prefix {params.prefix} {input.metrics} > {log} 2>&1"


rule availability_page:
    """The availability report as a self-contained HTML page (the report shows it inline)."""
    input:
        runs.availability_file(RESULTS, "{dataset}", "md"),
    output:
        report(f"{RESULTS}/report/{{dataset}}_availability.html", caption="../report/availability.rst",
               category="Data", labels=dataset_labels),
    log:
        f"{RESULTS}/logs/report/{{dataset}}_availability.log",
    params:
        code=code_of("html"),
    conda:
        ENV
    shell:
        "python -m datar html {input} {output} > {log} 2>&1"


rule report_front:
    """The report's front page: config, kind, commits, data versions, sections, how to regenerate."""
    input:
        versions=front_versions,
        metrics=claims_metrics,
        tables=front_tables,
    output:
        f"{RESULTS}/report/front.rst",
    log:
        f"{RESULTS}/logs/report/front.log",
    params:
        code=code_of("report-front"),
        cfg=resolved_config,
        configfiles=configfile_args,
    conda:
        ENV
    shell:
        "python -m datar report-front --config {params.cfg} --configfile-args {params.configfiles:q}"
        " --out {output} {input.metrics} > {log} 2>&1"


rule figure_classes:
    """Per-class accuracy and the confusion matrix of one variant on one dataset (every head)."""
    input:
        class_predictions,
    output:
        png=report(runs.figure_file(RESULTS, "classes/{dataset}/{variant}.png"), caption="../report/classes.rst",
                   category="Figures", subcategory="Per-class accuracy and confusion", labels=class_labels),
        csv=runs.figure_file(RESULTS, "classes/{dataset}/{variant}.csv"),
    log:
        f"{RESULTS}/logs/figures/classes/{{dataset}}/{{variant}}.log",
    params:
        code=code_of("figure-classes"),
        cfg=resolved_config,
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar figure-classes --config {params.cfg} --dataset {wildcards.dataset}"
        " --variant {wildcards.variant} --out-prefix {params.prefix} {input} > {log} 2>&1"


rule figure_adaptor:
    """Fig. 1: input log-mel, adapted input, and what the learnable adaptor added."""
    input:
        checkpoint=fig1_checkpoint,
    output:
        png=report(runs.figure_file(RESULTS, "fig1_adaptor.png"), caption="../report/fig1.rst", category="Figures",
                   subcategory="Fig. 1 and sampling points", labels={"figure": "Fig. 1: input adaptor"}),
        pdf=runs.figure_file(RESULTS, "fig1_adaptor.pdf"),
    log:
        f"{RESULTS}/logs/figures/fig1_adaptor.log",
    params:
        code=code_of("figure-adaptor"),
        cfg=resolved_config,
        run=fig1_run,
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar figure-adaptor --config {params.cfg} --run {params.run}"
        " --out-prefix {params.prefix} > {log} 2>&1"


rule figure_deform:
    """Deformable sampling points of a few queries over a spectrogram (the paper's Fig. 3 idea)."""
    input:
        checkpoint=fig1_checkpoint,
    output:
        png=report(runs.figure_file(RESULTS, "deform_points.png"), caption="../report/deform.rst", category="Figures",
                   subcategory="Fig. 1 and sampling points", labels={"figure": "deformable sampling points"}),
        pdf=runs.figure_file(RESULTS, "deform_points.pdf"),
    log:
        f"{RESULTS}/logs/figures/deform_points.log",
    params:
        code=code_of("figure-deform"),
        cfg=resolved_config,
        run=fig1_run,
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar figure-deform --config {params.cfg} --run {params.run}"
        " --out-prefix {params.prefix} > {log} 2>&1"


rule figure_curves:
    """Training curves of every run of one dataset."""
    input:
        curve_logs,
    output:
        png=report(runs.figure_file(RESULTS, "curves_{dataset}.png"), caption="../report/curves.rst", category="Figures",
                   subcategory="Training curves", labels=dataset_labels),
        pdf=runs.figure_file(RESULTS, "curves_{dataset}.pdf"),
        csv=runs.curves_file(RESULTS, "{dataset}"),  # dvc plots (dvc.yaml)
    log:
        f"{RESULTS}/logs/figures/curves_{{dataset}}.log",
    params:
        code=code_of("figure-curves"),
        cfg=resolved_config,
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar figure-curves --config {params.cfg} --dataset {wildcards.dataset}"
        " --out-prefix {params.prefix} --csv {output.csv} {input} > {log} 2>&1"
