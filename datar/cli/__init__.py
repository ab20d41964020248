"""Command-line verbs: ``python -m datar <verb>``; each module has ``main(argv=None)``."""

# verb name -> module under datar.cli
VERBS: dict[str, str] = {
    "demo-corpus": "demo_corpus",
    "rehearsal-corpus": "rehearsal_corpus",
    "manifest": "manifest",
    "download": "download",
    "validate": "validate",
    "availability": "availability",
    "fbank": "fbank",
    "stats": "stats",
    "train": "train",
    "evaluate": "evaluate",
    "macs": "macs",
    "plan": "plan",
    "table": "table",
    "claims": "claims",
    "html": "html",
    "report-front": "report_front",
    "figure-classes": "figure_classes",
    "figure-adaptor": "figure_adaptor",
    "figure-deform": "figure_deform",
    "figure-curves": "figure_curves",
    "data-version": "data_version",
    "dvc-check": "dvc_check",
    "dvc-targets": "dvc_targets",
    "code-deps": "code_deps",
}
