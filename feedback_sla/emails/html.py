"""The HTML part as mail clients show it: styles on the elements, a viewport, nothing fetched.

Gmail's web client and Outlook.com drop ``<body>`` with its attributes, and several clients drop
``<style>`` blocks, so a rule that is not written on the element itself never reaches the reader.
Every HTML part (the shipped templates, an admin's edit, a manager's rewritten text, the digest)
goes through ``finish`` before it is queued: css-inline copies each ``<style>`` rule onto the
elements it matches, and a part without a viewport gets one, so a phone lays it out at its own
width instead of a desktop's 980 px.
"""

from __future__ import annotations

import re

import css_inline

VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'

#: The most an edited template's HTML part may weigh once its styles are inlined (each rule is
#: repeated on every element it matches, so a part grows): a template that could pass it is refused.
MAX_INLINED = 1_000_000

#: The frame every candidate email shares: a grey page, a white card at most 560 px wide, text that
#: wraps even a long word or address rather than widening the card. Shipped templates carry the
#: same rules in their ``<style>`` block; a manager's rewritten text is framed with these.
FRAME_CSS = """
body { margin: 0; padding: 0; background: #f6f7f9; }
.page { margin: 0; padding: 16px 8px; background: #f6f7f9; }
.card { max-width: 560px; margin: 0 auto; padding: 24px; background: #ffffff; border-radius: 6px; }
.page, .card, p, blockquote, li { font-family: Arial, Helvetica, sans-serif; font-size: 16px;
  line-height: 1.5; color: #1f2328; overflow-wrap: break-word; word-wrap: break-word;
  word-break: break-word; }
p { margin: 0 0 16px; }
a { color: #0b57d0; }
"""

# No stylesheet is ever loaded: an edited template's <link> or @import could otherwise make the
# worker fetch a URL or read a file. Links are dropped, <style> blocks are inlined and removed.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False, keep_link_tags=False)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HAS_VIEWPORT = re.compile(r"<meta\b[^>]*\bname\s*=\s*[\"']?viewport\b", re.IGNORECASE)
_DOCTYPE = "<!DOCTYPE html>"
_STYLE_BLOCK = re.compile(r"<style\b.*?</style\s*>", re.IGNORECASE | re.DOTALL)


class HtmlTooLarge(ValueError):
    """The part is larger than ``MAX_INLINED`` once its styles are inlined."""


def finish(html: str, *, limit: int | None = None) -> str:
    """``html`` as it is sent: a whole document with its styles inlined and a viewport.

    css-inline parses as a browser does (a fragment gets its ``<html>``, ``<head>`` and ``<body>``)
    and writes the document back with every text escaped as it was. With ``limit`` (an edited
    template) a part that could pass that many characters once inlined is refused before it is
    inlined, by a bound that costs nothing: no element receives more than all the style text.
    """
    if limit is not None:
        style = sum(len(block) for block in _STYLE_BLOCK.findall(html))
        if len(html) + 2 * style * html.count("<") > limit:
            raise HtmlTooLarge(f"longer than {limit:,} characters once its styles are inlined")
    inlined = _INLINER.inline(html)
    if not _HAS_VIEWPORT.search(inlined):
        head = _HEAD.search(inlined)  # css-inline always writes a <head>
        inlined = inlined[: head.end()] + VIEWPORT + inlined[head.end() :]
    if not inlined.lstrip()[:9].lower() == "<!doctype":
        inlined = _DOCTYPE + inlined  # without it a browser lays the part out in quirks mode
    return inlined


def finish_edited(html: str) -> str:
    """An admin's edited template as it is sent: ``finish`` within ``MAX_INLINED``."""
    return finish(html, limit=MAX_INLINED)


def framed(body: str) -> str:
    """A body of HTML, escaped already, in the frame of a candidate email (not yet inlined)."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"{VIEWPORT}\n<style>{FRAME_CSS}</style>\n</head>\n<body>\n"
        f'<div class="page">\n<div class="card">\n{body}\n</div>\n</div>\n</body>\n</html>\n'
    )
