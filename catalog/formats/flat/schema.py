"""The flat format's contract as OpenAPI documentation.

The contract is ../shared/spec/openrouter-models.openapi.yaml. These serializers document the
response; they never render it (``encode`` does, from the keys in ``names``, and a test holds
the two together). Labels are the contract's titles and a class docstring becomes its
component's description, so only ``PricingSerializer`` has one; ``router.openapi`` spells the
result the way the contract does.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.choices import Feature, Quantization, SamplingParameter
from catalog.formats.flat.names import PRICING_KEYS

# The current revision (../shared/docs/CONTRACTS.md section 1): its conditional prices.
_PRICES = {key: {"type": "string", "title": key.replace("_", " ").title()} for key in PRICING_KEYS}
TIER_SCHEMA = {
    "type": "object",
    "title": "Tier",
    "description": "Palier de contexte long : s’applique quand le prompt dépasse strictement "
    "min_prompt_tokens tokens ; les prix omis sont ceux de base.",
    "properties": {
        "min_prompt_tokens": {"type": "integer", "minimum": 0, "title": "Min Prompt Tokens"},
        **_PRICES,
    },
    "required": ["min_prompt_tokens"],
    "additionalProperties": False,
}
_CLOCK = {"type": "integer", "minimum": 0, "maximum": 2359}
WINDOW_SCHEMA = {
    "type": "object",
    "title": "Window",
    "description": "Plage horaire UTC [utc_start, utc_end), écrite HHMM, qui peut passer "
    "minuit ; toutes les plages d’un modèle ont les mêmes prix.",
    "properties": {
        "utc_start": {**_CLOCK, "title": "Utc Start"},
        "utc_end": {**_CLOCK, "title": "Utc End"},
        **_PRICES,
    },
    "required": ["utc_start", "utc_end"],
    "additionalProperties": False,
}


@extend_schema_field(
    {"type": "array", "maxItems": 2, "items": {"oneOf": [TIER_SCHEMA, WINDOW_SCHEMA]}}
)
class _OverridesField(serializers.JSONField):
    pass


@extend_schema_field({"type": "number", "exclusiveMaximum": 1})
class _DiscountField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "type": "object",
        "properties": {"slug": {"type": "string", "minLength": 1, "title": "Slug"}},
        "required": ["slug"],
        "additionalProperties": False,
    }
)
class _OpenRouterField(serializers.JSONField):
    pass


class PricingSerializer(serializers.Serializer):
    """Toutes les valeurs de tarification sont exprimées en USD par token.

    Les champs de tarification sont au format chaîne afin d’éviter les problèmes de précision
    des nombres à virgule flottante.
    """

    prompt = serializers.CharField(label="Prompt")
    completion = serializers.CharField(label="Completion")
    image = serializers.CharField(label="Image")
    request = serializers.CharField(label="Request")
    input_cache_read = serializers.CharField(label="Input Cache Read")
    overrides = _OverridesField(
        required=False,
        label="Overrides",
        help_text="Prix conditionnels : au plus 2 paliers de contexte long, ou au plus 2 plages "
        "horaires, jamais les deux. Omis s’il n’y en a pas.",
    )


class DatacenterSerializer(serializers.Serializer):
    country_code = serializers.CharField(label="Country Code")


class RouterOpenRouterModelSerializer(serializers.Serializer):
    id = serializers.CharField(label="Id")
    hugging_face_id = serializers.CharField(label="Hugging Face Id")
    name = serializers.CharField(label="Name")
    created = serializers.IntegerField(label="Created")
    input_modalities = serializers.ListField(
        child=serializers.CharField(), label="Input Modalities"
    )
    output_modalities = serializers.ListField(
        child=serializers.CharField(), label="Output Modalities"
    )
    quantization = serializers.ChoiceField(choices=Quantization.values, label="Quantization")
    context_length = serializers.IntegerField(label="Context Length")
    max_output_length = serializers.IntegerField(label="Max Output Length")
    pricing = PricingSerializer()
    supported_sampling_parameters = serializers.ListField(
        child=serializers.ChoiceField(choices=SamplingParameter.values),
        label="Supported Sampling Parameters",
    )
    supported_features = serializers.ListField(
        child=serializers.ChoiceField(choices=Feature.values), label="Supported Features"
    )
    datacenters = DatacenterSerializer(many=True, label="Datacenters")
    deprecation_date = serializers.CharField(
        required=False,
        allow_null=True,
        label="Deprecation Date",
        help_text="Date d’obsolescence du modèle (AAAA-MM-JJ). Omise de la sortie si elle "
        "n’est pas définie.",
    )
    # The current revision's optional fields, each omitted when unset or at its default.
    description = serializers.CharField(
        required=False, label="Description", help_text="Texte libre. Omis s’il est vide."
    )
    is_ready = serializers.BooleanField(
        required=False,
        label="Is Ready",
        help_text="false : le modèle reste en attente, caché sur OpenRouter. Omis s’il est prêt.",
    )
    is_free = serializers.BooleanField(
        required=False,
        label="Is Free",
        help_text="true : variante gratuite (OpenRouter ignore ses prix). Omis sinon.",
    )
    discount_to_user = _DiscountField(
        required=False,
        label="Discount To User",
        help_text="Nombre JSON inférieur à 1 : prix utilisateur = prix × (1 − remise) ; négatif, "
        "une majoration. Omis s’il n’y en a pas.",
    )
    capacity_tpm = serializers.IntegerField(
        required=False,
        min_value=1,
        label="Capacity Tpm",
        help_text="Tokens d’entrée par minute que le fournisseur peut prendre. Omis s’il est "
        "inconnu.",
    )
    openrouter = _OpenRouterField(
        required=False,
        label="Openrouter",
        help_text="Le modèle d’OpenRouter auquel celui-ci correspond. Omis s’il est inconnu.",
    )


class RouterOpenRouterModelsResSerializer(serializers.Serializer):
    # The contract's key is "data", which a DRF serializer also has, as the property holding
    # its output; this serializer only documents, so that property is never read.
    data = RouterOpenRouterModelSerializer(many=True, label="Data")  # type: ignore[assignment]
