"""The one write path of the catalog: every change to its tables goes through a function here.

- ``served_models``: save a model with its offering (create or update), and its bulk twin for
  an import (``write_import``);
- ``publication``: publish, unpublish, set or clear a deprecation date, for many models at once;
- ``schedule``: schedule or cancel a price change.

Each runs in one transaction, leaves one history record per model it changed and lets the
revision announce itself once, after commit (``catalog.signals``). The admin, the importer and
the management commands call these; nothing else writes catalog tables (``rows`` is how the
actions write an offering's rows).
"""
