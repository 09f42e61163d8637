"""A printed summary of a result, and the representations every result shares."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Presentable", "Summary", "frame"]


@dataclass(frozen=True)
class Summary:
    """A result's printed report: `str()` and `print()` give the text, a notebook shows it preformatted."""

    text: str

    @property
    def title(self) -> str:
        """The first non-empty line: what the model is."""
        return next((line.strip() for line in self.text.splitlines() if line.strip()), "")

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return f'<pre style="line-height:1.25">{html.escape(self.text)}</pre>'


class Presentable:
    """A result with a printed summary: `print()` / `str()` give it whole; a one-line `repr` and an HTML
    repr come from it.

    A subclass implements `summary()` and `to_frame()`; dataclasses that use this set `repr=False` so that
    the short repr is kept (a repr of every array is no help in a notebook).
    """

    def summary(self) -> Summary:
        """The printed report."""
        raise NotImplementedError

    def to_frame(self) -> pd.DataFrame:
        """The result as a pandas DataFrame."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.summary().title}>"

    def __str__(self) -> str:
        # print(result) shows the whole report with its numbers, as R's print() does; repr stays one line
        return self.summary().text

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's text display: the whole summary, as print() gives it
        printer.text(repr(self) if cycle else self.summary().text)


def frame(columns: Mapping[str, Sequence[Any] | Any], index: Sequence[Any] | Any = None,
          index_name: str | None = None) -> pd.DataFrame:
    """A DataFrame from named columns (pandas is imported only when a table is asked for)."""
    import pandas as pd

    out = pd.DataFrame(dict(columns), index=None if index is None else list(index))
    if index_name is not None:
        out.index.name = index_name
    return out
