"""Which JSON media type a client accepts (GraphQL over HTTP, "Accept").

`application/graphql-response+json` lets status codes say what happened (a request the server
refused before running it is 4xx, without `data`); `application/json` is the legacy type, where
every well-formed request is answered 200. A client gets the new type only when it names it (a
wildcard means the legacy type, as the spec asks), and the legacy type when it names neither."""

from __future__ import annotations

from collections.abc import Mapping

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
JSON_TYPES = (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON)


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value.strip())))
            except ValueError:
                return 0.0
    return 1.0


def preferred_media_type(accept: str | None) -> str:
    """GRAPHQL_RESPONSE_JSON when the Accept header names it with at least the weight it gives
    application/json, else APPLICATION_JSON (also when it accepts neither: the spec lets the
    server disregard the header and answer in the default type)."""
    if not accept:
        return APPLICATION_JSON
    exact: dict[str, float] = {}
    for part in accept.split(","):
        media_range, *params = part.split(";")
        media_range = media_range.strip().lower()
        if media_range in JSON_TYPES:
            exact[media_range] = max(exact.get(media_range, 0.0), _quality(params))
    new = exact.get(GRAPHQL_RESPONSE_JSON, 0.0)
    if new > 0 and new >= exact.get(APPLICATION_JSON, 0.0):
        return GRAPHQL_RESPONSE_JSON
    return APPLICATION_JSON


def media_type_of(headers: Mapping[str, str]) -> str:
    return preferred_media_type(headers.get("accept"))
