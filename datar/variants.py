"""Names of the model variants, importable without torch (the Snakefile uses them).

``datar.models.VARIANTS`` registers a builder for each of these names; a test checks that
the two agree.
"""

MODEL_VARIANTS: tuple[str, ...] = (
    "ast",
    "dat_fixed",
    "dat_deform",
    "dat_deform_gauss",
    "dat_deform_laplace",
    "datar_l0.2",
    "datar",
)
