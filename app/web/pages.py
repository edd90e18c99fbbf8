"""Server-rendered pages: the customer chat widget, and the staff search, console and dashboard."""
from __future__ import annotations

import time
from pathlib import Path

from flask import Blueprint, current_app, render_template, request

from shopqa.web.auth import csrf_token, current_staff, staff_required
from shopqa.web.stats import dashboard as dashboard_stats
from shopqa.web.stats import gap_groups

HERE = Path(__file__).parent
bp = Blueprint("pages", __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"),
               static_url_path="/static")
PALETTE = ["#2563eb", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316", "#84cc16", "#ec4899",
           "#6366f1", "#0ea5e9", "#a3a3a3", "#d946ef", "#22c55e", "#eab308"]


def _page(name: str, **values):
    return render_template(name, csrf=csrf_token(), staff=current_staff(), **values)


@bp.get("/")
def chat():
    """The customer chat widget."""
    return _page("chat.html", max_chars=current_app.config["SHOPQA_SETTINGS"].max_message_chars)


@bp.get("/search")
@staff_required(api=False)
def search():
    """The internal FAQ search page; ``?q=`` (and ``type``, ``lang``) open it with those results,
    so a search can be shared as a link."""
    return _page("search.html", q=request.args.get("q", "")[:500], type=request.args.get("type", ""),
                 lang=request.args.get("lang", ""))


@bp.get("/console")
@staff_required(api=False)
def console():
    """The agent console (``?session=`` opens that conversation)."""
    return _page("console.html")


@bp.get("/dashboard")
@staff_required(api=False)
def dashboard():
    """Charts and the FAQ gaps, from the conversation store."""
    days = 14
    s = dashboard_stats(current_app.extensions["shopqa"].conversations(), days)
    intents = sorted({i for d in s["messages_by_day_intent"].values() for i in d})
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(intents)}
    busiest = max((sum(d.values()) for d in s["messages_by_day_intent"].values()), default=1) or 1
    top_path = max(s["paths"].values(), default=1) or 1
    groups = gap_groups(current_app, s["gaps"])
    return _page("dashboard.html", s=s, days=days, colours=colours, bar_unit=600 / busiest, path_unit=600 / top_path,
                 groups=groups, gap_total=len(s["gaps"]))


@bp.app_template_filter("datetime")
def _datetime(value: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(value))
