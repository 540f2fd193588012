"""The confusion figure's colour bars match its cells (review D8)."""

from __future__ import annotations

from maerad.eval import confusion_matrix, confusion_matrix_figure


def _bars_and_panels():  # type: ignore[no-untyped-def]
    cm = confusion_matrix(["IB1", "IB2", "IB2", "IB2"], ["IB1", "IB1", "IB2", "IB2"],
                          labels=["IB1", "IB2", "IB3"])
    fig = confusion_matrix_figure(cm, title="FIGO 2018 stage")
    panels = [ax for ax in fig.axes if ax.get_title()]
    bars = [ax for ax in fig.axes if not ax.get_title()]
    return panels, bars


def test_normalised_panel_and_its_colour_bar_are_both_percent() -> None:
    panels, bars = _bars_and_panels()
    normalised, bar = panels[1], bars[1]
    assert "%" in normalised.get_title() and "%" in bar.get_ylabel()
    assert bar.get_ylim() == (0.0, 100.0)  # was 0.0 – 1.0 next to cells reading "100"
    cells = {t.get_text() for t in normalised.texts}
    assert {"100", "33", "67"} <= cells


def test_counts_colour_bar_has_whole_number_ticks() -> None:
    _, bars = _bars_and_panels()
    ticks = [float(t) for t in bars[0].get_yticks() if bars[0].get_ylim()[0] <= t <= bars[0].get_ylim()[1]]
    assert ticks and all(t == int(t) for t in ticks)


def test_rows_without_cases_are_marked_not_drawn_as_zero() -> None:
    panels, _ = _bars_and_panels()
    for ax in panels:
        assert "no cases" in [t.get_text() for t in ax.texts]
        image = ax.get_images()[0]
        data = image.get_array()
        assert data.mask[2].all() and not data.mask[:2].any()  # the IB3 row (n=0) is masked (grey)
