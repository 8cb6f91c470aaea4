"""User text (questions, cluster names, corpus names, ids, file names) shown as text in the UI.

Streamlit renders most strings as Markdown (with LaTeX and its own directives) and Plotly renders
hover and legend texts as a subset of HTML: what a user typed must never become a link, an image,
a heading or a formula there.
"""

from __future__ import annotations

import html
import re

# Inline Markdown, Streamlit's `$` (LaTeX) and `:color[...]` directives, raw HTML and entities.
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]()#<>!|~$&])")
# What starts a block at the start of a line: a list, a heading underline, an ordered list.
_LINE_START = re.compile(r"^(\s{0,3})([-+=])", re.MULTILINE)
_ORDERED_ITEM = re.compile(r"^(\s{0,3}\d+)([.)])", re.MULTILINE)
# GFM turns bare addresses into links: break `scheme://`, `www.` and `name@host`.
_AUTOLINK = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=\bwww)\.|@", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """`text` as Markdown that renders as exactly `text` (CommonMark lets any punctuation be
    backslash-escaped, so escaping a little too much is harmless)."""
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", text)
    escaped = _AUTOLINK.sub(lambda found: "\\" + found.group(), escaped)
    escaped = _ORDERED_ITEM.sub(r"\1\\\2", escaped)
    return _LINE_START.sub(r"\1\\\2", escaped)


def markdown_code(text: str) -> str:
    """`text` as an inline code span, which shows every character as typed: the fence is longer
    than any run of backticks inside, and padded when the text starts or ends with one."""
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def plotly_text(text: str) -> str:
    """`text` for Plotly's hover texts, legend and annotations, which read a subset of HTML and
    `%{...}` templates: tags and entities are escaped, and `%` is an entity (Plotly decodes it)."""
    return html.escape(text, quote=False).replace("%", "&#37;")
