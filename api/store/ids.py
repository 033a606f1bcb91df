"""Moved to api.graphql.ids: global IDs belong to the GraphQL edge, and the store no longer
encodes or decodes them (it takes and returns ints and names).

Kept only so the GraphQL modules still importing it from here (api/graphql/types/*, queries.py,
compiled/values.py, rewritten on another branch) keep working until they import
api.graphql.ids; nothing in api/store imports it. Delete it once they do.
"""

from api.graphql.ids import (  # noqa: F401
    GLOBAL_TYPES,
    MAX_KEY,
    from_global_id,
    int_id_of,
    int_key,
    to_global_id,
)
