"""The wire formats the catalog is published and imported in, one package per format.

A format knows its field names, how a served model becomes a record (encode), how a file
becomes unsaved models (decode, with JSON-level strictness), what differs between two records
(diff), how its contract is documented (schema), and how the published catalog is read in it,
now and at a past moment (published). The rules that make a model valid live in the model
(``catalog.validators``, ``ServedModel.clean()``) and its offering (``Offering.problems()``),
not here; reading bytes from a file or URL lives in ``catalog.sources``; planning an import in
``catalog.importer``, writing it in ``catalog.actions``.

Shared by every format: ``problems`` (how bad input is reported), ``strict_json`` (JSON read
strictly: UTF-8, no repeated keys, no NaN), ``json_text`` (JSON written exactly) and
``published`` (what each format's published reader reads: the snapshot, the price rows, the
history records of a moment). ``registry`` is the one place that chooses a format, by name or
by what a file holds. ``flat`` is OpenRouter's flat model list, the format the endpoint serves;
``typed`` its typed documents.
"""
