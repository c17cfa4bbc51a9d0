"""Plotly figures for the segment pages, built from stored results and returned as dicts.

No Django here: views pass these dicts to templates, which hand them to the locally served
plotly.min.js.
"""

from __future__ import annotations

import json

import plotly.graph_objects as go

# Tableau 10: distinguishable, colour-blind-friendlier than Plotly's default cycle.
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
]


def segment_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _as_dict(figure: go.Figure) -> dict:
    # to_json handles numpy types; the round trip gives plain JSON-able dicts.
    return json.loads(figure.to_json())


def _layout(**extra) -> dict:
    return dict(
        margin=dict(l=60, r=20, t=30, b=50),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="#fafafa",
        font=dict(family="system-ui, sans-serif", size=13),
        legend=dict(orientation="h", y=-0.2),
        **extra,
    )


def scatter_figure(projection: dict, names: dict[int, str], ids: list[str] | None = None) -> dict:
    """Customers in two dimensions, one trace per segment so the legend toggles segments."""
    figure = go.Figure()
    xs, ys, segs = projection.get("x", []), projection.get("y", []), projection.get("segment", [])
    for index in sorted(set(segs)):
        positions = [i for i, s in enumerate(segs) if s == index]
        figure.add_trace(
            go.Scattergl(
                x=[xs[i] for i in positions],
                y=[ys[i] for i in positions],
                mode="markers",
                name=names.get(index, f"Segment {index + 1}"),
                marker=dict(size=5, opacity=0.65, color=segment_colour(index)),
                text=[ids[i] for i in positions] if ids else None,
                hovertemplate="%{text}<extra>%{fullData.name}</extra>" if ids else None,
            )
        )
    figure.update_layout(
        **_layout(
            xaxis_title=projection.get("x_label", ""),
            yaxis_title=projection.get("y_label", ""),
            height=480,
        )
    )
    return _as_dict(figure)


def sizes_figure(segments: list[dict]) -> dict:
    """Horizontal bars of segment sizes, largest on top."""
    figure = go.Figure(
        go.Bar(
            x=[s["size"] for s in segments],
            y=[s["name"] for s in segments],
            orientation="h",
            marker_color=[segment_colour(s["index"]) for s in segments],
            text=[f"{s['size']:,} ({s['share']:.0%})" for s in segments],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} customers<extra></extra>",
        )
    )
    figure.update_layout(
        **_layout(
            height=max(160, 48 * len(segments) + 60),
            xaxis_title="customers",
            yaxis=dict(autorange="reversed"),
        )
    )
    return _as_dict(figure)
