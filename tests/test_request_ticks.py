"""Plots of metrics against requests have one integer tick per request (never 1.5), counted from 1."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import mu_registry.report.generative_plots as lifelong_plots  # noqa: E402
import mu_registry.report.plots as plots  # noqa: E402


def _capture(monkeypatch, module) -> list:
    figures: list = []

    def keep(fig, title, path):
        figures.append((title, fig))
        return path

    monkeypatch.setattr(module, "finish", keep)
    return figures


def _ticks(fig) -> list[list[str]]:
    fig.canvas.draw()
    return [[t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes]


def test_classification_requests_plot_has_integer_ticks(monkeypatch, tmp_path):
    def request(acc: float) -> dict:
        return {"metrics": {"accuracy": {"forget": acc, "retain": acc, "test": acc}}}

    method = {"status": "done", "requests": [request(0.9), request(0.5), request(0.2)]}
    task = {"seeds": {"0": {"original": {"requests": [request(1.0)] * 3},
                            "retrain": {"requests": [request(0.1)] * 3}, "methods": {"ga": method}}}}
    figures = _capture(monkeypatch, plots)
    plots.plot_task("t", task, tmp_path)
    fig = dict(figures)["t: accuracy after each request"]
    assert _ticks(fig) == [["1", "2", "3"]] * 3


def test_lifelong_requests_plot_has_integer_ticks_or_the_request_names(monkeypatch, tmp_path):
    summary = {"forget_accuracy": 0.5, "paraphrase_accuracy": 0.4, "retain_accuracy": 0.9, "general_accuracy": 0.8}
    task = {"seeds": {"0": {"original": {"summary": summary},
                            "methods": {"ga": {"requests": [{"summary": summary, "metrics": {}}] * 4}}}}}
    figures = _capture(monkeypatch, lifelong_plots)
    lifelong_plots.plot_generation_task("t", task, tmp_path)
    assert _ticks(dict(figures)["t: accuracy after each request"]) == [["1", "2", "3", "4"]] * 4
    figures.clear()
    named = {**task, "requests": [{"name": x} for x in "ABCD"]}
    lifelong_plots.plot_generation_task("t", named, tmp_path)
    assert _ticks(dict(figures)["t: accuracy after each request"]) == [["A", "B", "C", "D"]] * 4


def test_bars_of_height_zero_are_labelled_not_lost():
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mu_registry.report.plots import label_bars

    fig, ax = plt.subplots()
    ax.bar([0, 1, 2], [0.0, 0.5, 0.0])
    label_bars(ax, [0, 1, 2], [0.0, 0.5, math.nan])
    assert [t.get_text() for t in ax.texts] == ["0.00", "0.50", "n/a"]
    assert len(ax.lines) == 3  # a marker at each value, the zero bar's included
    plt.close(fig)
