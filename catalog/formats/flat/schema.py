"""The flat format's contract as OpenAPI documentation.

The contract is ../shared/spec/openrouter-models.openapi.yaml. These serializers document the
response; they never render it (``encode`` does, from the keys in ``names``, and a test holds
the two together). Labels are the contract's titles and a class docstring becomes its
component's description, so only ``PricingSerializer`` has one; ``router.openapi`` spells the
result the way the contract does.
"""

from rest_framework import serializers

from catalog.choices import Feature, Quantization, SamplingParameter


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


class RouterOpenRouterModelsResSerializer(serializers.Serializer):
    # The contract's key is "data", which a DRF serializer also has, as the property holding
    # its output; this serializer only documents, so that property is never read.
    data = RouterOpenRouterModelSerializer(many=True, label="Data")  # type: ignore[assignment]
