"""The optimizer lab: ``%minimize --widgets``.

:mod:`~gradmagic.lab.panel` maps the panel's controls to runs and wires them up;
:mod:`~gradmagic.lab.panel_figure` draws its plot quickly enough to follow a slider: the
static parts as a PNG, the moving artists as an SVG overlay (:mod:`~gradmagic.lab.panel_svg`).
"""
