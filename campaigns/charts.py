"""Plotly figures for the campaign page, built from results and returned as dicts."""

from __future__ import annotations

import json

import plotly.graph_objects as go

from segments.charts import PALETTE, _layout

TREATED, CONTROL = PALETTE[0], PALETTE[9]


def rates_figure(strata: list) -> dict | None:
    """Conversion rate of treated against control per persona, with 95 % Wilson intervals
    as error bars. None when nothing has converted yet (an empty chart says nothing)."""
    if not strata or not any(r.treated.converters or r.control.converters for r in strata):
        return None
    labels = [r.label for r in strata]
    figure = go.Figure()
    for name, colour, groups in (("Treated", TREATED, [r.treated for r in strata]),
                                 ("Control (holdout)", CONTROL, [r.control for r in strata])):
        rates = [g.conversion for g in groups]
        figure.add_bar(
            name=name, x=labels, y=[r.rate for r in rates], marker_color=colour,
            error_y=dict(type="data", symmetric=False,
                         array=[(r.high - r.rate) if r.rate is not None else None for r in rates],
                         arrayminus=[(r.rate - r.low) if r.rate is not None else None for r in rates]),
            customdata=[[g.converters, g.members] for g in groups],
            hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]})<extra>" + name + "</extra>",
        )
    figure.update_layout(**_layout(barmode="group", yaxis=dict(title="conversion rate", tickformat=".0%", rangemode="tozero")))
    return json.loads(figure.to_json())
