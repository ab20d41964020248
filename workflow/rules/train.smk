# Training and evaluation: one run per dataset x variant x seed. GPUs, partitions and
# time limits come from the profile (slurm/config.yaml), not from here.


rule train:
    """Train one variant with one seed; resumes from last.ckpt after a kill or preemption."""
    input:
        shards=fbank_files,
        stats=runs.stats_json(DATA, "{dataset}"),
        version=runs.version_json(DATA, "{dataset}"),
        weights=pretrained_weights,  # model.pretrained.<family>: a replaced file retrains
    output:
        checkpoint=runs.run_file(RESULTS, "{dataset}", "{variant}", "{seed}", "checkpoint.pt"),
        log_csv=runs.run_file(RESULTS, "{dataset}", "{variant}", "{seed}", "log.csv"),
    log:
        f"{RESULTS}/logs/train/{{dataset}}/{{variant}}/seed{{seed}}.log",
    params:
        code=code_of("train"),
        cfg=resolved_config,
        sections=section_hash("model", "train", "fbank"),
        launch=launcher,
        out=output_dir,
    threads: 1
    resources:
        gpu=GPUS,  # 1 on a machine with GPUs (one job per device: datar lease), else 0; profiles override
    retries: 2
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} {params.launch} -m datar train --config {params.cfg}"
        " --dataset {wildcards.dataset} --variant {wildcards.variant} --seed {wildcards.seed}"
        " --out {params.out} > {log} 2>&1"


rule evaluate:
    """Test-split metrics (top-1/top-5; verb/noun/action for EPIC) and per-clip predictions."""
    input:
        checkpoint=runs.run_file(RESULTS, "{dataset}", "{variant}", "{seed}", "checkpoint.pt"),
        shards=fbank_files,
        version=runs.version_json(DATA, "{dataset}"),
    output:
        metrics=runs.run_file(RESULTS, "{dataset}", "{variant}", "{seed}", "metrics.json"),
        predictions=runs.run_file(RESULTS, "{dataset}", "{variant}", "{seed}", "predictions.csv"),
    log:
        f"{RESULTS}/logs/evaluate/{{dataset}}/{{variant}}/seed{{seed}}.log",
    params:
        code=code_of("evaluate"),
        cfg=resolved_config,
        run=output_dir,
        launch=launcher,
    threads: 1
    resources:
        gpu=GPUS,
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS={threads} {params.launch} -m datar evaluate --config {params.cfg}"
        " --run {params.run} > {log} 2>&1"
