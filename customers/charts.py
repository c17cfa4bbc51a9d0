"""Plotly figures for the customer and feature pages, as JSON-able dicts. No Django here."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from segments.charts import _as_dict, _layout

# One colour per named RFM segment, shared by the features page and the overview: greens
# for the best customers, warm colours for those slipping away, greys for the lost.
RFM_COLOURS = {
    "Champions": "#1a7f37", "Loyal": "#2f855a", "Potential Loyalist": "#59a14f", "New Customers": "#4e79a7",
    "Promising": "#76b7b2", "Need Attention": "#edc948", "About to Sleep": "#f28e2b", "At Risk": "#e15759",
    "Can't Lose Them": "#b0413e", "Hibernating": "#9c755f", "Lost": "#7f7f7f", "No purchases": "#bab0ac",
}


def rfm_segments_figure(segments: list[dict]) -> dict:
    """Customers per named RFM segment, in the order of the rules (best to worst)."""
    shown = [s for s in segments if s["customers"]]
    figure = go.Figure(go.Bar(
        x=[s["customers"] for s in shown], y=[s["name"] for s in shown], orientation="h",
        marker_color=[s["colour"] for s in shown],
        text=[f"{s['customers']:,} ({s['share']:.0%})" for s in shown], textposition="auto",
        hovertemplate="%{y}: %{x:,} customers<extra></extra>",
    ))
    figure.update_layout(**_layout(height=max(180, 34 * len(shown) + 70), xaxis_title="customers",
                                   yaxis=dict(autorange="reversed")))
    return _as_dict(figure)


def rfm_grid_figure(cells: list[dict]) -> dict:
    """Recency score against frequency score: how many customers sit in each cell."""
    counts = [[0] * 5 for _ in range(5)]
    spend = [[None] * 5 for _ in range(5)]
    for cell in cells:
        counts[cell["f_score"] - 1][cell["r_score"] - 1] = cell["customers"]
        spend[cell["f_score"] - 1][cell["r_score"] - 1] = round(cell["spend"] or 0, 2)
    figure = go.Figure(go.Heatmap(
        z=counts, x=[1, 2, 3, 4, 5], y=[1, 2, 3, 4, 5], colorscale="Blues", customdata=spend,
        hovertemplate="R %{x}, F %{y}: %{z:,} customers, mean net spend %{customdata:,.2f}<extra></extra>",
        colorbar=dict(title="customers"),
    ))
    figure.update_layout(**_layout(height=380, xaxis_title="recency score (5 = most recent)",
                                   yaxis_title="frequency score (5 = most often)"))
    return _as_dict(figure)


# Values of a categorical feature given a bar each; the rest share one "other" bar.
CATEGORY_BARS = 12


def _numeric(sample) -> list[str]:
    return [c for c in sample.columns if pd.api.types.is_numeric_dtype(sample[c]) and not pd.api.types.is_bool_dtype(sample[c])]


def histograms_figure(sample, labels: dict[str, str]) -> dict:
    """One histogram per numeric feature, and customers per value for each categorical one
    (the most common CATEGORY_BARS values), in a grid, from a sample."""
    from plotly.subplots import make_subplots

    columns = [c for c in sample.columns if sample[c].notna().any()]
    per_row = 3
    rows = max(1, -(-len(columns) // per_row))
    figure = make_subplots(rows=rows, cols=per_row, subplot_titles=[labels.get(c, c) for c in columns],
                           vertical_spacing=0.5 / rows)
    numeric = set(_numeric(sample))
    for position, name in enumerate(columns):
        values = sample[name].dropna()
        if name not in numeric:
            counts = values.astype(str).value_counts()
            if len(counts) > CATEGORY_BARS:
                counts = pd.concat([counts.iloc[:CATEGORY_BARS], pd.Series({"other": counts.iloc[CATEGORY_BARS:].sum()})])
            figure.add_trace(go.Bar(x=counts.index.tolist(), y=counts.tolist(), marker_color="#4e79a7", showlegend=False,
                                    hovertemplate="%{x}: %{y:,} customers<extra></extra>"),
                             row=position // per_row + 1, col=position % per_row + 1)
            continue
        # clip the long right tail of money and counts at the 99th percentile, so the bulk shows
        high = values.quantile(0.99)
        figure.add_trace(go.Histogram(x=values.clip(upper=high), nbinsx=40, marker_color="#4e79a7", showlegend=False,
                                      hovertemplate="%{x}: %{y:,} customers<extra></extra>"),
                         row=position // per_row + 1, col=position % per_row + 1)
    figure.update_layout(**_layout(height=230 * rows, bargap=0.05))
    return _as_dict(figure)


# A correlation cell is at least this many pixels wide and high: room for "-0.35" at
# CELL_FONT px. On a screen narrower than the matrix, the chart scrolls sideways (the
# template gives its box the figure's min_width) rather than shrinking the numbers.
CELL_PX = 44
CELL_FONT = 12
# Room for the feature names beside and below the matrix, per character of the longest.
LABEL_CHAR_PX = 7


def correlation_figure(sample, labels: dict[str, str]) -> dict:
    """Spearman correlations between the numeric features (categorical ones have no order),
    one readable number per cell and the pair on hover. The dict's min_width (px) is the
    width below which the cells would get smaller than CELL_PX."""
    columns = [c for c in _numeric(sample) if sample[c].notna().sum() > 2 and sample[c].std() > 0]
    matrix = sample[columns].corr(method="spearman").round(2)
    names = [labels.get(c, c) for c in columns]
    label_px = LABEL_CHAR_PX * max((len(n) for n in names), default=0) + 16
    figure = go.Figure(go.Heatmap(
        z=matrix.to_numpy(), x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu",
        texttemplate="%{z:.2f}", textfont=dict(size=CELL_FONT),
        hovertemplate="%{y} and %{x}: %{z:.2f}<extra></extra>", colorbar=dict(thickness=12),
    ))
    # names below the matrix are turned 45 degrees: they need about 3/4 of their length
    bottom_px = int(0.75 * label_px) + 10
    figure.update_layout(**_layout(
        height=40 + bottom_px + CELL_PX * len(columns),
        xaxis=dict(tickangle=-45, automargin=False), yaxis=dict(autorange="reversed", automargin=False),
    ))
    figure.update_layout(margin=dict(l=label_px, r=10, t=30, b=bottom_px))
    result = _as_dict(figure)
    result["min_width"] = label_px + CELL_PX * len(columns) + 80  # the colour bar and its numbers
    return result


def scatter_matrix_figure(sample, columns: list[str], labels: dict[str, str], points: int = 2_000) -> dict:
    shown = sample[columns].dropna().head(points)
    figure = go.Figure(go.Splom(
        dimensions=[dict(label=labels.get(c, c), values=shown[c]) for c in columns],
        marker=dict(size=3, opacity=0.5, color="#4e79a7"), diagonal_visible=False, showupperhalf=False,
    ))
    figure.update_layout(**_layout(height=650))
    return _as_dict(figure)
