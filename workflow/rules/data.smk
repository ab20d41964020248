# Data: demo corpus / rehearsal media -> manifest (checkpoint) -> download -> validate -> availability report.
# One job per shard of `download.shard_size` clips, never one per clip.


rule demo_corpus:
    """The embedded demo's synthetic corpus (config/demo.yaml), listed as file URLs."""
    output:
        runs.demo_source_csv(DATA, "{dataset}"),
    log:
        f"{RESULTS}/logs/demo_corpus/{{dataset}}.log",
    params:
        code=code_of("demo-corpus"),
        cfg=resolved_config,
        fingerprint=dataset_hash,
    conda:
        ENV
    shell:
        "python -m datar demo-corpus --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"


rule rehearsal_corpus:
    """The rehearsal's local copies (config/rehearsal.yaml): media files named as the datasets name them."""
    input:
        manifest_sources,
    output:
        runs.rehearsal_listing(DATA, "{dataset}"),
    log:
        f"{RESULTS}/logs/rehearsal_corpus/{{dataset}}.log",
    params:
        code=code_of("rehearsal-corpus"),
        cfg=resolved_config,
        fingerprint=dataset_hash,
    conda:
        ENV
    shell:
        "python -m datar rehearsal-corpus --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"


checkpoint manifest:
    """One normalised manifest per dataset; the number of shards is known only after it."""
    input:
        manifest_sources,
    output:
        manifest=runs.manifest_csv(DATA, "{dataset}"),
        shards=runs.shards_json(DATA, "{dataset}"),
        classes=runs.classes_json(DATA, "{dataset}"),
    log:
        f"{RESULTS}/logs/manifest/{{dataset}}.log",
    params:
        code=code_of("manifest"),
        cfg=resolved_config,
        fingerprint=dataset_hash,
        sections=section_hash("manifest", "audio"),
        shard_size=CFG.download.shard_size,
    conda:
        ENV
    shell:
        "python -m datar manifest --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"


rule archive:
    """One archive of a local copy (local_source.archives), read once as a stream: the members the
    manifest wants, decoded to FLAC into the archive's audio store; nothing is extracted."""
    input:
        manifest=runs.manifest_csv(DATA, "{dataset}"),
        archive=archive_file,
    output:
        # temporary: deleted once every shard job of the dataset has copied its clips (the shards
        # are the data of record); a shard job forced again later rereads the archive. Keep them
        # with --notemp. A clone that pulled the shards (DVC) never needs the archives.
        store=temp(runs.archive_file(DATA, "{dataset}", "{archive}", "tar")),
        index=temp(runs.archive_file(DATA, "{dataset}", "{archive}", "json")),
    log:
        f"{RESULTS}/logs/archive/{{dataset}}/{{archive}}.log",
    params:
        code=code_of("archive"),
        cfg=resolved_config,
        sections=section_hash("audio"),
        fingerprint=dataset_hash,
    threads: 2
    conda:
        ENV
    shell:
        "python -m datar archive --config {params.cfg} --dataset {wildcards.dataset}"
        " --archive {wildcards.archive} --workers {threads} > {log} 2>&1"


rule download:
    """One shard: local files cut in place by ffmpeg, the rest with yt-dlp; dead links are
    recorded in the status csv, not fatal. Exits 2 when YouTube keeps refusing (circuit
    breaker, download.max_consecutive_blocked); finished clips are kept and a rerun carries on."""
    input:
        manifest=runs.manifest_csv(DATA, "{dataset}"),
        local_copy=rehearsal_files,
        archives=archive_indexes,
    output:
        tar=runs.clip_file(DATA, "{dataset}", "{shard}", "tar"),
        status=runs.clip_file(DATA, "{dataset}", "{shard}", "status.csv"),
    log:
        f"{RESULTS}/logs/download/{{dataset}}/{{shard}}.log",
    params:
        code=code_of("download"),
        cfg=resolved_config,
        sample_rate=CFG.audio.sample_rate,
    # No job-level retries: each clip is retried inside the job (download.retries, with
    # backoff), and retrying a job the circuit breaker stopped would only ask YouTube again.
    conda:
        ENV
    shell:
        "python -m datar download --config {params.cfg} --dataset {wildcards.dataset}"
        " --shard {wildcards.shard} > {log} 2>&1"


rule validate:
    """Decode every clip and check rate, channels, duration and silence."""
    input:
        tar=runs.clip_file(DATA, "{dataset}", "{shard}", "tar"),
        status=runs.clip_file(DATA, "{dataset}", "{shard}", "status.csv"),
    output:
        runs.clip_file(DATA, "{dataset}", "{shard}", "valid.csv"),
    log:
        f"{RESULTS}/logs/validate/{{dataset}}/{{shard}}.log",
    params:
        code=code_of("validate"),
        cfg=resolved_config,
        sections=section_hash("validate", "audio"),
    conda:
        ENV
    shell:
        "python -m datar validate --config {params.cfg} --dataset {wildcards.dataset}"
        " --shard {wildcards.shard} > {log} 2>&1"


rule availability:
    """Per split: rows, downloaded, valid, reasons, beside the paper's counts."""
    input:
        manifest=runs.manifest_csv(DATA, "{dataset}"),
        status=status_files,
        valid=valid_files,
        paper=PAPER,  # the paper's counts beside ours
    output:
        md=runs.availability_file(RESULTS, "{dataset}", "md"),  # the report shows its HTML page (report.smk)
        csv=runs.availability_file(RESULTS, "{dataset}", "csv"),
        clips=runs.clip_list_csv(RESULTS, "{dataset}"),  # clip_id, split, status: commit or publish it
    log:
        f"{RESULTS}/logs/availability/{{dataset}}.log",
    params:
        code=code_of("availability"),
        cfg=resolved_config,
    conda:
        ENV
    shell:
        "python -m datar availability --config {params.cfg} --dataset {wildcards.dataset} > {log} 2>&1"
