"""Content negotiation on the Accept header (RFC 9110 §12.5.1): which of the media types a route
offers the client takes, or a 406 problem naming what is on offer."""

from services.common.errors import Problem


def _ranges(accept: str) -> list[tuple[str, float]]:
    """`(media range, q)` in the client's order; an unreadable q is 0 (not wanted), never an error."""
    ranges = []
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        if not media:
            continue
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower(), q))
    return ranges


def _match(offered: str, ranges: list[tuple[str, float]]) -> tuple[float, int, int] | None:
    """(q, specificity, -position) of the most specific range that covers `offered`: a client's
    exact type beats its `text/*`, which beats its `*/*`."""
    kind = offered.split("/")[0]
    best = None
    for position, (media, q) in enumerate(ranges):
        specificity = 2 if media == offered else 1 if media == f"{kind}/*" else 0 if media == "*/*" else None
        if specificity is not None and (best is None or specificity > best[1]):
            best = (q, specificity, -position)
    return best


def negotiate(accept: str | None, offered: list[str]) -> str:
    """The offered type the client prefers; the first offered when it says nothing. Equal q: the
    more specific range, then the one the client listed first, then the route's order."""
    if not accept or not accept.strip():
        return offered[0]
    ranges = _ranges(accept)
    scored = [(match, -index, media) for index, media in enumerate(offered)
              if (match := _match(media, ranges)) is not None and match[0] > 0]
    if not scored:
        raise Problem(406, "Not Acceptable", f"this resource is offered as {', '.join(offered)}", field="Accept")
    return max(scored)[2]
