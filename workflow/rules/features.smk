# Features: Kaldi fbank per shard, training-split statistics, and the data version.


rule fbank:
    """AST's fbank for the valid clips of one shard, as one float16 safetensors file."""
    input:
        tar=runs.clip_file(DATA, "{dataset}", "{shard}", "tar"),
        valid=runs.clip_file(DATA, "{dataset}", "{shard}", "valid.csv"),
        manifest=runs.manifest_csv(DATA, "{dataset}"),
        classes=runs.classes_json(DATA, "{dataset}"),
    output:
        runs.fbank_shard(DATA, "{dataset}", "{shard}"),
    log:
        f"{RESULTS}/logs/fbank/{{dataset}}/{{shard}}.log",
    params:
        code=code_of("fbank"),
        cfg=resolved_config,
        sections=section_hash("fbank", "audio"),
    threads: 2
    conda:
        ENV
    shell:
        "OMP_NUM_THREADS=1 python -m datar fbank --config {params.cfg}"
        " --dataset {wildcards.dataset} --shard {wildcards.shard} --workers {threads} > {log} 2>&1"


rule stats:
    """Mean and std of the training split's fbank, for normalisation."""
    input:
        train_fbank_files,
    output:
        runs.stats_json(DATA, "{dataset}"),
    log:
        f"{RESULTS}/logs/stats/{{dataset}}.log",
    params:
        code=code_of("stats"),
        cfg=resolved_config,
    conda:
        ENV
    shell:
        "python -m datar stats --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"


rule data_version:
    """Hashes of the manifest, classes, every feature shard and the stats: the data version."""
    input:
        manifest=runs.manifest_csv(DATA, "{dataset}"),
        classes=runs.classes_json(DATA, "{dataset}"),
        shards=fbank_files,
        stats=runs.stats_json(DATA, "{dataset}"),
    output:
        runs.version_json(DATA, "{dataset}"),
    log:
        f"{RESULTS}/logs/data_version/{{dataset}}.log",
    params:
        code=code_of("data-version"),
        cfg=resolved_config,
    conda:
        ENV
    shell:
        "python -m datar data-version --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"
