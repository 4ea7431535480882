"""OpenRouter's typed provider format (``schema_version`` 2.4).

``openrouter-provider-2.4.openapi.json`` is the official OpenAPI document, checked in byte for
byte (a test holds it identical to ../shared/spec); ``schema`` validates JSON values against
its components; ``encode`` turns a model into one document and documents into the bytes
served, ``published`` reads the published catalog for it, now and at a past moment (the
endpoint's ``?schema_version=2.4``, ``export_models --schema-version 2.4``, with ``--as-of``),
and ``decode`` reads a file of documents into unsaved models and offerings for
``import_models``.
"""
