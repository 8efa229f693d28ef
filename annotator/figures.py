"""Plotly figures of the annotator, built as dicts once per item and re-used across reruns.

Only the span shapes change while a person edits; ``with_spans`` swaps them into a copy of the
cached dict, so a rerun sends the same figure with new boxes instead of rebuilding it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from annotator.media import AudioView, SpectrumView

SUGGESTED_FILL = "rgba(255, 170, 0, 0.22)"
EDIT_LINE = "#d62728"
ADD_LINE = "#2ca02c"


def audio_figure(view: AudioView) -> dict:
    """Waveform envelope above a log-mel spectrogram, sharing the time axis (seconds).

    Written as a plain figure dict (what ``make_subplots`` would produce, without building
    plotly objects): it is made once per item and must cost little.
    """
    window = [view.window_start_s, view.window_end_s]
    return {
        "data": [
            {
                "type": "scatter",
                "x": np.round(view.envelope_t, 5).tolist(),
                "y": np.round(view.envelope, 4).tolist(),
                "mode": "lines",
                "line": {"width": 1, "color": "#1f77b4"},
                "hoverinfo": "skip",
                "name": "waveform",
                "xaxis": "x",
                "yaxis": "y",
            },
            {
                "type": "heatmap",
                "x": np.round(view.mel_t, 4).tolist(),
                "y": np.round(view.mel_hz, 1).tolist(),
                "z": np.round(view.mel_db, 1).tolist(),
                "colorscale": "Magma",
                "zmin": -80,
                "zmax": 0,
                "showscale": False,
                "hovertemplate": "%{x:.3f} s, %{y:.0f} Hz: %{z:.0f} dB<extra></extra>",
                "xaxis": "x2",
                "yaxis": "y2",
            },
        ],
        "layout": {
            "xaxis": {"anchor": "y", "domain": [0, 1], "matches": "x2", "showticklabels": False},
            "yaxis": {
                "anchor": "x",
                "domain": [0.58, 1],
                "title": {"text": "amplitude"},
                "fixedrange": True,
            },
            "xaxis2": {
                "anchor": "y2",
                "domain": [0, 1],
                "range": window,
                "title": {"text": "time in recording (s)"},
            },
            "yaxis2": {
                "anchor": "x2",
                "domain": [0, 0.54],
                "title": {"text": "Hz (mel)"},
                "fixedrange": True,
            },
            "height": 420,
            "margin": {"l": 60, "r": 10, "t": 10, "b": 40},
            "dragmode": "select",
            "selectdirection": "h",
            "showlegend": False,
            "uirevision": "item",
        },
    }


def with_spans(
    figure: dict,
    suggested: tuple[float, float] | None,
    edit: tuple[float, float] | None,
    adding: bool = False,
) -> dict:
    """A copy of ``figure`` whose shapes are the suggested span (shaded) and the edit (outlined)."""
    shapes = []
    if suggested is not None:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": suggested[0],
                "x1": suggested[1],
                "y0": 0,
                "y1": 1,
                "fillcolor": SUGGESTED_FILL,
                "line": {"width": 0},
                "layer": "below",
            }
        )
    if edit is not None:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": edit[0],
                "x1": edit[1],
                "y0": 0,
                "y1": 1,
                "line": {
                    "color": ADD_LINE if adding else EDIT_LINE,
                    "width": 2,
                    "dash": "dot" if adding else "solid",
                },
                "fillcolor": "rgba(0,0,0,0)",
            }
        )
    layout = dict(figure["layout"]) | {"shapes": shapes}
    return {"data": figure["data"], "layout": layout}


def spectrum_figure(view: SpectrumView) -> dict:
    """Raw spectrum (left axis) and the model's input after preprocessing (right axis)."""
    import plotly.graph_objects as go

    figure = go.Figure()
    figure.add_trace(
        go.Scattergl(
            x=view.raw_axis,
            y=view.raw,
            mode="lines",
            name="raw",
            line={"color": "#7f7f7f", "width": 1},
        )
    )
    figure.add_trace(
        go.Scattergl(
            x=view.axis,
            y=view.preprocessed,
            mode="lines",
            name="preprocessed (model input)",
            line={"color": "#d62728", "width": 1.5},
            yaxis="y2",
        )
    )
    figure.update_layout(
        height=380,
        margin={"l": 60, "r": 60, "t": 10, "b": 40},
        xaxis={"title": {"text": "Raman shift (cm⁻¹)"}},
        yaxis={"title": {"text": "raw intensity"}},
        yaxis2={
            "title": {"text": "preprocessed"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "tickformat": ".1f",
            "dtick": 0.2,
        },
        legend={"orientation": "h", "y": 1.08, "x": 0},
        uirevision="item",
    )
    return figure.to_dict()


def probabilities_figure(
    classes: Sequence[str], probabilities: Sequence[float], chosen: str | None
) -> dict:
    """Calibrated class probabilities as horizontal bars, the chosen class highlighted."""
    import plotly.graph_objects as go

    colours = ["#d62728" if name == chosen else "#1f77b4" for name in classes]
    figure = go.Figure(
        go.Bar(
            x=list(probabilities),
            y=list(classes),
            orientation="h",
            marker_color=colours,
            text=[f"{p:.1%}" for p in probabilities],
            textposition="auto",
        )
    )
    figure.update_layout(
        height=60 + 28 * len(classes),
        margin={"l": 10, "r": 24, "t": 10, "b": 10},
        xaxis={
            "range": [0, 1],
            "tickvals": [0, 0.25, 0.5, 0.75, 1],
            "tickformat": ".0%",
            "showgrid": True,
            "gridcolor": "#dddddd",
            "fixedrange": True,
        },
        yaxis={"fixedrange": True},
    )
    return figure.to_dict()


def confusion_figure(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> dict:
    import plotly.graph_objects as go

    z = np.asarray(matrix)
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=list(classes),
            y=list(classes),
            colorscale="Blues",
            text=z,
            texttemplate="%{text}",
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    figure.update_layout(
        height=120 + 40 * len(classes),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": {"text": "predicted"}},
        yaxis={"title": {"text": "true"}, "autorange": "reversed"},
        title={"text": "confusion matrix (test split)", "font": {"size": 13}},
    )
    return figure.to_dict()


def reliability_figure(curve: dict[str, list[float]], label: str) -> dict:
    import plotly.graph_objects as go

    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="perfect"
        )
    )
    figure.add_trace(
        go.Scatter(x=curve["confidence"], y=curve["accuracy"], mode="lines+markers", name=label)
    )
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": {"text": "confidence"}, "range": [0, 1]},
        yaxis={"title": {"text": "accuracy"}, "range": [0, 1]},
        title={"text": "reliability", "font": {"size": 13}},
    )
    return figure.to_dict()


def learning_curve_figure(
    human_labels: Sequence[int],
    macro_f1: Sequence[float],
    version_ids: Sequence[int],
    test_items: Sequence[int],
) -> dict:
    """Test macro-F1 of each model version against the human labels it was trained on."""
    import plotly.graph_objects as go

    figure = go.Figure(
        go.Scatter(
            x=list(human_labels),
            y=list(macro_f1),
            mode="lines+markers+text",
            text=[f"#{v}" for v in version_ids],
            textposition="top center",
            customdata=list(test_items),
            hovertemplate=(
                "%{x} human labels: macro-F1 %{y:.3f} on %{customdata} test items<extra></extra>"
            ),
        )
    )
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": {"text": "human labels in the training snapshot"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "test macro-F1"}, "range": [0, 1.05]},
        title={"text": "learning curve", "font": {"size": 13}},
    )
    return figure.to_dict()


def agreement_figure(
    version_ids: Sequence[int], kappas: Sequence[float], items: Sequence[int], target: float
) -> dict:
    """Cohen's kappa between each version and the one before it on the stop set."""
    import plotly.graph_objects as go

    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[f"#{v}" for v in version_ids],
            y=list(kappas),
            mode="lines+markers",
            customdata=list(items),
            name="kappa",
            hovertemplate="version %{x}: kappa %{y:.3f} on %{customdata} items<extra></extra>",
        )
    )
    figure.add_hline(
        y=target,
        line={"dash": "dot", "color": "grey"},
        annotation_text=f"stable at {target:g}",
        annotation_position="bottom right",
    )
    figure.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis={"title": {"text": "model version (vs the one before)"}, "type": "category"},
        yaxis={"title": {"text": "Cohen's kappa"}, "range": [min(0.0, *kappas) - 0.05, 1.05]},
        title={"text": "agreement between successive versions (stop set)", "font": {"size": 13}},
        showlegend=False,
    )
    return figure.to_dict()
