"""The one way the app draws a QR code: inline SVG made on the server (no script, no image request).

The notice-board poster, the resident's rating link and the leaders' activation slips all print theirs with
`qr_svg`; its target is always an absolute address from urls.public_url.
"""

from __future__ import annotations

import re

from markupsafe import Markup


def qr_svg(url: str, label: str) -> Markup:
    """A QR code of `url` as inline SVG, labelled for screen readers; sized by the stylesheet (svg.qr)."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    svg = qrcode.make(url, image_factory=SvgPathImage, border=2).to_string(encoding="unicode")
    # The size comes from the stylesheet (.qr); the fixed millimetres qrcode writes would not scale.
    svg = re.sub(r'^<svg width="[^"]*" height="[^"]*"', "<svg", svg)
    svg = svg.replace("<svg", f'<svg class="qr" role="img" aria-label="{Markup.escape(label)}"', 1)
    return Markup(svg)
