# Tables 1-4 (paper numbers beside reproduced ones), Fig. 1 and the extra figures.


rule table:
    """One of the paper's tables from the runs' metrics, as markdown, LaTeX and csv."""
    input:
        metrics=table_metrics,
        availability=table_availability,
        version=table_version,
        paper=PAPER,
    output:
        md=report(f"{RESULTS}/tables/{{table}}.md", caption="../report/table.rst", category="Tables"),
        tex=f"{RESULTS}/tables/{{table}}.tex",
        csv=f"{RESULTS}/tables/{{table}}.csv",
    log:
        f"{RESULTS}/logs/table/{{table}}.log",
    params:
        cfg=resolved_config,
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar table --config {params.cfg} --table {wildcards.table}"
        " --paper {input.paper} --out-prefix {params.prefix} {input.metrics} > {log} 2>&1"


rule figure_adaptor:
    """Fig. 1: input log-mel, adapted input, and what the learnable adaptor added."""
    input:
        checkpoint=fig1_checkpoint,
    output:
        png=report(f"{RESULTS}/figures/fig1_adaptor.png", caption="../report/fig1.rst", category="Figures"),
        pdf=f"{RESULTS}/figures/fig1_adaptor.pdf",
    log:
        f"{RESULTS}/logs/figures/fig1_adaptor.log",
    params:
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
        png=report(f"{RESULTS}/figures/deform_points.png", caption="../report/deform.rst", category="Figures"),
        pdf=f"{RESULTS}/figures/deform_points.pdf",
    log:
        f"{RESULTS}/logs/figures/deform_points.log",
    params:
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
        png=report(f"{RESULTS}/figures/curves_{{dataset}}.png", caption="../report/curves.rst", category="Figures"),
        pdf=f"{RESULTS}/figures/curves_{{dataset}}.pdf",
    log:
        f"{RESULTS}/logs/figures/curves_{{dataset}}.log",
    params:
        cfg=resolved_config,
        prefix=output_prefix,
    conda:
        ENV
    shell:
        "python -m datar figure-curves --config {params.cfg} --out-prefix {params.prefix} {input} > {log} 2>&1"
