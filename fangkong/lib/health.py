"""Body temperatures as people type them, read the same way by every module (gate,
observation reports, arrival checks, self-declarations, census answers, and the modules to
come: duty health check-ins, clinic screening)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from .workflow import Invalid

TEMP_MIN, TEMP_MAX = Decimal("34.0"), Decimal("43.0")  # a body temperature lies in between


def body_temperature(raw, *, field: str = "temperature", required: bool = False) -> Decimal | None:
    """'36.5', '36，5' (a Chinese comma), '36,5' or 36.5 -> Decimal('36.5'), to 0.1 °C;
    blank -> None (an Invalid when `required`). Anything else, or outside 34–43 °C, is an
    Invalid naming `field`."""
    text = str(raw if raw is not None else "").strip().replace("，", ".").replace(",", ".")
    if not text and not required:
        return None
    try:
        temp = Decimal(text).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError, TypeError):
        raise Invalid({field: _("Enter the temperature in °C, e.g. 36.5")}) from None
    if not temp.is_finite() or not TEMP_MIN <= temp <= TEMP_MAX:
        raise Invalid({field: _("A body temperature lies between 34 and 43 °C")})
    return temp
