"""The staff side of the catalog (../shared/docs/PRODUCT.md, "Staff editing"), one page per room.

Editors change the catalog; viewers (the "Catalog viewers" group, view permission only) see the
same pages read-only. Prices appear per million tokens everywhere staff see them, the change
history included: each model's history page, and "Recent changes" across the catalog.

``served_models`` the list and edit pages of served models and their bulk actions,
``datacenters`` the datacenters, ``history`` how changes read (both history pages) and the
"Recent changes" page, ``schedules`` scheduled price changes (the list, scheduling, cancelling).
"""

from catalog.admin import datacenters, history, schedules, served_models

__all__ = ["datacenters", "history", "schedules", "served_models"]
