from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from catalog.formats.flat.schema import RouterOpenRouterModelsResSerializer
from router.api.as_of import past_catalog_response
from router.cache import catalog_cache
from router.http import catalog_response, representation, unknown_schema_version_response
from router.openapi import SCHEMA_VERSION_QUERY, UNSUPPORTED_SCHEMA_VERSION

# The Allow header DRF sends for the view below (tests compare the two ways in).
ALLOW = "GET, HEAD, OPTIONS"


def answer(request: HttpRequest) -> HttpResponse:
    """The response to a GET or HEAD of the endpoint, whichever way the request came in.

    ``catalog_cache.serve()`` runs once, and its failure is answered here (a 503), so nothing
    is handed on to be served a second time.
    """
    past = past_catalog_response(request) if request.META.get("QUERY_STRING") else None
    wanted = representation(request)
    if past is not None:  # ?as_of=: the catalog at a past moment (router.api.as_of)
        response: HttpResponse = past
    elif wanted is None:
        response = unknown_schema_version_response(request)
    else:
        try:
            rendered, stale_seconds = catalog_cache.serve(wanted)
        except DatabaseError:  # logged once per outage by the cache, not once per request
            response = JsonResponse(
                {"detail": "The catalog is temporarily unavailable."},
                status=503,
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
            )
        else:
            response = catalog_response(request, rendered, stale_seconds)
    response["Allow"] = ALLOW
    return response


class AlwaysJSON(BaseContentNegotiation):
    """OpenRouter's Accept header never changes the representation (``schema_version`` in the
    query string chooses the format)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return None


class OpenRouterModelsView(APIView):
    """The published catalog in OpenRouter's format, served as pre-rendered bytes.

    No per-request serialization: the body, its gzip form and its ETag are computed once per
    catalog revision and representation (``router.cache``): the flat list, or with
    ``?schema_version=2.4`` the typed documents; another version is a 400.
    ``router.openapi`` documents both. While PostgreSQL is unreachable
    the last rendered body is sent with a ``Catalog-Stale`` header (``router.http``), for a
    bounded time; after that, a 503.
    """

    # Public, read-only, bodiless requests: nothing to authenticate, permit, throttle or parse.
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    parser_classes = ()
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = AlwaysJSON
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        operation_id="inference_router_openrouter_models_inference_router_openrouter_models_get",
        tags=["Inference"],
        summary="Models OpenRouter du routeur d’inférence",
        description="Renvoie une liste de modèles pouvant être utilisés avec OpenRouter.\n\n"
        "Cette API est accessible sans authentification.",
        parameters=[SCHEMA_VERSION_QUERY],
        # router.openapi adds the typed list to the 200, from the official schema's components.
        responses={
            200: OpenApiResponse(
                RouterOpenRouterModelsResSerializer, description="Réponse réussie"
            ),
            400: UNSUPPORTED_SCHEMA_VERSION,
        },
        auth=[],
    )
    def get(self, request):
        return answer(request)

    def options(self, request, *args, **kwargs):
        # DRF's default describes the view (its name and docstring) to anyone who asks; the
        # methods it allows, in the Allow header DRF adds to every response, are all a client
        # needs.
        return HttpResponse(headers={"Content-Length": "0"})
