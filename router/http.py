"""HTTP details of serving the rendered catalog: encodings, conditional GET, caching headers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils.http import parse_etags

from router.cache import FLAT, SCHEMA_VERSIONS, Rendered

SCHEMA_VERSION_PARAMETER = "schema_version"
_EXACT_QUERIES = {f"{SCHEMA_VERSION_PARAMETER}={version}": version for version in SCHEMA_VERSIONS}


def representation(request: HttpRequest) -> str | None:
    """The representation asked for: FLAT without ``schema_version``, else the version, or
    None for a version not served (empty included).

    The query string is parsed only when there is one: the flat request, by far the most
    frequent, does no more work than before the typed format.
    """
    query = request.META.get("QUERY_STRING")
    if not query:
        return FLAT
    exact = _EXACT_QUERIES.get(query)
    if exact is not None:  # what OpenRouter sends: no QueryDict to build (a third of the time)
        return exact
    if "as_of" in request.GET:
        return None  # not the current catalog: the view answers (router.api.as_of)
    versions = request.GET.getlist(SCHEMA_VERSION_PARAMETER)
    if not versions:
        return FLAT
    # Repeated, it must say one thing: two versions would be a guess either way.
    if len(set(versions)) == 1 and versions[0] in SCHEMA_VERSIONS:
        return versions[0]
    return None


def unknown_schema_version_response(request: HttpRequest) -> JsonResponse:
    asked = ", ".join(repr(version) for version in request.GET.getlist(SCHEMA_VERSION_PARAMETER))
    supported = ", ".join(SCHEMA_VERSIONS)
    return JsonResponse(
        {
            "detail": f"Unsupported schema_version {asked}. Supported: {supported}; without "
            "schema_version the flat format is served.",
            "supported_schema_versions": list(SCHEMA_VERSIONS),
        },
        status=400,
    )


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip with a non-zero q.

    gzip named explicitly decides (``gzip;q=0, *`` refuses it); otherwise ``*`` does, since it
    stands for every coding not named (RFC 9110 12.5.3).
    """
    qualities = {}
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        qualities[coding.strip().lower()] = _quality(params)
    for coding in ("gzip", "x-gzip", "*"):
        if coding in qualities:
            return qualities[coding] > 0
    return False


def cache_control() -> str:
    max_age = settings.CATALOG_CACHE_MAX_AGE
    # no-cache: caches may keep the body but must revalidate (a cheap 304) before each use,
    # so no change is ever hidden; a positive max-age trades that for fewer requests.
    return f"public, max-age={max_age}" if max_age else "public, no-cache"


# Sent while PostgreSQL is unreachable: the body is the last one this process rendered, and the
# value is how many whole seconds ago it was last known to be current.
STALE_HEADER = "Catalog-Stale"


def not_modified(request: HttpRequest, etag: str) -> bool:
    """Whether the client's ``If-None-Match`` holds ``etag``: compared weakly (W/"x" matches
    "x") against the tag of the selected representation only (RFC 9110 13.1.2), so a cache
    holding the gzip form cannot use a 304 that names the identity form."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if not if_none_match:
        return False
    tags = {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}
    return "*" in tags or etag in tags


def catalog_response(
    request: HttpRequest, rendered: Rendered, stale_seconds: float | None = None
) -> HttpResponse:
    use_gzip = accepts_gzip(request.META.get("HTTP_ACCEPT_ENCODING", ""))
    etag = rendered.gzip_etag if use_gzip else rendered.etag
    headers = {"ETag": etag, "Cache-Control": cache_control(), "Vary": "Accept-Encoding"}
    if stale_seconds is not None:
        headers[STALE_HEADER] = str(int(stale_seconds))
        # No cache downstream may keep a body that is not known to be current.
        headers["Cache-Control"] = "no-store"

    if not_modified(request, etag):
        return HttpResponseNotModified(headers=headers)

    body = rendered.gzipped if use_gzip else rendered.body
    response = HttpResponse(
        b"" if request.method == "HEAD" else body,
        content_type="application/json",
        headers=headers,
    )
    if use_gzip:
        response["Content-Encoding"] = "gzip"
    response["Content-Length"] = str(len(body))
    return response
