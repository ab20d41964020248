"""Rendering the paper's tables and figures from run outputs.

Tables: :mod:`datar.report.tables` (model), :mod:`datar.report.render` (Markdown, LaTeX,
CSV), :mod:`datar.report.provenance`, :mod:`datar.report.paper` (the paper's numbers),
:mod:`datar.report.metrics` (run metrics files). Figures: :mod:`datar.report.fig_adaptor`,
:mod:`datar.report.fig_deform`, :mod:`datar.report.fig_curves`.
"""
