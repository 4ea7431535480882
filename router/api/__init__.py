"""The price API (issue 21): the catalog's prices over time, public and read-only.

``/api/v1/``: each model's price timeline, the prices in force at moments (for billing), the
feed of public changes (JSON and Atom); and ``?as_of=`` on the OpenRouter endpoint, the
catalog as it was served at a past moment. What is public, and the one rule of the prices in
force at a moment, are the catalog's (``catalog.timeline``, ``catalog.changes``); this package
parses, caches and renders.
"""
