"""The sandbox an admin's edited template renders in, and what it may cost.

Nothing an admin writes may build a huge text or run for long, on the preview's short sample or on
the longest real values. Three guards, each needed:

* refused constructs, found in the parsed template before it is compiled (Jinja evaluates a
  constant expression such as ``"%099999999d" % 1`` or ``'x'|center(10**8)`` while compiling);
* operators and calls refused at run time too, so a template stored before a rule tightened cannot
  use them, and only the allowed filters exist, each checked as it runs: none may return a text
  longer than the output limit, nor run past the render's deadline;
* the output counted as it is generated (``render``).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from collections.abc import Callable, Mapping

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

#: What one rendered part of an edited template may cost: characters, checked as it grows, and time.
MAX_RENDERED = 200_000
MAX_RENDER_SECONDS = 2.0

#: The filters an edited template may use: none of them can make a text much longer than it is.
ALLOWED_FILTERS = frozenset(
    {
        "capitalize",
        "default",
        "d",
        "e",
        "escape",
        "first",
        "last",
        "length",
        "lower",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "wordcount",
        "wordwrap",
    }
)

#: Constructs refused in an edited template, with why: each can grow a text without bound.
_REFUSED = (
    (nodes.Getattr, "attribute access (such as .center(...)) is not allowed"),
    (nodes.Concat, "joining with ~ is not allowed; write the placeholders side by side"),
    (nodes.Mod, "the operator % (string formatting) is not allowed in an email template"),
    ((nodes.Add, nodes.Mul, nodes.Pow), "arithmetic is not allowed in an email template"),
    ((nodes.Assign, nodes.AssignBlock), "{% set %} is not allowed in an email template"),
    ((nodes.Macro, nodes.CallBlock, nodes.FilterBlock), "macros and filter blocks are not allowed"),
    (nodes.Call, "calling is not allowed in an email template"),
    (
        (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends),
        "including other templates is not allowed",
    ),
)


class Refused(SecurityError):
    """A template, or one render of it, refused; the message says why."""


def refusal(tree: nodes.Template) -> str | None:
    """Why a parsed template could take hundreds of megabytes or many seconds; None if it cannot."""
    for kinds, why in _REFUSED:
        if next(tree.find_all(kinds), None) is not None:
            return why
    for used in tree.find_all(nodes.Filter):
        if used.name not in ALLOWED_FILTERS:
            return f"the filter {used.name} is not allowed; filters: {', '.join(sorted(ALLOWED_FILTERS))}"
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            return "a recursive loop is not allowed"
        if next(loop.find_all(nodes.For), None) is not None:
            return "a loop inside a loop is not allowed"
    return None


#: When the render under way must stop (None outside one, as while compiling).
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("template_deadline", default=None)


def _too_long() -> Refused:
    return Refused(f"renders more than {MAX_RENDERED:,} characters with long values")


def _check_time() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise Refused(f"takes more than {MAX_RENDER_SECONDS:g} seconds to render")


def _wordwrap_bound(arguments: Mapping[str, object]) -> int:
    """The longest text ``wordwrap`` can return: each character may end a line, and each line
    break is the wrap string."""
    text, wrap = arguments.get("s", ""), arguments.get("wrapstring") or "\n"
    return len(str(text)) * (1 + len(str(wrap)))


#: Filters whose output can grow with an argument, with the longest output they can give.
_BOUNDS: dict[str, Callable[[Mapping[str, object]], int]] = {"wordwrap": _wordwrap_bound}


def _guarded(name: str, func: Callable) -> Callable:
    """The filter, refusing to return (or, where it can say beforehand, to build) a text longer than
    the output limit, or to run past the render's deadline."""
    signature = inspect.signature(func)
    bound = _BOUNDS.get(name)

    @functools.wraps(func)  # keeps Jinja's pass_environment mark
    def guarded(*args, **kwargs):
        _check_time()
        if bound is not None:
            arguments = signature.bind(*args, **kwargs).arguments
            if bound(arguments) > MAX_RENDERED:
                raise Refused(f"the filter {name} could make a text longer than {MAX_RENDERED:,} characters")
        result = func(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_RENDERED:
            raise _too_long()
        return result

    return guarded


class _Sandbox(SandboxedEnvironment):
    """No globals, no attributes, no calls, and no operators that can build huge strings."""

    # Intercepted operators are also never evaluated while compiling.
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def call_binop(self, context, operator, left, right):
        raise Refused(f"the operator {operator} is not allowed in an email template")

    def is_safe_attribute(self, obj, attr, value) -> bool:
        return False  # placeholders are text: no method of theirs is needed, and some build huge strings

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805  (Jinja's own signature)
        raise Refused("calling is not allowed in an email template")


def environment(autoescape: bool) -> SandboxedEnvironment:
    env = _Sandbox(autoescape=autoescape, undefined=jinja2.StrictUndefined)
    env.globals.clear()
    # Only the allowed filters exist (so not "safe": a candidate's name must never reach an HTML
    # part unescaped), each bounded.
    env.filters = {name: _guarded(name, env.filters[name]) for name in ALLOWED_FILTERS}
    return env


def render(template: jinja2.Template, values: Mapping[str, str]) -> str:
    """Render, stopping as soon as the text passes ``MAX_RENDERED`` characters or the time limit."""
    started = time.monotonic()
    token = _deadline.set(started + MAX_RENDER_SECONDS)
    size, parts = 0, []
    try:
        for chunk in template.generate(values):
            size += len(chunk)
            if size > MAX_RENDERED:
                raise _too_long()
            _check_time()
            parts.append(chunk)
    finally:
        _deadline.reset(token)
    return "".join(parts)
