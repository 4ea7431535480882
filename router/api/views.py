"""The price API's views (``/api/v1/``): thin, over ``catalog.timeline`` and ``catalog.changes``.

Public, read-only and unauthenticated, throttled per client address (``ClientAddressThrottle``);
``PUBLIC_API=0`` answers 404. Every bad input is a 400 naming its parameter
(``router.api.errors``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ParseError, UnsupportedMediaType
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from catalog.changes import feed
from catalog.timeline import (
    NOT_PUBLIC,
    NOT_YET,
    UNKNOWN_MODEL,
    prices_at,
    public_price_timeline,
    renamed_to,
)
from router.api import cursors
from router.api.bodies import bodies, send
from router.api.errors import BadParameter, error_body, iso, moment_or_problem, parse_moment
from router.api.representation import answer_json, atom, item_json, timeline_json
from router.api.serializers import (
    ChangesSerializer,
    ErrorSerializer,
    LookupRequestSerializer,
    LookupResultsSerializer,
    PricesAtSerializer,
    TimelineSerializer,
)
from router.api.throttling import ClientAddressThrottle

MAX_LOOKUPS = 1000
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
ATOM_ENTRIES = 50
_PROBLEMS = {
    UNKNOWN_MODEL: ("model", "No public model has this id."),
    NOT_YET: ("at", "The model has no record this early: it did not exist yet."),
    NOT_PUBLIC: ("at", "The model was not public at this moment."),
}
TAGS = ["Prices"]
ERROR = OpenApiResponse(ErrorSerializer, description="A bad parameter, named in the body.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such public model.")
# The prices of the examples below: one price in the typed format's terms, and the flat five.
EXAMPLE_PRICES = {
    "prices": [
        {"scope": "input/text", "type": "prompt", "unit": "token", "cost_usd": "0.00000015"}
    ],
    "flat": {
        "prompt": "0.00000015",
        "completion": "0",
        "image": "0",
        "request": "0",
        "input_cache_read": "0",
    },
}
RENAMED_OR_NOT_FOUND = OpenApiResponse(
    ErrorSerializer,
    description="No such public model; or (code renamed) a public model had this id and has "
    "another now, named in renamed_to.",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AnyAccept(DefaultContentNegotiation):
    """Errors are JSON whatever the client accepts: a feed reader asks for Atom by Accept."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PublicApiView(APIView):
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = (ClientAddressThrottle,)
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = AnyAccept

    def initial(self, request, *args, **kwargs):
        if not settings.PUBLIC_API:
            raise NotFound("The price API is not served here.")
        super().initial(request, *args, **kwargs)


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(
        # ASCII: an echoed id may hold a lone surrogate, which has no UTF-8.
        json.dumps(data, separators=(",", ":")),
        content_type="application/json",
        status=status,
    )


def _past_or_now(text: str | None, parameter: str) -> datetime:
    if text is None:
        raise BadParameter(parameter, f"{parameter} is required.", "required")
    moment = parse_moment(text, parameter)
    now = timezone.now()
    if moment > now:
        raise BadParameter(
            parameter,
            f"{parameter} {iso(moment)} is in the future (it is now {iso(now)}); announced "
            "changes are in /api/v1/models/<id>/prices.",
            "future",
        )
    return moment


def _limit(text: str | None, default: int, maximum: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise BadParameter(
            "limit", f"limit must be a whole number from 1 to {maximum}, not {text[:20]!r}.",
            "invalid_limit",
        )  # fmt: skip
    return int(text)


class ModelPricesView(PublicApiView):
    @extend_schema(
        tags=TAGS,
        summary="A model's price timeline",
        description="The spans of time over which the model's public prices held, from its "
        "first public record to now (a gap while it was unpublished), then the announced "
        "changes to come (upcoming). Each span lists every price in the typed format's terms "
        "and the five flat prices.",
        responses={200: TimelineSerializer, 404: RENAMED_OR_NOT_FOUND},
        examples=[
            OpenApiExample(
                "Timeline",
                value={
                    "model": "acme/chat",
                    "spans": [
                        {
                            "from": "2026-11-01T12:00:00Z",
                            "until": "2027-01-01T00:00:00Z",
                            "upcoming": False,
                            **EXAMPLE_PRICES,
                        }
                    ],
                },
                response_only=True,
            )
        ],
        auth=[],
    )
    def get(self, request, model_id: str):
        body = bodies.get(("timeline", model_id), lambda now: _timeline(model_id, now))
        if body.content[:1] == b"{":
            return send(request, body.content, body.etag)
        renamed = body.content[len(_RENAMED) :].decode()
        if renamed:
            # Not a redirect: an id may pass to another model later, and a client that stored
            # the old id should learn the new one rather than follow it unseen.
            error = error_body(
                "model",
                f"The model {model_id[:200]!r} is now {renamed!r}: its timeline, from before "
                f"the rename too, is /api/v1/models/{quote(renamed)}/prices.",
                "renamed",
            )
            return _json({**error, "renamed_to": renamed}, 404)
        return _json(
            error_body("model", f"No public model {model_id[:200]!r}.", "unknown_model"), 404
        )


# Before the id a model has now, when ``model_id`` names no public model: the 404s are kept in
# the same entry as a timeline would be, so probing unknown ids evicts one entry per id, not two.
_RENAMED = b"renamed:"


def _timeline(model_id: str, now: datetime) -> bytes:
    spans = public_price_timeline(model_id, now=now)
    if spans is not None:
        return json.dumps(timeline_json(model_id, spans), separators=(",", ":")).encode()
    return _RENAMED + (renamed_to(model_id) or "").encode()


MODEL = OpenApiParameter(
    "model", str, OpenApiParameter.QUERY, required=True, description="A model id."
)
AT = OpenApiParameter(
    "at", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, required=True,
    description="ISO 8601 with a time zone, not in the future.",
)  # fmt: skip


class PricesAtView(PublicApiView):
    @extend_schema(
        tags=TAGS,
        summary="A model's prices at a moment",
        description="The prices in force at the moment, as the public endpoint served them "
        "(the rule of export_models --as-of): for billing a usage record at its time.",
        parameters=[MODEL, AT],
        responses={200: PricesAtSerializer, 400: ERROR, 404: NOT_FOUND},
        examples=[
            OpenApiExample(
                "Prices",
                value={
                    "model": "acme/chat",
                    "at": "2026-11-02T08:30:00Z",
                    **EXAMPLE_PRICES,
                },
                response_only=True,
            )
        ],
        auth=[],
    )
    def get(self, request):
        model_id = request.GET.get("model")
        if not model_id:
            raise BadParameter("model", "model is required: a model id.", "required")
        at = _past_or_now(request.GET.get("at"), "at")
        (found,) = prices_at([(model_id, at)])
        if found.problem is not None:
            parameter, message = _PROBLEMS[found.problem]
            return _json(error_body(parameter, message, found.problem), 404)
        assert found.prices is not None
        return HttpResponse(
            answer_json(model_id, at, found.prices), content_type="application/json"
        )


class PriceLookupView(PublicApiView):
    parser_classes = (JSONParser,)

    @extend_schema(
        tags=TAGS,
        summary="Prices at many moments",
        description=f"Up to {MAX_LOOKUPS:,} (model, moment) pairs, answered in order: the "
        "prices in force, or per item why there are none (unknown model, a moment before the "
        "model existed or while it was not public, a future moment). A malformed item fails "
        "the request, naming it.",
        request=LookupRequestSerializer,
        responses={200: LookupResultsSerializer, 400: ERROR},
        examples=[
            OpenApiExample(
                "Lookups",
                value={
                    "lookups": [
                        {"model": "acme/chat", "at": "2026-11-02T08:30:00Z"},
                        {"model": "acme/none", "at": "2026-11-02T08:30:00Z"},
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Results",
                value={
                    "results": [
                        {
                            "model": "acme/chat",
                            "at": "2026-11-02T08:30:00Z",
                            **EXAMPLE_PRICES,
                        },
                        {
                            "model": "acme/none",
                            "at": "2026-11-02T08:30:00Z",
                            "error": {
                                "code": "unknown_model",
                                "detail": "No public model has this id.",
                            },
                        },
                    ]
                },
                response_only=True,
            ),
        ],
        auth=[],
    )
    def post(self, request):
        try:
            data = request.data
        except UnsupportedMediaType:
            raise BadParameter(
                "body", "Send the lookups as JSON (Content-Type: application/json).", "not_json"
            ) from None
        except ParseError as error:
            raise BadParameter(
                "body", f"The body is not JSON: {error.detail}", "invalid_json"
            ) from None
        lookups = data.get("lookups") if isinstance(data, dict) else None
        if not isinstance(lookups, list):
            raise BadParameter(
                "lookups", 'Send {"lookups": [{"model": …, "at": …}, …]}.', "required"
            )
        if len(lookups) > MAX_LOOKUPS:
            raise BadParameter(
                "lookups", f"At most {MAX_LOOKUPS:,} lookups per request, not {len(lookups):,}.",
                "too_many",
            )  # fmt: skip
        now = timezone.now()
        pairs, asked, future = [], [], set()
        for number, item in enumerate(lookups):
            name = f"lookups[{number}]"
            if not isinstance(item, dict):
                raise BadParameter(name, f'{name} must be {{"model": …, "at": …}}.', "invalid_item")
            model_id = item.get("model")
            if not isinstance(model_id, str) or not model_id:
                raise BadParameter(
                    f"{name}.model", f"{name}.model must be a model id.", "invalid_item"
                )
            at = moment_or_problem(item.get("at"))
            if isinstance(at, str):
                raise BadParameter(f"{name}.at", f"{name}.at: {at}", "invalid_moment")
            asked.append(at)
            if at > now:
                future.add(number)
                at = now  # answered below as a future moment, never looked up
            pairs.append((model_id, at))
        found = prices_at(pairs, now=now)
        # Written as text: a serializer, or a dict per item for json.dumps, was most of the
        # time of a batch (docs/PERFORMANCE.md).
        results = []
        for number, (model_id, at, answer) in enumerate(
            zip((model_id for model_id, _ in pairs), asked, found, strict=True)
        ):
            if number in future:
                results.append(_item_error(model_id, at, "future", "The moment is in the future."))
            elif answer.problem is not None:
                detail = _PROBLEMS[answer.problem][1]
                results.append(_item_error(model_id, at, answer.problem, detail))
            else:
                assert answer.prices is not None
                results.append(answer_json(model_id, at, answer.prices))
        return HttpResponse(f'{{"results":[{",".join(results)}]}}', content_type="application/json")


def _item_error(model_id: str, at: datetime, code: str, detail: str) -> str:
    item = {"model": model_id, "at": iso(at), "error": {"code": code, "detail": detail}}
    return json.dumps(item, separators=(",", ":"))


SINCE = OpenApiParameter(
    "since", str, OpenApiParameter.QUERY, required=False,
    description="A cursor from an earlier answer (an item's, or next): the changes after it. "
    "Without it, from the first change.",
)  # fmt: skip
LIMIT = OpenApiParameter(
    "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}, OpenApiParameter.QUERY,
    required=False,
    description=f"Items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
)  # fmt: skip


class ChangesView(PublicApiView):
    @extend_schema(
        tags=TAGS,
        summary="The feed of public changes",
        description="In order of moment: a model published, unpublished, renamed, a price "
        "changed (old -> new, per price), a deprecation set or moved, an announced price change "
        "scheduled, amended (at the amendment's moment, with all it will then change), "
        "cancelled or taking effect. Resume with since=<next>.",
        parameters=[SINCE, LIMIT],
        responses={200: ChangesSerializer, 400: ERROR},
        examples=[
            OpenApiExample(
                "Changes",
                value={
                    "changes": [
                        {
                            "cursor": "WyIyMDI2LTExLTAxVDEyOjAwOjAwKzAwOjAwIiwwLDEsMF0",
                            "at": "2026-11-01T12:00:00Z",
                            "kind": "published",
                            "model": "acme/chat",
                            "name": "Chat",
                        },
                        {
                            "cursor": "WyIyMDI2LTExLTAyVDEyOjAwOjAwKzAwOjAwIiwwLDIsMF0",
                            "at": "2026-11-02T12:00:00Z",
                            "kind": "price_changed",
                            "model": "acme/chat",
                            "changes": [
                                {
                                    "scope": "input/text",
                                    "type": "prompt",
                                    "unit": "token",
                                    "old": {"cost_usd": "0.00000015"},
                                    "new": {"cost_usd": "0.0000002"},
                                }
                            ],
                        },
                    ],
                    "next": "WyIyMDI2LTExLTAyVDEyOjAwOjAwKzAwOjAwIiwwLDIsMF0",
                },
                response_only=True,
            )
        ],
        auth=[],
    )
    def get(self, request):
        since_text = request.GET.get("since")
        since = None if since_text is None else cursors.decode(since_text)
        limit = _limit(request.GET.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
        body = bodies.get(
            ("changes", since, limit), lambda now: _page(since, since_text, limit, now)
        )
        return send(request, body.content, body.etag)


def _page(since, since_text: str | None, limit: int, now: datetime) -> bytes:
    items = [item_json(item, cursors.encode(item.key)) for item in feed(since, limit, now=now)]
    following = items[-1]["cursor"] if items else since_text
    return json.dumps({"changes": items, "next": following}, separators=(",", ":")).encode()


class ChangesAtomView(PublicApiView):
    @extend_schema(
        tags=TAGS,
        summary="The feed of public changes, in Atom",
        description=f"The latest {ATOM_ENTRIES} public changes (see /api/v1/changes), the "
        "latest first, as an Atom 1.0 feed for feed readers and chat integrations.",
        responses={(200, "application/atom+xml"): OpenApiTypes.STR},
        auth=[],
    )
    def get(self, request):
        base_url = request.build_absolute_uri("/").rstrip("/")
        body = bodies.get(("atom", base_url), lambda now: _atom(base_url, request.path, now))
        return send(request, body.content, body.etag, content_type="application/atom+xml")


def _atom(base_url: str, path: str, now: datetime) -> bytes:
    items = feed(None, ATOM_ENTRIES, latest=True, now=now)
    entries = [item_json(item, cursors.encode(item.key)) for item in items]
    updated = items[0].moment if items else EPOCH
    return atom(entries, base_url=base_url, feed_path=path, updated=updated)
