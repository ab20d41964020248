# Data: demo corpus -> manifest (checkpoint) -> download -> validate -> availability report.
# One job per shard of `download.shard_size` clips, never one per clip.


rule demo_corpus:
    """The embedded demo's synthetic corpus (config/demo.yaml), listed as file URLs."""
    output:
        f"{DATA}/demo/{{dataset}}/source.csv",
    log:
        f"{RESULTS}/logs/demo_corpus/{{dataset}}.log",
    params:
        cfg=CONFIG_PATH,
        fingerprint=dataset_hash,
    conda:
        ENV
    shell:
        "python -m datar demo-corpus --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"


checkpoint manifest:
    """One normalised manifest per dataset; the number of shards is known only after it."""
    input:
        manifest_sources,
    output:
        manifest=f"{DATA}/{{dataset}}/manifest.csv",
        shards=f"{DATA}/{{dataset}}/shards.json",
        classes=f"{DATA}/{{dataset}}/classes.json",
    log:
        f"{RESULTS}/logs/manifest/{{dataset}}.log",
    params:
        cfg=CONFIG_PATH,
        fingerprint=dataset_hash,
        sections=section_hash("manifest", "audio"),
        shard_size=CFG.download.shard_size,
    conda:
        ENV
    shell:
        "python -m datar manifest --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"


rule download:
    """yt-dlp + ffmpeg for one shard; dead links are recorded in the status csv, not fatal."""
    input:
        manifest=f"{DATA}/{{dataset}}/manifest.csv",
    output:
        tar=f"{DATA}/{{dataset}}/clips/{{shard}}.tar",
        status=f"{DATA}/{{dataset}}/clips/{{shard}}.status.csv",
    log:
        f"{RESULTS}/logs/download/{{dataset}}/{{shard}}.log",
    params:
        cfg=CONFIG_PATH,
        sample_rate=CFG.audio.sample_rate,
    retries: 2
    conda:
        ENV
    shell:
        "python -m datar download --config {params.cfg} --dataset {wildcards.dataset}"
        " --shard {wildcards.shard} > {log} 2>&1"


rule validate:
    """Decode every clip and check rate, channels, duration and silence."""
    input:
        tar=f"{DATA}/{{dataset}}/clips/{{shard}}.tar",
        status=f"{DATA}/{{dataset}}/clips/{{shard}}.status.csv",
    output:
        f"{DATA}/{{dataset}}/clips/{{shard}}.valid.csv",
    log:
        f"{RESULTS}/logs/validate/{{dataset}}/{{shard}}.log",
    params:
        cfg=CONFIG_PATH,
        sections=section_hash("validate", "audio"),
    conda:
        ENV
    shell:
        "python -m datar validate --config {params.cfg} --dataset {wildcards.dataset}"
        " --shard {wildcards.shard} > {log} 2>&1"


rule availability:
    """Per split: rows, downloaded, valid, reasons, beside the paper's counts."""
    input:
        manifest=f"{DATA}/{{dataset}}/manifest.csv",
        status=status_files,
        valid=valid_files,
    output:
        md=f"{RESULTS}/data/{{dataset}}_availability.md",  # the report shows its HTML page (report.smk)
        csv=f"{RESULTS}/data/{{dataset}}_availability.csv",
    log:
        f"{RESULTS}/logs/availability/{{dataset}}.log",
    params:
        cfg=CONFIG_PATH,
    conda:
        ENV
    shell:
        "python -m datar availability --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"
