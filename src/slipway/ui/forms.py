"""Reading the UI's HTML forms (urlencoded bodies) and answering a POST with a redirect.

Parsed by hand with the standard library, so `slipway server` needs no form library. A
form posted from another site's page (its `Origin` is not this server) is refused: a
page elsewhere must not be able to move an alias or delete runs through a visitor's
browser.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import Depends, Request
from starlette.responses import RedirectResponse

from slipway.errors import BadRequest, InvalidParameterValue, PermissionDenied

MAX_FORM_BYTES = 1_000_000


class FormFields:
    """The fields of a submitted form; repeated names (checkboxes) keep every value."""

    def __init__(self, data: dict[str, list[str]]) -> None:
        self._data = data

    def get(self, name: str, default: str = "") -> str:
        values = self._data.get(name)
        return values[0].strip() if values else default

    def required(self, name: str, label: str | None = None) -> str:
        value = self.get(name)
        if not value:
            raise InvalidParameterValue(f"Fill in {label or name}.")
        return value

    def getlist(self, name: str) -> list[str]:
        return [v for v in self._data.get(name, []) if v]

    def lines(self, name: str) -> list[str]:
        """A textarea's non-empty lines."""
        return [line.strip() for line in self.get(name).splitlines() if line.strip()]


def check_same_origin(request: Request) -> None:
    """Refuse a cross-site form post (browsers send `Origin` with every POST)."""
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        raise PermissionDenied(
            f"This form was posted from another site ({origin}); "
            "open the slipway page and submit it from there."
        )


async def form_fields(request: Request) -> FormFields:
    check_same_origin(request)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadRequest("The form is too large.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The form is not UTF-8 text.") from None
    return FormFields(parse_qs(text, keep_blank_values=True))


Form = Annotated[FormFields, Depends(form_fields)]


def local_url(url: str, default: str = "/") -> str:
    """`url` if it is a path on this server (never another site), else `default`."""
    if url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return default


def redirect(url: str, **message: str) -> RedirectResponse:
    """303 to `url` (a local path), with a one-line message shown at the top of that page."""
    target = local_url(url)
    if message:
        target += ("&" if "?" in target else "?") + urlencode(message)
    return RedirectResponse(target, status_code=303)


__all__ = ["Form", "FormFields", "check_same_origin", "form_fields", "local_url", "redirect"]
