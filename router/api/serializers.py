"""The API's shapes, written down for its OpenAPI description (``/api/schema/``).

The bodies themselves are built by ``router.api.representation`` (a batch of 1,000 lookups
cannot afford a serializer per item); tests/test_api.py checks the bodies against these.
"""

from __future__ import annotations

from rest_framework import serializers


class PriceSerializer(serializers.Serializer):
    scope = serializers.CharField(help_text="input/<kind>, output/<kind>, or request.")
    type = serializers.CharField(help_text="The typed format's price type, e.g. prompt.")
    unit = serializers.CharField(help_text="token, image, request, …")
    cost_usd = serializers.CharField(help_text="USD per unit, a decimal string.")
    ttl_seconds = serializers.IntegerField(required=False)
    implicit = serializers.BooleanField(required=False)
    utc_start = serializers.IntegerField(required=False, help_text="HHMM, UTC.")
    utc_end = serializers.IntegerField(required=False, help_text="HHMM, UTC.")
    overrides = serializers.ListField(child=serializers.DictField(), required=False)


class FlatPricesSerializer(serializers.Serializer):
    prompt = serializers.CharField()
    completion = serializers.CharField()
    image = serializers.CharField()
    request = serializers.CharField()
    input_cache_read = serializers.CharField()


class SpanSerializer(serializers.Serializer):
    # "from" is a keyword: declared below.
    until = serializers.DateTimeField(allow_null=True, help_text="null: open.")
    upcoming = serializers.BooleanField(help_text="An announced change not yet in force.")
    prices = PriceSerializer(many=True)
    flat = FlatPricesSerializer()

    def get_fields(self):
        fields = super().get_fields()
        return {"from": serializers.DateTimeField(), **fields}


class TimelineSerializer(serializers.Serializer):
    model = serializers.CharField()
    spans = SpanSerializer(many=True)


class PricesAtSerializer(serializers.Serializer):
    model = serializers.CharField()
    at = serializers.DateTimeField()
    prices = PriceSerializer(many=True)
    flat = FlatPricesSerializer()


class LookupSerializer(serializers.Serializer):
    model = serializers.CharField()
    at = serializers.DateTimeField(help_text="ISO 8601 with a time zone.")


class LookupRequestSerializer(serializers.Serializer):
    lookups = LookupSerializer(many=True, help_text="At most 1,000.")


class ItemErrorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=["unknown_model", "before_first_record", "not_public", "future"]
    )
    detail = serializers.CharField()


class LookupResultSerializer(serializers.Serializer):
    model = serializers.CharField()
    at = serializers.DateTimeField()
    prices = PriceSerializer(many=True, required=False)
    flat = FlatPricesSerializer(required=False)
    error = ItemErrorSerializer(required=False)


class LookupResultsSerializer(serializers.Serializer):
    results = LookupResultSerializer(many=True, help_text="In the order of the lookups.")


class PriceChangeSerializer(serializers.Serializer):
    scope = serializers.CharField()
    type = serializers.CharField()
    unit = serializers.CharField()
    old = serializers.DictField(allow_null=True, help_text='{"cost_usd": …}; null: none.')
    new = serializers.DictField(allow_null=True, help_text='{"cost_usd": …}; null: none.')


class ChangeSerializer(serializers.Serializer):
    cursor = serializers.CharField(help_text="Resume after this item: ?since=<cursor>.")
    at = serializers.DateTimeField()
    kind = serializers.CharField(
        help_text="published, unpublished, renamed, price_changed, deprecation_set, "
        "deprecation_moved, change_scheduled, change_amended, change_cancelled, change_effective."
    )
    model = serializers.CharField()
    name = serializers.CharField(required=False)
    field = serializers.CharField(required=False, help_text="renamed: id or name.")
    old = serializers.CharField(required=False, allow_null=True)
    new = serializers.CharField(required=False, allow_null=True)
    effective_at = serializers.DateTimeField(required=False)
    changes = PriceChangeSerializer(many=True, required=False)


class ChangesSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="The cursor to ask from next.")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    parameter = serializers.CharField(required=False)
    code = serializers.CharField(required=False)
    renamed_to = serializers.CharField(
        required=False, help_text="code renamed: the id the model has now."
    )
