"""The dashboard's Content-Security-Policy: only the scripts kassa ships may run.

A page may run the files it serves itself (``/static/htmx.js``, ``/static/vega.js``) and the inline
scripts of its own templates, each allowed by its SHA-256 (CSP ``'sha256-…'``). Hashes rather than
per-request nonces: the inline scripts are constant text of the templates (none holds a template
expression), so their hashes are computed once, from the template *sources* — never from a rendered
page, which may carry a channel name someone else chose. Anything injected into a page (a ``<script>``
in a campaign name that escaped escaping, an ``onclick=``) has no allowed hash and does not run;
inline event handlers are not used for that reason (``base.html.j2`` listens for ``data-confirm`` forms).

Vega compiles its expressions with ``new Function`` unless told otherwise; the pages call
``vegaEmbed(…, {ast: true})``, which evaluates them with vega-embed's interpreter, so the policy needs no
``'unsafe-eval'``. Styles stay ``'unsafe-inline'``: the templates and Vega's tooltips set ``style``
attributes, and a style cannot run code (the risk CSP is here for).

``/report.html`` inlines the Vega bundle itself (the file must also work when saved to disk), so its
answer allows that bundle's hash too (:func:`report_policy`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache

from kassa.report.html import inline_vega, templates

CSP_HEADER = "Content-Security-Policy"
# An inline script of a template: a <script> element with no attributes (src= and JSON data have some).
_INLINE = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_EXPRESSION = re.compile(r"\{\{|\{%")


def script_hash(text: str) -> str:
    """The CSP source that allows an inline script whose text is ``text``."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@cache
def template_hashes(package: str) -> tuple[str, ...]:
    """The hashes of every constant inline script in ``package``'s templates (those with a template
    expression inside are filled per page and never allowed by hash: the report's Vega is added apart)."""
    env = templates(package)
    assert env.loader is not None
    found = []
    for name in env.list_templates():
        source, _, _ = env.loader.get_source(env, name)
        for m in _INLINE.finditer(source):
            if not _EXPRESSION.search(m.group(1)):
                found.append(script_hash(m.group(1)))
    return tuple(sorted(set(found)))


def policy(script_hashes: tuple[str, ...]) -> str:
    """The policy: own origin only, the given inline scripts, no plugins, no framing, forms post home."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' " + " ".join(script_hashes),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@cache
def dashboard_policy() -> str:
    """The policy of every dashboard answer (pages, JSON, downloads)."""
    return policy(template_hashes("kassa.web"))


@cache
def report_policy() -> str:
    """The policy of ``/report.html``: the report template's scripts and the Vega bundle it inlines."""
    return policy((*template_hashes("kassa.report"), script_hash(inline_vega())))
