"""The wire formats the catalog is published and imported in, one package per format.

A format knows its field names, how a served model becomes a record (encode), how a file
becomes unsaved models (decode, with JSON-level strictness), what differs between two records
(diff), and how its contract is documented (schema). The rules that make a model valid live in
the model (``catalog.validators``, ``ServedModel.clean()``), not here; reading bytes from a file
or URL lives in ``catalog.sources``; planning and writing an import in ``catalog.importer``.

Shared by every format: ``problems`` (how bad input is reported) and ``strict_json`` (JSON read
strictly: UTF-8, no repeated keys, no NaN). ``flat`` is OpenRouter's flat model list, the
format the endpoint serves.
"""
