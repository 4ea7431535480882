"""The public model pages: the list (search, filters, sort) and one page per model.

Every page comes from the pages' catalog in memory (``router.pages.cache``): a view filters
and sorts its rows, renders once per normalized query string and catalog, and answers with
ETag/304 and gzip. A warm page asks PostgreSQL nothing.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from functools import lru_cache
from urllib.parse import urlencode

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
    QueryDict,
)
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from catalog.choices import Feature, InputModality, OutputModality, Quantization
from catalog.timeline import timelines
from router.http import accepts_gzip, not_modified
from router.pages import chart, prices
from router.pages.cache import Page, pages_cache
from router.pages.catalog import PageCatalog, PageModel, country_name

SORTS = {
    "name": "Name",
    "input": "Input price, lowest first",
    "output": "Output price, lowest first",
    "context": "Context length, longest first",
    "newest": "Newest first",
}
# The list's parameters, in the order a normalized query string lists them.
FILTERS = {
    "in": ("Input", set(InputModality.values)),
    "out": ("Output", set(OutputModality.values)),
    "feature": ("Feature", set(Feature.values)),
    "quant": ("Quantization", set(Quantization.values)),
}
MAX_QUERY = 200
MAX_TOKENS = 100_000_000


class BadParameter(Exception):
    pass


def _enabled() -> None:
    if not settings.PUBLIC_PAGES:
        raise Http404("The public pages are off (PUBLIC_PAGES=0).")


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    _enabled()
    return HttpResponseRedirect(reverse("model-list"))


# --- the list ----------------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def _list_query(query_string: str) -> tuple[str, dict[str, str] | str]:
    """The normalized key and parameters of a list URL's query string, or the problem: parsed
    once per distinct query string."""
    try:
        params = list_params(QueryDict(query_string))
    except BadParameter as problem:
        return "", str(problem)
    return "list?" + urlencode(params), params


def list_params(query) -> dict[str, str]:
    """The list's parameters, checked, without empty ones; raises ``BadParameter`` naming
    the first that is wrong."""
    params: dict[str, str] = {}
    q = " ".join(query.get("q", "").split())
    if len(q) > MAX_QUERY:
        raise BadParameter(f"q: the search is limited to {MAX_QUERY} characters.")
    if q:
        params["q"] = q
    for name, (label, allowed) in FILTERS.items():
        value = query.get(name, "")
        if value and value not in allowed:
            raise BadParameter(f"{name}: {label.lower()} {value[:40]!r} is not one we know.")
        if value:
            params[name] = value
    country = query.get("country", "").upper()
    if country:
        if len(country) != 2 or country_name(country) == country:
            raise BadParameter(f"country: {country[:40]!r} is not a country code (e.g. DE).")
        params["country"] = country
    free = query.get("free", "")
    if free not in ("", "1"):
        raise BadParameter(f"free: {free[:40]!r} is neither 1 nor empty.")
    if free:
        params["free"] = "1"
    sort = query.get("sort", "")
    if sort and sort not in SORTS:
        raise BadParameter(f"sort: {sort[:40]!r} is not one of {', '.join(SORTS)}.")
    if sort and sort != "name":
        params["sort"] = sort
    return params


def selected(catalog: PageCatalog, params: dict[str, str]) -> list[PageModel]:
    """The catalog's models that ``params`` selects, in its order."""
    models: list[PageModel] = list(catalog.models)
    if "q" in params:
        words = params["q"].casefold().split()
        models = [m for m in models if all(word in m.search_text for word in words)]
    if "in" in params:
        models = [m for m in models if params["in"] in m.inputs]
    if "out" in params:
        models = [m for m in models if params["out"] in m.outputs]
    if "feature" in params:
        models = [m for m in models if params["feature"] in m.features]
    if "quant" in params:
        models = [m for m in models if m.quantization == params["quant"]]
    if "country" in params:
        models = [m for m in models if any(c == params["country"] for c, _ in m.countries)]
    if "free" in params:
        models = [m for m in models if m.is_free]
    sort = params.get("sort", "name")
    if sort == "input":
        models.sort(key=lambda m: m.price.get("prompt", Decimal(0)))
    elif sort == "output":
        models.sort(key=lambda m: m.price.get("completion", Decimal(0)))
    elif sort == "context":
        models.sort(key=lambda m: -m.context_length)
    elif sort == "newest":
        models.sort(key=lambda m: m.created, reverse=True)
    return models  # stable sorts: ties stay by name


@require_safe
def model_list(request: HttpRequest) -> HttpResponse:
    _enabled()
    key, params = _list_query(request.META.get("QUERY_STRING", ""))
    if isinstance(params, str):
        return _bad_request(request, params)

    def render(catalog: PageCatalog) -> bytes:
        models = selected(catalog, params)
        return render_to_string(
            "router/models.html",
            {
                "params": params,
                "choices": _with_selected(catalog.choices(), params),
                "sorts": SORTS,
                "rows": mark_safe("".join(m.row_html for m in models)),  # escaped in row_html
                "count": len(models),
                "total": len(catalog.models),
            },
        ).encode()

    catalog = pages_cache.catalog()
    return _respond(request, pages_cache.page(key, render, catalog), stale=catalog.stale)


def _with_selected(
    choices: dict[str, list[tuple[str, str]]], params: dict[str, str]
) -> dict[str, list[tuple[str, str]]]:
    """The filters' options, with a chosen value that no model has (a shared URL, a catalog
    that changed since) kept, so that the form shows what the list is filtered by."""
    for name, options in choices.items():
        value = params.get(name)
        if value and value not in (option for option, _ in options):
            options.append((value, country_name(value) if name == "country" else value))
    return choices


# --- one model ---------------------------------------------------------------------------------
def calculator_params(query) -> dict[str, int] | None:
    """The calculator's token counts, None when the form was not sent."""
    if not any(name in query for name in ("prompt", "completion", "cached")):
        return None
    counts = {}
    for name, label in (("prompt", "Input"), ("cached", "Cached"), ("completion", "Output")):
        raw = query.get(name, "").strip().replace(",", "").replace("_", "")
        try:
            counts[name] = int(raw or 0)
        except ValueError:
            raise BadParameter(f"{label} tokens: {raw[:40]!r} is not a whole number.") from None
        if not 0 <= counts[name] <= MAX_TOKENS:
            raise BadParameter(f"{label} tokens: give a number from 0 to {MAX_TOKENS:,}.")
    if counts["cached"] > counts["prompt"]:
        raise BadParameter("Cached tokens: at most the input tokens (they are part of them).")
    return counts


@require_safe
def model_page(request: HttpRequest, model_id: str) -> HttpResponse:
    _enabled()
    catalog = pages_cache.catalog()
    model = catalog.by_id.get(model_id)
    if model is None:
        raise Http404(f"No public model {model_id!r}.")
    try:
        counts = calculator_params(request.GET)
    except BadParameter as problem:
        body = _render_model(catalog, model, request.GET, error=str(problem))
        return _respond(request, Page(body), status=400)
    if counts is None:
        return _respond(
            request,
            pages_cache.page(f"model:{model_id}", lambda c: _render_model(c, model), catalog),
            stale=catalog.stale,
        )
    # The window in force depends on the time of day: worked out per request, from memory.
    now = timezone.now().astimezone(UTC)
    cost = prices.cost_of(
        model.flat,
        is_free=model.is_free,
        discount=model.discount,
        prompt_tokens=counts["prompt"],
        cached_tokens=counts["cached"],
        completion_tokens=counts["completion"],
        now=now,
    )
    body = _render_model(catalog, model, request.GET, cost=cost, now=now)
    return _respond(request, Page(body), stale=catalog.stale)


def _render_model(
    catalog: PageCatalog, model: PageModel, query=None, *, error: str = "", cost=None, now=None
) -> bytes:
    entries = []
    for price in model.offering.prices:
        entries.append(
            (
                prices.entry_line(price),
                [prices.override_line(o, price.unit) for o in price.overrides],
            )
        )
    capacities = [
        f"{c.scope[1] or 'request'} {c.capacity_type.replace('_', ' ')}: {c.value:,} "
        f"{c.unit}s{' per ' + c.per if c.per else ' at once'}"
        for c in model.offering.capacities
    ]
    form = {name: (query or {}).get(name, "") for name in ("prompt", "cached", "completion")}
    summary = []
    for key, (unit, what) in prices.FLAT_PRICES.items():
        if model.price.get(key):
            summary.append((what.capitalize(), prices.cost_text(model.price[key], unit)))
        if key == "input_cache_read" and model.cache_write:
            summary.append(("Cache write", prices.cost_text(model.cache_write, "token")))
    return render_to_string(
        "router/model.html",
        {
            "model": model,
            "parameters": model.parameters(),
            "summary": summary,
            "context": f"{model.context_length:,}",
            "max_output": f"{model.max_output_length:,}",
            "discount": f"{model.discount * 100:g}" if model.discount else "",
            "chart": mark_safe(
                pages_cache.page(f"chart:{model.model_id}", chart_of(model), catalog).body.decode()
            ),
            "entries": entries,
            "capacities": capacities,
            "form": form,
            "error": error,
            "cost": cost,
            "cost_lines": [(what, prices.usd(amount)) for what, amount in cost.lines]
            if cost
            else [],
            "total": prices.usd(cost.total) if cost else "",
            "now": now,
        },
    ).encode()


def chart_of(model: PageModel):
    """The chart and list of changes of ``model``, rendered once per catalog (two queries: the
    model's history records and its announced changes, ``catalog.timeline``)."""

    def render(catalog: PageCatalog) -> bytes:
        now = timezone.now()
        spans = timelines([model.pk], now=now)[model.pk]
        return render_to_string(
            "router/_chart.html",
            {"svg": mark_safe(chart.svg(spans)), "rows": chart.change_rows(spans)},
        ).encode()

    return render


# --- responses ---------------------------------------------------------------------------------
def _respond(
    request: HttpRequest, page: Page, status: int = 200, *, stale: bool = False
) -> HttpResponse:
    use_gzip = accepts_gzip(request.META.get("HTTP_ACCEPT_ENCODING", ""))
    etag = page.gzip_etag if use_gzip else page.etag
    # X-Frame-Options here: the lean path (router.pages.middleware) skips the middleware that
    # would set it.
    headers = {"ETag": etag, "Cache-Control": "public, no-cache", "X-Frame-Options": "DENY"}
    if stale:
        # Not known to be current (PostgreSQL unreachable): no cache downstream may keep it.
        headers["Cache-Control"] = "no-store"
    if status == 200 and not_modified(request, etag):
        unchanged = HttpResponseNotModified(headers=headers)
        patch_vary_headers(unchanged, ["Accept-Encoding"])
        return unchanged
    body = page.gzipped if use_gzip else page.body
    response: HttpResponse = HttpResponse(
        b"" if request.method == "HEAD" else body,
        content_type="text/html; charset=utf-8",
        status=status,
        headers=headers,
    )
    if use_gzip:
        response["Content-Encoding"] = "gzip"
    response["Content-Length"] = str(len(body))
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _bad_request(request: HttpRequest, message: str) -> HttpResponse:
    body = render_to_string("router/bad_request.html", {"message": message}).encode()
    return _respond(request, Page(body), status=400)
