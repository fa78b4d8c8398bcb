"""Rendering pages: the Jinja2 environment (autoescape always on), its filters, and the security headers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.responses import Response

from sovereel.captions import HASHTAG_RE, MENTION_RE
from sovereel.queries.notifications import unread_count
from sovereel.queries.videos import user_view
from sovereel.storage.models import User
from sovereel.web.redirects import same_origin_path

WEB_DIR = Path(__file__).parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Pages run only our own scripts and styles: an injected <script> would not run even if escaping ever failed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'; worker-src 'self'; manifest-src 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_TOKEN_RE = re.compile(f"{HASHTAG_RE.pattern}|{MENTION_RE.pattern}", re.UNICODE)


def linkify_caption(caption: str | None) -> Markup:
    """The caption as HTML: every character escaped, #hashtags and @mentions turned into links."""
    text = caption or ""
    out: list[str] = []
    pos = 0
    for m in _TOKEN_RE.finditer(text):
        out.append(str(escape(text[pos : m.start()])))
        tag, mention = m.group(1), m.group(2)
        if tag is not None and not tag.isdigit():
            out.append(f'<a class="tag" href="/tag/{escape(tag.lower())}">#{escape(tag)}</a>')
        elif mention is not None:
            name = mention.rstrip(".")
            trail = mention[len(name) :]
            out.append(f'<a class="mention" href="/@{escape(name)}">@{escape(name)}</a>{escape(trail)}')
        else:
            out.append(str(escape(m.group(0))))
        pos = m.end()
    out.append(str(escape(text[pos:])))
    # Every piece of user text above went through escape().
    return Markup("".join(out))  # nosec B704


def compact_count(n: int | float | None) -> str:
    """1234 -> '1.2K', 2_500_000 -> '2.5M' (as short-video apps show counts)."""
    value = float(n or 0)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            short = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{short}{suffix}"
    return str(int(value))


def initial(name: str | None) -> str:
    """The letter shown in an avatar placeholder."""
    return (name or "?").strip()[:1].upper() or "?"


def build_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,  # never depend on file extensions: every template escapes
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["caption"] = linkify_caption
    env.filters["count"] = compact_count
    env.filters["initial"] = initial
    return Jinja2Templates(env=env)


def viewer_json(user: User | None) -> dict[str, Any] | None:
    """What the page scripts know about the signed-in viewer."""
    if user is None:
        return None
    public = user_view(user)
    return {key: public[key] for key in ("id", "username", "display_name", "avatar_url")}


def safe_next(target: str | None, default: str = "/") -> str:
    """A post-login redirect target, only if a browser would resolve it to this site (no open redirect).

    The target is read the way a browser's URL parser reads it (WHATWG URL): outer C0 controls and spaces
    dropped, tabs and newlines removed anywhere, `\\` read as `/`. Only a path on this origin is kept, and what
    is returned is that path re-encoded, never the raw input.
    """
    return same_origin_path(target) or default


def nav_unread(request: Request, viewer: User | None) -> int:
    """The viewer's unread inbox items for the nav's badge: one indexed COUNT (0 when signed out).

    Read on the page's own thread: it is one short read, and the badge is then right before any script runs."""
    rt = getattr(request.state, "rt", None)
    if viewer is None or rt is None:
        return 0
    with rt.db.session() as s:
        return unread_count(s, viewer)


class PageRenderer:
    """Renders a template with the context every page needs (viewer, title, active nav item)."""

    def __init__(self) -> None:
        self.templates = build_templates()

    def __call__(
        self,
        request: Request,
        template: str,
        *,
        title: str,
        viewer: User | None,
        nav: str = "",
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        ctx: dict[str, Any] = {
            "unread": nav_unread(request, viewer),
            "title": title,
            "viewer": viewer,
            "viewer_boot": viewer_json(viewer),
            "nav": nav,
            "path": request.url.path,
            **context,
        }
        return self.templates.TemplateResponse(request, template, ctx, status_code=status_code, headers=PAGE_HEADERS)
