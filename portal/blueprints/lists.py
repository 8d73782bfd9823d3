"""Rendering list pages: the whole page, or only the results for htmx active search and paging."""

from flask import g, render_template, request, url_for

from portal.extensions import htmx
from portal.models.base import MAX_ID
from portal.services.listing import cursor_args


def list_args(*names: str) -> dict:
    """The search text, the named filters (stripped) and the page cursor from the query string."""
    g.list_filters = ("q", *names)  # what page_url keeps
    values = {name: request.args.get(name, "").strip()[:100] for name in g.list_filters}
    return {"search": values.pop("q"), **values, **cursor_args(request.args)}


def page_url(**cursor) -> str:
    """This list's URL with its search and filters kept (no other query key: `endpoint` or
    `_external` must not reach url_for) and the page cursor replaced."""
    kept = {name: request.args[name] for name in g.get("list_filters", ()) if request.args.get(name)}
    return url_for(request.endpoint, **request.view_args, **kept, **cursor)


def row_url(endpoint: str, name: str):
    """`url_for(endpoint, name=id)` for every row of a page at the cost of one url_for: the URL
    built for the largest id, with each row's id put in its place."""
    head, tail = url_for(endpoint, **{name: MAX_ID}).rsplit(str(MAX_ID), 1)
    return lambda row_id: f"{head}{int(row_id)}{tail}"


def render_list(page_template: str, results_template: str, **context):
    """A full page, or just its results when htmx asks (but not when it restores history)."""
    partial = htmx and not htmx.history_restore_request
    return render_template(results_template if partial else page_template, results=results_template,
                           q=request.args.get("q", ""), page_url=page_url, **context)
