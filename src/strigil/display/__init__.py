"""strigil.display — how results show themselves to a researcher: printed summaries, tables and figures.

`Summary` is a printed report (its text as R would print it; `<pre>` HTML in a notebook); `Presentable`
gives a result a short `repr` (the first line of its summary) and an HTML repr; `InlineFigure` lets a
drawn plot display itself in Jupyter as SVG or PNG without touching pyplot or the matplotlib backend.
The meta-analysis and registry results use these; what each prints lives in `meta/printing.py` and
`registry/printing.py`.
"""

from strigil.display.figure import InlineFigure, figure_png, figure_svg, new_figure
from strigil.display.summary import Presentable, Summary, frame

__all__ = ["InlineFigure", "Presentable", "Summary", "figure_png", "figure_svg", "frame", "new_figure"]
