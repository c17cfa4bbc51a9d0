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


SELECTION_METRICS = (
    ("inertia", "Inertia (elbow)", "lower is tighter; look for the bend"),
    ("silhouette", "Silhouette", "higher: segments more clearly apart"),
    ("davies_bouldin", "Davies-Bouldin", "lower is better"),
    ("calinski_harabasz", "Calinski-Harabasz", "higher is better"),
    ("bic", "BIC", "lower is better"),
    ("aic", "AIC", "lower is better"),
)


def selection_figure(selection: dict) -> dict | None:
    """One small panel per model-selection curve over k, the chosen k marked in each."""
    from plotly.subplots import make_subplots

    ks = selection.get("ks") or []
    panels = [(key, title, hint) for key, title, hint in SELECTION_METRICS
              if any(value is not None for value in selection.get(key) or [])]
    if len(ks) < 2 or not panels:
        return None
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=[f"{t} <sup>{h}</sup>" for _, t, h in panels],
                           horizontal_spacing=0.08, vertical_spacing=0.2)
    chosen, knee = selection.get("chosen_k"), selection.get("knee")
    for position, (key, title, _) in enumerate(panels):
        row, column = position // columns + 1, position % columns + 1
        values = selection[key]
        figure.add_trace(go.Scatter(x=ks, y=values, mode="lines+markers", name=title, showlegend=False,
                                    line=dict(color=PALETTE[0]), hovertemplate=f"k = %{{x}}<br>{title}: %{{y:.4g}}<extra></extra>"),
                         row=row, col=column)
        marks = [(chosen, "chosen", PALETTE[2])]
        if key == "inertia" and knee and knee != chosen:
            marks.append((knee, "knee", PALETTE[1]))
        for k, label, colour in marks:
            if k in ks and values[ks.index(k)] is not None:
                figure.add_trace(go.Scatter(x=[k], y=[values[ks.index(k)]], mode="markers+text", text=[label],
                                            textposition="top center", marker=dict(size=12, color=colour),
                                            showlegend=False, hoverinfo="skip"), row=row, col=column)
    figure.update_xaxes(dtick=1, title_text="k")
    figure.update_layout(**_layout(height=280 * rows))
    return _as_dict(figure)


def zscore_heatmap(segments: list[dict], features: list[tuple[str, str]]) -> dict | None:
    """Segments x features, coloured by how far each segment's mean is from the average
    customer (z-score): the profile of every segment at a glance."""
    if not segments or not features:
        return None
    z = [[(s["zscore"].get(name)) for name, _ in features] for s in segments]
    figure = go.Figure(go.Heatmap(
        z=z, x=[label for _, label in features], y=[s["name"] for s in segments],
        colorscale="RdBu", reversescale=True, zmid=0, zmin=-2, zmax=2,
        text=[[("" if v is None else f"{v:+.1f}") for v in row] for row in z], texttemplate="%{text}",
        hovertemplate="%{y}<br>%{x}: z = %{z:.2f}<extra></extra>",
        colorbar=dict(title="z"),
    ))
    figure.update_layout(**_layout(height=max(220, 44 * len(segments) + 120), yaxis=dict(autorange="reversed")))
    return _as_dict(figure)


def stability_figure(segments: list[dict], threshold: float) -> dict | None:
    """Bootstrap Jaccard per segment, with the line below which a segment is unstable."""
    rows = [s for s in segments if s.get("stability") is not None]
    if not rows:
        return None
    figure = go.Figure(go.Bar(
        x=[s["stability"] for s in rows], y=[s["name"] for s in rows], orientation="h",
        marker_color=[segment_colour(s["index"]) if s["stability"] >= threshold else "#bbbbbb" for s in rows],
        text=[f"{s['stability']:.2f}" for s in rows], textposition="auto",
        hovertemplate="%{y}: Jaccard %{x:.2f}<extra></extra>",
    ))
    figure.add_vline(x=threshold, line_dash="dash", line_color=PALETTE[2],
                     annotation_text=f"unstable below {threshold:g}", annotation_position="top")
    figure.update_layout(**_layout(height=max(160, 40 * len(rows) + 80), xaxis=dict(range=[0, 1], title="mean Jaccard over resamples"),
                                   yaxis=dict(autorange="reversed")))
    return _as_dict(figure)


def migration_heatmap(comparison: dict) -> dict:
    """Customers in segment i of run A (rows) and segment j of run B (columns)."""
    figure = go.Figure(go.Heatmap(
        z=comparison["matrix"],
        # numbered: Plotly merges equal category labels, and two runs' names can repeat
        x=[f"B{s['index'] + 1}: {s['name']}" for s in comparison["segments_b"]],
        y=[f"A{s['index'] + 1}: {s['name']}" for s in comparison["segments_a"]],
        colorscale="Blues", texttemplate="%{z:,}",
        hovertemplate="%{y} → %{x}: %{z:,} customers<extra></extra>",
    ))
    figure.update_layout(**_layout(height=max(260, 44 * len(comparison["segments_a"]) + 140), yaxis=dict(autorange="reversed")))
    return _as_dict(figure)


def profile_bars(rows: list[dict]) -> dict | None:
    """A segment against everyone: one bar per feature, its z-score (0 = the average customer)."""
    rows = [row for row in rows if row.get("z") is not None]
    if not rows:
        return None
    rows = sorted(rows, key=lambda row: -abs(row["z"]))
    figure = go.Figure(go.Bar(
        x=[row["z"] for row in rows], y=[row["label"] for row in rows], orientation="h",
        marker_color=[PALETTE[0] if row["z"] >= 0 else PALETTE[2] for row in rows],
        text=[f"{row['z']:+.2f}" for row in rows], textposition="auto",
        hovertemplate="%{y}: z = %{x:.2f}<extra></extra>",
    ))
    figure.update_layout(**_layout(height=max(180, 36 * len(rows) + 80), yaxis=dict(autorange="reversed"),
                                   xaxis=dict(title="standard deviations from the average customer", zeroline=True)))
    return _as_dict(figure)


def sankey_data(comparison: dict) -> dict:
    """Nodes and flows of a migration Sankey from a run comparison: run A's segments on
    the left, run B's on the right, one flow per non-empty cell. The flows add up to the
    customers in both runs."""
    left = [f"#{comparison['run_a']} {s['name']}" for s in comparison["segments_a"]]
    right = [f"#{comparison['run_b']} {s['name']}" for s in comparison["segments_b"]]
    source, target, value = [], [], []
    for i, row in enumerate(comparison["matrix"]):
        for j, customers in enumerate(row):
            if customers:
                source.append(i)
                target.append(len(left) + j)
                value.append(int(customers))
    colours = ([segment_colour(s["index"]) for s in comparison["segments_a"]]
               + [segment_colour(s["index"]) for s in comparison["segments_b"]])
    return {"labels": left + right, "colours": colours, "source": source, "target": target, "value": value}


def sankey_figure(comparison: dict, highlight: tuple[int | None, int | None] = (None, None)) -> dict:
    """Plotly Sankey of customers moving between two runs' segments. `highlight` (segment
    index in run A, in run B) draws the persona's flows stronger than the rest."""
    data = sankey_data(comparison)
    left = len(comparison["segments_a"])
    from_index, to_index = highlight

    def strong(source: int, target: int) -> bool:
        return (from_index is not None and comparison["segments_a"][source]["index"] == from_index) or (
            to_index is not None and comparison["segments_b"][target - left]["index"] == to_index)

    figure = go.Figure(go.Sankey(
        arrangement="snap",
        node=dict(label=data["labels"], color=data["colours"], pad=14, thickness=16),
        link=dict(
            source=data["source"], target=data["target"], value=data["value"],
            color=["rgba(47,111,176,0.55)" if strong(s, t) else "rgba(150,150,150,0.25)"
                   for s, t in zip(data["source"], data["target"])],
            hovertemplate="%{source.label} → %{target.label}: %{value:,} customers<extra></extra>",
        ),
    ))
    figure.update_layout(**_layout(height=420))
    return _as_dict(figure)


def persona_history_figure(links: list[dict]) -> dict | None:
    """The size of the persona's segment at each link, one bar per run it was linked in."""
    if not links:
        return None
    figure = go.Figure(go.Bar(
        x=[link["label"] for link in links],
        y=[link["size"] for link in links],
        marker_color=[link["colour"] for link in links],
        text=[f"{link['size']:,}" + (f" · match {link['score']:.2f}" if link["score"] is not None else "")
              for link in links],
        textposition="auto",
        hovertemplate="%{x}: %{y:,} customers<extra></extra>",
    ))
    figure.update_layout(**_layout(height=300, yaxis_title="customers"))
    return _as_dict(figure)


def rfm_mix_figure(rfm: dict[str, int]) -> dict | None:
    """Customers per named RFM segment, largest first."""
    if not rfm:
        return None
    items = sorted(rfm.items(), key=lambda item: item[1])
    figure = go.Figure(go.Bar(
        x=[count for _, count in items], y=[name for name, _ in items], orientation="h",
        marker_color=PALETTE[0], hovertemplate="%{y}: %{x:,} customers<extra></extra>",
    ))
    figure.update_layout(**_layout(height=max(220, 28 * len(items) + 80), xaxis_title="customers"))
    return _as_dict(figure)


def persona_sizes_figure(series: list[dict]) -> dict | None:
    """Each persona's size over time, one line per persona in its own colour: a step at
    every (re-)link, flat while it stays linked to the same segment. Each series is
    {"name", "colour", "x": [datetimes], "y": [sizes], "text": [hover lines]}."""
    if not series:
        return None
    figure = go.Figure([
        go.Scatter(x=s["x"], y=s["y"], name=s["name"], mode="lines+markers", line=dict(color=s["colour"], shape="hv"),
                   marker=dict(color=s["colour"]), text=s["text"],
                   hovertemplate=f"{s['name']}: %{{y:,}} customers<br>%{{text}}<extra></extra>")
        for s in series
    ])
    figure.update_layout(**_layout(height=320, yaxis_title="customers", yaxis=dict(rangemode="tozero")))
    return _as_dict(figure)
