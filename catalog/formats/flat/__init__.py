"""OpenRouter's flat model list: ``{"data": [record, ...]}``, the format the endpoint serves.

``names`` the keys and their model fields, ``encode`` a served model to a record and records to
the exact bytes served, ``decode`` a file to unsaved models, ``diff`` what differs between two
records, ``offering`` the flat fields of a model's rows, ``published`` the published catalog now
and at a past moment, ``schema`` the contract as OpenAPI documentation
(../shared/spec/openrouter-models.openapi.yaml).
"""
