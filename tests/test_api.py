"""The price API (issue 21): the catalog at a past moment (?as_of=), each model's timeline, the
prices at moments, the feed of public changes, and what is never public.

The clock is driven (time_machine): imports, admin-equivalent edits and schedules happen at
known moments, and each endpoint is compared with answers written out by hand.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.actions.publication import publish, set_deprecation_date, unpublish
from catalog.actions.schedule import cancel_schedule
from catalog.actions.served_models import save_model
from catalog.models import PriceSchedule, ServedModel
from router.api.as_of import past_bodies
from router.api.bodies import bodies
from router.api.throttling import ClientAddressThrottle
from tests.helpers import ENDPOINT, REDIS_KEY_PREFIX, import_prices, schedule_prices

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
M1 = T0 + 10 * DAY
CHAT = "acme/chat"
FORMATS = {"flat": "", "typed": "&schema_version=2.4"}
FLAT_TAIL = {"image": "0", "request": "0", "input_cache_read": "0"}


@pytest.fixture(autouse=True)
def _fresh_api_caches():
    # Revisions follow the driven clock, so two tests can see one revision number.
    bodies.clear()
    past_bodies.clear()
    yield
    bodies.clear()
    past_bodies.clear()


@pytest.fixture
def clock_start():
    return T0


@pytest.fixture
def chat(clock, make_model):
    """CHAT, published at T0: prompt 0.15 and completion 0.60 per million tokens."""
    return make_model(CHAT, name="Chat", price_prompt=Decimal("0.00000015"))


def export_as_of(moment: datetime, schema_version: tuple = ()) -> bytes:
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    call_command("export_models", "--as-of", moment.isoformat(), *schema_version, stdout=stdout)
    stdout.flush()
    return raw.getvalue()


def prices(prompt: str, completion: str = "0.0000006") -> dict:
    """A span's or a lookup's prices, as the API writes them."""
    return {
        "prices": [
            {"scope": "input/text", "type": "prompt", "unit": "token", "cost_usd": prompt},
            {"scope": "output/text", "type": "completion", "unit": "token", "cost_usd": completion},
        ],
        "flat": {"prompt": prompt, "completion": completion, **FLAT_TAIL},
    }


# --- The catalog at a past moment (?as_of=) --------------------------------------------------
@pytest.mark.parametrize("format", FORMATS)
def test_as_of_serves_the_bytes_export_models_writes(client, clock, chat, format):
    schedule_prices(CHAT, M1, prompt="0.0000003")
    clock.move_to(T0 + DAY)
    import_prices(CHAT, completion="0.0000007")
    clock.move_to(M1 + DAY)
    option = ("--schema-version", "2.4") if format == "typed" else ()

    for moment in (T0 + timedelta(hours=1), T0 + DAY + timedelta(hours=1), M1, M1 + DAY / 2):
        response = client.get(f"{ENDPOINT}?as_of={moment.isoformat()}{FORMATS[format]}")
        assert response.status_code == 200
        assert response.content == export_as_of(moment, option)
    assert b"0.0000003" in client.get(f"{ENDPOINT}?as_of={M1.isoformat()}").content


def test_as_of_before_the_first_record_is_an_empty_catalog(client, chat):
    for query in ("", "&schema_version=2.4"):
        response = client.get(f"{ENDPOINT}?as_of=2029-01-01T00:00:00Z{query}")
        assert response.status_code == 200
        assert json.loads(response.content) == {"data": []}


def test_a_past_moment_is_cached_for_long_and_revalidated_by_its_etag(client, clock, chat):
    clock.move_to(T0 + DAY)
    url = f"{ENDPOINT}?as_of=2030-01-01T13:00:00Z"

    response = client.get(url)
    again = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])

    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert again.status_code == 304
    assert len(past_bodies) == 1
    # A moment just past may still gain a record from a transaction under way.
    recent = client.get(f"{ENDPOINT}?as_of={(T0 + DAY - timedelta(minutes=1)).isoformat()}")
    assert recent["Cache-Control"] == "public, no-cache"
    assert len(past_bodies) == 1


def test_the_past_bodies_kept_are_bounded(client, clock, chat, settings):
    settings.PUBLIC_API_AS_OF_BODIES = 2
    clock.move_to(T0 + DAY)
    for hour in (13, 14, 15):
        assert client.get(f"{ENDPOINT}?as_of=2030-01-01T{hour}:00:00Z").status_code == 200

    assert len(past_bodies) == 2


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("as_of=2031-01-01T00:00:00Z", "future"),
        ("as_of=2030-01-01T12:00:00", "invalid_moment"),
        ("as_of=yesterday", "invalid_moment"),
        ("as_of=2030-01-01T12:00:00Z&as_of=2030-01-01T13:00:00Z", "repeated"),
    ],
)
def test_a_bad_as_of_is_a_400_naming_it(client, chat, query, code):
    response = client.get(f"{ENDPOINT}?{query}")

    assert response.status_code == 400
    assert response.json()["parameter"] == "as_of"
    assert response.json()["code"] == code


def test_an_offset_whose_plus_arrived_as_a_space_is_read(client, clock, chat):
    clock.move_to(T0 + DAY)
    response = client.get(f"{ENDPOINT}?as_of=2030-01-01T14:00:00+02:00")

    assert response.status_code == 200
    assert response.content == export_as_of(T0)


# --- A model's price timeline ----------------------------------------------------------------
def test_the_timeline_lists_past_spans_then_announced_changes(client, clock, chat):
    clock.move_to(T0 + DAY)
    import_prices(CHAT, prompt="0.0000002")
    schedule_prices(CHAT, M1, prompt="0.0000003")

    response = client.get(f"/api/v1/models/{CHAT}/prices")

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, no-cache"
    assert response.json() == {
        "model": CHAT,
        "spans": [
            {"from": "2030-01-01T12:00:00Z", "until": "2030-01-02T12:00:00Z", "upcoming": False,
             **prices("0.00000015")},
            {"from": "2030-01-02T12:00:00Z", "until": "2030-01-11T12:00:00Z", "upcoming": False,
             **prices("0.0000002")},
            {"from": "2030-01-11T12:00:00Z", "until": None, "upcoming": True,
             **prices("0.0000003")},
        ],
    }  # fmt: skip
    assert (
        client.get(response.request["PATH_INFO"], HTTP_IF_NONE_MATCH=response["ETag"]).status_code
        == 304
    )


def test_the_timeline_of_an_unknown_or_draft_model_is_a_404(client, chat, make_model):
    make_model("acme/draft", is_published=False)

    for model_id in ("acme/draft", "acme/nothing"):
        response = client.get(f"/api/v1/models/{model_id}/prices")
        assert response.status_code == 404
        assert response.json()["parameter"] == "model"


# --- The prices at a moment ------------------------------------------------------------------
def test_the_prices_at_a_moment_are_those_the_endpoint_served(client, clock, chat):
    schedule_prices(CHAT, M1, prompt="0.0000003")
    clock.move_to(M1 + DAY)

    before = client.get("/api/v1/prices", {"model": CHAT, "at": "2030-01-11T11:59:59Z"})
    after = client.get("/api/v1/prices", {"model": CHAT, "at": "2030-01-11T12:00:00Z"})

    assert before.json() == {"model": CHAT, "at": "2030-01-11T11:59:59Z", **prices("0.00000015")}
    assert after.json() == {"model": CHAT, "at": "2030-01-11T12:00:00Z", **prices("0.0000003")}


@pytest.mark.parametrize(
    ("query", "status", "parameter", "code"),
    [
        ({"model": "acme/none", "at": "2030-01-01T13:00:00Z"}, 404, "model", "unknown_model"),
        ({"model": CHAT, "at": "2029-01-01T00:00:00Z"}, 404, "at", "before_first_record"),
        ({"model": CHAT, "at": "2031-01-01T00:00:00Z"}, 400, "at", "future"),
        ({"model": CHAT, "at": "2030-01-01T13:00:00"}, 400, "at", "invalid_moment"),
        ({"model": CHAT}, 400, "at", "required"),
        ({"at": "2030-01-01T13:00:00Z"}, 400, "model", "required"),
    ],
)
def test_a_bad_price_question_names_its_parameter(
    client, clock, chat, query, status, parameter, code
):
    clock.move_to(T0 + DAY)
    response = client.get("/api/v1/prices", query)

    assert response.status_code == status
    assert (response.json()["parameter"], response.json()["code"]) == (parameter, code)


def lookup(client, lookups) -> dict:
    response = client.post(
        "/api/v1/prices/lookup", {"lookups": lookups}, content_type="application/json"
    )
    return {"status": response.status_code, **response.json()}


def test_a_batch_is_answered_in_order_with_a_problem_per_item(client, clock, chat, make_model):
    clock.move_to(T0 + DAY)
    make_model("acme/draft", is_published=False)
    unpublish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(T0 + 2 * DAY)

    answer = lookup(client, [
        {"model": CHAT, "at": "2030-01-01T13:00:00+00:00"},
        {"model": "acme/draft", "at": "2030-01-02T13:00:00Z"},
        {"model": CHAT, "at": "2029-12-31T00:00:00Z"},
        {"model": CHAT, "at": "2030-01-02T13:00:00Z"},
        {"model": CHAT, "at": "2031-01-01T00:00:00Z"},
    ])  # fmt: skip

    assert answer["status"] == 200
    codes = [
        (one["model"], one["at"], one.get("error", {}).get("code")) for one in answer["results"]
    ]
    assert codes == [
        (CHAT, "2030-01-01T13:00:00Z", None),
        ("acme/draft", "2030-01-02T13:00:00Z", "unknown_model"),
        (CHAT, "2029-12-31T00:00:00Z", "before_first_record"),
        (CHAT, "2030-01-02T13:00:00Z", "not_public"),
        (CHAT, "2031-01-01T00:00:00Z", "future"),
    ]  # fmt: skip
    assert answer["results"][0] == {
        "model": CHAT,
        "at": "2030-01-01T13:00:00Z",
        **prices("0.00000015"),
    }


@pytest.mark.parametrize(
    ("lookups", "parameter"),
    [
        ([{"model": CHAT, "at": "2030-01-01T13:00:00Z"}] * 1001, "lookups"),
        (
            [{"model": CHAT, "at": "2030-01-01T13:00:00Z"}, {"model": CHAT, "at": "noon"}],
            "lookups[1].at",
        ),
        ([{"model": CHAT, "at": "2030-01-01T13:00:00"}], "lookups[0].at"),
        ([{"model": 7, "at": "2030-01-01T13:00:00Z"}], "lookups[0].model"),
        (["acme/chat"], "lookups[0]"),
        ("acme/chat", "lookups"),
    ],
)
def test_a_malformed_batch_is_a_400_naming_the_item(client, chat, lookups, parameter):
    answer = lookup(client, lookups)

    assert answer["status"] == 400
    assert answer["parameter"] == parameter


def test_a_body_that_is_not_json_is_a_400(client, chat):
    response = client.post("/api/v1/prices/lookup", "{", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["parameter"] == "body"


def test_a_lookup_takes_as_many_queries_for_one_pair_as_for_many(client, clock, chat, make_model):
    for number in range(5):
        clock.move_to(T0 + (number + 1) * DAY)
        make_model(f"acme/more-{number}")
        import_prices(CHAT, prompt=f"0.000000{number + 2}")
    clock.move_to(T0 + 10 * DAY)

    def queries(lookups) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert lookup(client, lookups)["status"] == 200
        return len(captured)

    one = queries([{"model": CHAT, "at": "2030-01-01T13:00:00Z"}])
    many = queries([
        {"model": model_id, "at": (T0 + timedelta(hours=hours)).isoformat()}
        for model_id in (CHAT, *(f"acme/more-{number}" for number in range(5)))
        for hours in range(24 * 5 + 1, 240, 7)
    ])  # fmt: skip
    # 1. each pair's model and the record in force at its moment, with its prices
    assert one == many == 1
    unanswered = queries([{"model": "acme/more-4", "at": "2030-01-01T13:00:00Z"}])
    with_unanswered = queries([
        {"model": model_id, "at": (T0 + timedelta(hours=hours)).isoformat()}
        for model_id in (CHAT, *(f"acme/more-{number}" for number in range(5)), "acme/none")
        for hours in range(1, 240, 7)
    ])  # fmt: skip
    # and 2. whether the models of pairs without a public record were ever public
    assert unanswered == with_unanswered == 2


@pytest.fixture
def renamed(clock, chat, make_model):
    """CHAT (0.15, then 0.2 from T0 + 1 day) renamed acme/chat-2 at T0 + 2 days; its old id
    taken by another model (0.9) at T0 + 3 days; acme/chat-2 at 0.3 from T0 + 4 days."""
    clock.move_to(T0 + DAY)
    import_prices(CHAT, prompt="0.0000002")
    clock.move_to(T0 + 2 * DAY)
    model = ServedModel.objects.get(model_id=CHAT)
    model.model_id = "acme/chat-2"
    save_model(model)
    clock.move_to(T0 + 3 * DAY)
    make_model(CHAT, name="Another chat", price_prompt=Decimal("0.0000009"))
    clock.move_to(T0 + 4 * DAY)
    import_prices("acme/chat-2", prompt="0.0000003")
    clock.move_to(T0 + 5 * DAY)


def test_a_renamed_model_is_found_by_the_id_it_had_at_each_moment(
    client, renamed, django_assert_num_queries
):
    def at(days: int) -> str:
        return (T0 + days * DAY + timedelta(hours=1)).isoformat()

    asked = [
        (CHAT, 0),  # the first model, by the id it had then
        (CHAT, 1),
        (CHAT, 2),  # renamed; the id's next model not there yet
        (CHAT, 3),  # the id's next model
        ("acme/chat-2", 0),  # by its id now, before it had it: the model that has it now
        ("acme/chat-2", 4),
    ]
    # 1. the record each id had at each moment, 2. whether the id's model now was ever public
    with django_assert_num_queries(2):
        answer = lookup(client, [{"model": model_id, "at": at(days)} for model_id, days in asked])

    found = [
        result.get("flat", {}).get("prompt") or result["error"]["code"]
        for result in answer["results"]
    ]
    assert found == [
        "0.00000015", "0.0000002", "before_first_record", "0.0000009", "0.00000015", "0.0000003",
    ]  # fmt: skip
    single = client.get("/api/v1/prices", {"model": CHAT, "at": at(1)})
    assert single.json() == {
        "model": CHAT,
        "at": at(1).replace("+00:00", "Z"),
        **prices("0.0000002"),
    }


def test_the_timeline_of_an_old_id_names_the_id_now(client, clock, chat):
    clock.move_to(T0 + DAY)
    model = ServedModel.objects.get(model_id=CHAT)
    model.model_id = "acme/chat-2"
    save_model(model)
    clock.move_to(T0 + 2 * DAY)

    response = client.get(f"/api/v1/models/{CHAT}/prices")
    timeline = client.get("/api/v1/models/acme/chat-2/prices").json()

    assert response.status_code == 404
    assert (response.json()["code"], response.json()["renamed_to"]) == ("renamed", "acme/chat-2")
    assert "/api/v1/models/acme/chat-2/prices" in response.json()["detail"]
    # The model's timeline is one, from before the rename.
    assert [span["from"] for span in timeline["spans"]] == ["2030-01-01T12:00:00Z"]


def test_an_unknown_or_renamed_id_keeps_one_body_and_answers_warm(client, clock, chat):
    clock.move_to(T0 + DAY)
    model = ServedModel.objects.get(model_id=CHAT)
    model.model_id = "acme/chat-2"
    save_model(model)
    clock.move_to(T0 + 2 * DAY)

    cold = [client.get(f"/api/v1/models/{model_id}/prices") for model_id in (CHAT, "acme/none")]
    warm = [client.get(f"/api/v1/models/{model_id}/prices") for model_id in (CHAT, "acme/none")]

    # One kept body per id asked, the 404 included: probing ids evicts no more than that.
    assert len(bodies) == 2
    assert [(r.status_code, r.json()["code"]) for r in warm] == [
        (404, "renamed"),
        (404, "unknown_model"),
    ]
    assert [r.content for r in warm] == [r.content for r in cold]
    assert warm[0].json()["renamed_to"] == "acme/chat-2"


def test_an_old_id_taken_by_another_model_is_that_models_timeline(client, renamed):
    response = client.get(f"/api/v1/models/{CHAT}/prices")

    assert response.status_code == 200
    assert [span["flat"]["prompt"] for span in response.json()["spans"]] == ["0.0000009"]


# --- The feed of public changes --------------------------------------------------------------
@pytest.fixture
def story(clock, chat):
    """A model's public life, one event a day, and a confidential change at M1 + 2 days."""
    clock.move_to(T0 + DAY)
    import_prices(CHAT, prompt="0.0000002")
    clock.move_to(T0 + 2 * DAY)
    renamed = ServedModel.objects.get(model_id=CHAT)
    renamed.name = "Chat 2"
    renamed.save()
    clock.move_to(T0 + 3 * DAY)
    set_deprecation_date(ServedModel.objects.filter(model_id=CHAT), date(2031, 1, 1))
    clock.move_to(T0 + 4 * DAY)
    schedule_prices(CHAT, M1, prompt="0.0000003")
    clock.move_to(T0 + 5 * DAY)
    schedule_prices(CHAT, M1 + 2 * DAY, prompt="0.0000003", completion="0.0000007", announced=False)
    clock.move_to(T0 + 6 * DAY)
    schedule_prices(CHAT, M1 + 5 * DAY, prompt="0.0000009", completion="0.0000007")
    clock.move_to(T0 + 7 * DAY)
    cancel_schedule(PriceSchedule.objects.get(effective_at=M1 + 5 * DAY), source="test")
    clock.move_to(M1 + 3 * DAY)
    unpublish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(M1 + 4 * DAY)
    publish(ServedModel.objects.filter(model_id=CHAT))
    clock.move_to(M1 + 6 * DAY)


def kinds(changes: list[dict]) -> list[tuple[str, str]]:
    return [(change["at"], change["kind"]) for change in changes]


STORY = [
    ("2030-01-01T12:00:00Z", "published"),
    ("2030-01-02T12:00:00Z", "price_changed"),
    ("2030-01-03T12:00:00Z", "renamed"),
    ("2030-01-04T12:00:00Z", "deprecation_set"),
    ("2030-01-05T12:00:00Z", "change_scheduled"),
    ("2030-01-07T12:00:00Z", "change_scheduled"),
    ("2030-01-08T12:00:00Z", "change_cancelled"),
    ("2030-01-11T12:00:00Z", "change_effective"),
    ("2030-01-13T12:00:00Z", "price_changed"),
    ("2030-01-14T12:00:00Z", "unpublished"),
    ("2030-01-15T12:00:00Z", "published"),
]


def test_the_feed_lists_each_public_change_in_order_of_moment(client, story):
    response = client.get("/api/v1/changes")

    assert response.status_code == 200
    changes = response.json()["changes"]
    assert kinds(changes) == STORY
    assert response.json()["next"] == changes[-1]["cursor"]
    by_kind = {change["kind"]: change for change in changes}
    assert by_kind["renamed"] | {"cursor": None} == {
        "cursor": None, "at": "2030-01-03T12:00:00Z", "kind": "renamed", "model": CHAT,
        "field": "name", "old": "Chat", "new": "Chat 2",
    }  # fmt: skip
    assert by_kind["deprecation_set"]["new"] == "2031-01-01"
    assert changes[1]["changes"] == [
        {"scope": "input/text", "type": "prompt", "unit": "token",
         "old": {"cost_usd": "0.00000015"}, "new": {"cost_usd": "0.0000002"}},
    ]  # fmt: skip
    assert changes[4]["effective_at"] == "2030-01-11T12:00:00Z"
    assert changes[4]["changes"][0]["new"] == {"cost_usd": "0.0000003"}
    # The confidential change: only its price change, at its moment.
    assert changes[8]["changes"] == [
        {"scope": "output/text", "type": "completion", "unit": "token",
         "old": {"cost_usd": "0.0000006"}, "new": {"cost_usd": "0.0000007"}},
    ]  # fmt: skip


def test_the_feed_never_names_a_person_a_reason_or_a_file(client, story):
    body = client.get("/api/v1/changes").content + client.get("/api/v1/changes.atom").content

    # The schedules' source is "test"; the history's reasons name it and the import.
    for secret in (b"(test)", b'"test"', b"import_models", b"confidential", b"scheduled for"):
        assert secret not in body


def test_pages_resume_from_their_cursor_without_a_gap_or_a_repeat(client, story):
    seen, since = [], None
    for _ in range(len(STORY)):
        query = {"limit": 2} | ({"since": since} if since else {})
        page = client.get("/api/v1/changes", query).json()
        seen += page["changes"]
        since = page["next"]
    final = client.get("/api/v1/changes", {"since": since}).json()

    assert kinds(seen) == STORY
    assert final == {"changes": [], "next": since}


def test_a_confidential_change_is_in_no_output_before_its_moment(client, clock, chat):
    clock.move_to(T0 + DAY)
    urls = ["/api/v1/changes", "/api/v1/changes.atom", f"/api/v1/models/{CHAT}/prices"]
    before = [client.get(url) for url in urls]
    schedule_prices(CHAT, M1, prompt="0.0000003", announced=False)
    bodies.clear()

    clock.move_to(M1 - timedelta(seconds=1))
    after = [client.get(url) for url in urls]
    assert [(r.content, r["ETag"], r["Cache-Control"]) for r in after] == [
        (r.content, r["ETag"], r["Cache-Control"]) for r in before
    ]
    lookups = lookup(client, [{"model": CHAT, "at": (M1 - timedelta(seconds=1)).isoformat()}])
    assert lookups["results"][0]["flat"]["prompt"] == "0.00000015"
    clock.move_to(M1)
    assert kinds(client.get("/api/v1/changes").json()["changes"])[-1] == (
        "2030-01-11T12:00:00Z", "price_changed"
    )  # fmt: skip


def brought(item: dict) -> dict:
    """What a feed item's change brings, by price type: its new cost per unit."""
    return {change["type"]: change["new"]["cost_usd"] for change in item["changes"]}


def test_an_announced_change_amended_is_announced_again_with_all_it_will_change(
    client, clock, chat
):
    clock.move_to(T0 + DAY)
    schedule_prices(CHAT, M1, prompt="0.0000003")
    clock.move_to(T0 + 2 * DAY)
    since = client.get("/api/v1/changes").json()["next"]
    # An import says the whole catalog at M1: the prompt of the change at M1 stays.
    schedule_prices(CHAT, M1, prompt="0.0000003", completion="0.0000007")  # joins it
    clock.move_to(T0 + 3 * DAY)
    schedule_prices(CHAT, M1, prompt="0.0000004", completion="0.0000007")  # one price edited
    clock.move_to(T0 + 4 * DAY)
    # Confidential, before M1, on a price the change at M1 sets: not an amendment of it.
    schedule_prices(CHAT, M1 - DAY, prompt="0.0000005", announced=False)
    clock.move_to(T0 + 5 * DAY)

    changes = client.get("/api/v1/changes").json()["changes"]
    missed = client.get("/api/v1/changes", {"since": since}).json()["changes"]

    assert kinds(changes) == [
        ("2030-01-01T12:00:00Z", "published"),
        ("2030-01-02T12:00:00Z", "change_scheduled"),
        ("2030-01-03T12:00:00Z", "change_amended"),
        ("2030-01-04T12:00:00Z", "change_amended"),
    ]
    assert [brought(item) for item in changes[1:]] == [
        {"prompt": "0.0000003"},
        {"prompt": "0.0000003", "completion": "0.0000007"},
        {"prompt": "0.0000004", "completion": "0.0000007"},
    ]
    assert {item["effective_at"] for item in changes[1:]} == {"2030-01-11T12:00:00Z"}
    assert changes[3]["changes"][0]["old"] == {"cost_usd": "0.00000015"}
    # A subscriber who read up to the first announcement learns every amendment.
    assert kinds(missed) == kinds(changes)[2:]
    atom = ElementTree.fromstring(client.get("/api/v1/changes.atom").content)
    assert atom.findtext(f"{ATOM}entry/{ATOM}title") == "acme/chat: announced price change amended"
    summary = atom.findtext(f"{ATOM}entry/{ATOM}summary") or ""
    assert "prompt per token: 0.00000015 -> 0.0000004 USD" in summary
    clock.move_to(M1 + DAY)
    effective = client.get("/api/v1/changes", {"since": changes[-1]["cursor"]}).json()
    assert [(item["kind"], brought(item)) for item in effective["changes"]] == [
        ("price_changed", {"prompt": "0.0000005"}),
        ("change_effective", {"prompt": "0.0000004", "completion": "0.0000007"}),
    ]


@pytest.mark.parametrize(
    ("query", "parameter", "code"),
    [
        ({"since": "not-a-cursor"}, "since", "invalid_cursor"),
        ({"since": "WyJ4Il0"}, "since", "invalid_cursor"),
        ({"limit": "0"}, "limit", "invalid_limit"),
        ({"limit": "1001"}, "limit", "invalid_limit"),
        ({"limit": "ten"}, "limit", "invalid_limit"),
    ],
)
def test_a_bad_cursor_or_limit_is_a_400_naming_it(client, chat, query, parameter, code):
    response = client.get("/api/v1/changes", query)

    assert response.status_code == 400
    assert (response.json()["parameter"], response.json()["code"]) == (parameter, code)


ATOM = "{http://www.w3.org/2005/Atom}"


def test_the_atom_feed_lists_the_latest_changes_first(client, story):
    response = client.get("/api/v1/changes.atom", HTTP_ACCEPT="application/atom+xml")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml"
    feed = ElementTree.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}updated") for entry in entries] == [
        at for at, _ in reversed(STORY)
    ]
    assert feed.findtext(f"{ATOM}updated") == "2030-01-15T12:00:00Z"
    assert entries[0].findtext(f"{ATOM}title") == f"{CHAT} published"
    link = entries[0].find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == f"http://testserver/api/v1/models/{CHAT}/prices"


# --- On, off, throttled, documented ----------------------------------------------------------
API_URLS = ["/api/v1/changes", "/api/v1/changes.atom", f"/api/v1/models/{CHAT}/prices",
            f"/api/v1/prices?model={CHAT}&at=2030-01-01T13:00:00Z"]  # fmt: skip


def test_public_api_off_answers_404_everywhere_but_the_current_catalog(client, chat, settings):
    settings.PUBLIC_API = False

    for url in [*API_URLS, f"{ENDPOINT}?as_of=2030-01-01T12:00:00Z"]:
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            "/api/v1/prices/lookup", {"lookups": []}, content_type="application/json"
        ).status_code
        == 404
    )
    assert client.get(ENDPOINT).status_code == 200


def test_the_api_is_throttled_per_client_address_and_the_endpoint_never(client, chat, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"public_api": "2/minute"},
    }

    answers = [client.get("/api/v1/changes").status_code for _ in range(3)]
    other_address = client.get("/api/v1/changes", REMOTE_ADDR="203.0.113.9").status_code

    assert answers == [200, 200, 429]
    assert other_address == 200
    assert {client.get(ENDPOINT).status_code for _ in range(5)} == {200}


def test_a_past_moment_of_the_endpoint_counts_against_the_apis_throttle(client, chat, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"public_api": "2/minute"},
    }
    past = f"{ENDPOINT}?as_of=2030-01-01T12:00:00Z"

    answers = [client.get(past) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[2]["Retry-After"] == "60"
    assert answers[2].json()["detail"].startswith("Request was throttled.")
    assert client.get(ENDPOINT).status_code == 200


def test_a_throttle_in_redis_counts_for_every_process(client, chat, settings, redis_url):
    import redis

    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"{REDIS_KEY_PREFIX}:throttle",
        },
    }
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"public_api": "2/minute"},
    }
    key = caches["throttle"].make_key("throttle_public_api_127.0.0.1")
    shared = redis.Redis.from_url(redis_url)
    shared.delete(key)
    try:
        answers = [client.get("/api/v1/changes").status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        assert shared.exists(key)  # the count is in Redis, where every process reads it
    finally:
        shared.delete(key)


def test_a_failing_throttle_cache_lets_requests_through(
    client, chat, settings, caplog, monkeypatch
):
    monkeypatch.setattr(ClientAddressThrottle, "_failing", False)
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens: refused at once
        },
    }

    answers = [client.get("/api/v1/changes").status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    failures = [r for r in caplog.records if r.message.startswith("API throttle not counted")]
    assert len(failures) == 1  # an outage is logged once, not per request


def test_each_endpoint_is_documented_with_its_parameters(client):
    schema = client.get("/api/schema/?format=json").json()

    paths = schema["paths"]
    assert {name for name in paths if name.startswith("/api/v1/")} == {
        "/api/v1/models/{model_id}/prices", "/api/v1/prices", "/api/v1/prices/lookup",
        "/api/v1/changes", "/api/v1/changes.atom",
    }  # fmt: skip
    assert {p["name"] for p in paths["/api/v1/prices"]["get"]["parameters"]} == {"model", "at"}
    assert {p["name"] for p in paths["/api/v1/changes"]["get"]["parameters"]} == {"since", "limit"}
    assert (
        "examples"
        in paths["/api/v1/prices/lookup"]["post"]["requestBody"]["content"]["application/json"]
    )
    assert client.get("/api/docs/").status_code == 200


def test_a_kept_timeline_is_rendered_anew_at_an_announced_moment(client, clock, chat):
    schedule_prices(CHAT, M1, prompt="0.0000003")
    url = f"/api/v1/models/{CHAT}/prices"
    assert client.get(url).json()["spans"][-1]["upcoming"] is True

    clock.move_to(M1)

    assert client.get(url).json()["spans"][-1]["upcoming"] is False


@pytest.mark.parametrize("model_id", ["acme/\x00chat", "acme/\ud800"])
def test_an_id_no_model_can_have_is_an_unknown_model(client, clock, chat, model_id):
    clock.move_to(T0 + DAY)
    # As a client's JSON spells them: \u0000 and a lone \ud800 are valid JSON escapes.
    body = json.dumps({"lookups": [{"model": model_id, "at": "2030-01-01T13:00:00Z"}]})
    response = client.post("/api/v1/prices/lookup", body, content_type="application/json")

    assert response.json()["results"][0]["error"]["code"] == "unknown_model"


def test_an_id_with_a_nul_or_a_line_break_is_a_404(client, clock, chat):
    clock.move_to(T0 + DAY)

    single = client.get("/api/v1/prices", {"model": "acme/\x00", "at": "2030-01-01T13:00:00Z"})

    assert single.status_code == 404
    assert client.get("/api/v1/models/acme/\x00/prices").status_code == 404
    assert client.get("/api/v1/models/acme/chat%0A/prices").json()["parameter"] == "model"


def test_a_moment_out_of_range_in_utc_is_a_400(client, chat):
    answer = lookup(client, [{"model": CHAT, "at": "0001-01-01T00:00:00+05:00"}])

    assert (answer["status"], answer["parameter"]) == (400, "lookups[0].at")
