"""OpenRouter's typed provider format (``schema_version`` 2.4).

``openrouter-provider-2.4.openapi.json`` is the official OpenAPI document, checked in byte for
byte (a test holds it identical to ../shared/spec); ``schema`` validates JSON values against
its components. The typed encoder and decoder come with issue 14.
"""
