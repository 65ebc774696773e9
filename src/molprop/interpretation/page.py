"""A single self-contained HTML page: inline CSS, pictures as inline SVG or base64 data
URIs, no scripts and no link to anything outside the file, so it opens offline."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1250px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 4px 6px; vertical-align: middle; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #ddd; padding: 6px; width: 384px; font-size: 0.85em; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
code { font-size: 0.9em; }
"""

# Any src=/href= or CSS url() that is neither a data URI nor a fragment, and any CSS @import, would be fetched from outside the file.
_EXTERNAL = re.compile(
    r"""\b(?:src|href)\s*=\s*(?:["'](?!data:|#)|(?!["'\s]|data:|#))"""
    r"""|url\(\s*(?:["'](?!data:|#)|(?!["'\s]|data:|#))|@import""",
    re.IGNORECASE,
)


def text(value: object) -> str:
    """``value`` as escaped HTML text."""
    return html.escape(str(value))


def png_img(png: bytes, alt: str, width: int | None = None) -> str:
    """An ``<img>`` holding the PNG bytes as a data URI."""
    size = f' width="{width}"' if width else ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{text(alt)}"{size} src="data:image/png;base64,{data}">'


def table_html(rows: Sequence[Mapping[str, object]], columns: Sequence[str],
               markup: Sequence[str] = (), numeric: Sequence[str] = ()) -> str:
    """An HTML table of ``rows``; cells of ``markup`` columns are inserted as HTML (pictures),
    all others escaped; ``numeric`` columns are right-aligned."""
    head = "".join(f"<th>{text(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for c in columns:
            value = row.get(c, "")
            css = ' class="num"' if c in numeric else ""
            cells.append(f"<td{css}>{value if c in markup else text(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def card(picture_html: str, lines: Sequence[str]) -> str:
    """A picture with caption lines (escaped) under it."""
    caption = "<br>".join(text(line) for line in lines)
    return f'<div class="card">{picture_html}<div>{caption}</div></div>'


def render_page(title: str, intro: str, sections: Sequence[tuple[str, str]]) -> str:
    """The page: a title, an escaped introduction and (heading, HTML body) sections. Raises
    ``ValueError`` if any part would load a resource from outside the file."""
    parts = [f"<h2>{text(heading)}</h2>\n{body}" for heading, body in sections]
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{text(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{text(title)}</h1>\n<p class=\"note\">{text(intro)}</p>\n" + "\n".join(parts)
        + "\n</body>\n</html>\n"
    )
    external = _EXTERNAL.search(page)
    if external:
        snippet = page[external.start(): external.start() + 80]
        raise ValueError(f"the page would load an outside resource: {snippet!r}")
    return page
