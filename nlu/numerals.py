"""Chinese and Arabic numerals to numbers (一百二十万 -> 1200000, 两千五 -> 2500, 1,200.5 -> 1200.5)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
          "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
          "九": 9, "玖": 9}
SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG_UNITS = {"万": 10**4, "萬": 10**4, "亿": 10**8}
CHINESE_NUMERAL_CHARS = "".join(DIGITS) + "".join(SMALL_UNITS) + "".join(BIG_UNITS) + "点"


def chinese_integer(text: str) -> int | None:
    """The value of a Chinese integer numeral, or None when ``text`` is not one."""
    if not text or any(ch not in DIGITS and ch not in SMALL_UNITS and ch not in BIG_UNITS for ch in text):
        return None
    if all(ch in DIGITS for ch in text):  # 二〇二六: read digit by digit
        return int("".join(str(DIGITS[ch]) for ch in text))
    total = section = number = 0
    last_unit = 1
    after_unit = False
    for ch in text:
        if ch in DIGITS:
            number = DIGITS[ch]
            after_unit = False
            if number == 0:
                last_unit = 1
        elif ch in SMALL_UNITS:
            unit = SMALL_UNITS[ch]
            section += (number or 1) * unit
            number, last_unit, after_unit = 0, unit, True
        else:
            big = BIG_UNITS[ch]
            section += number
            if big == 10**8:
                total = (total + section) * big
            else:
                total += section * big
            section = number = 0
            last_unit, after_unit = big, True
    if number and not after_unit and last_unit > 1 and text[-2] not in DIGITS:
        number *= last_unit // 10  # colloquial 两千五 = 2500, 一万五 = 15000
    return total + section + number


def to_decimal(text: str) -> Decimal | None:
    """An Arabic (1,200.5) or Chinese (一点五, 一百二十万) numeral as a Decimal, or None."""
    cleaned = text.replace(",", "").replace("，", "").strip()
    if not cleaned:
        return None
    if cleaned[0].isdigit():
        try:
            return Decimal(cleaned)
        except InvalidOperation:
            return None
    if "点" in cleaned and cleaned[-1] in BIG_UNITS:  # 一点五亿
        head = to_decimal(cleaned[:-1])
        return None if head is None else head * BIG_UNITS[cleaned[-1]]
    if "点" in cleaned:
        whole, _, frac = cleaned.partition("点")
        whole_value = chinese_integer(whole) if whole else 0
        if whole_value is None or not frac or any(ch not in DIGITS for ch in frac):
            return None
        return Decimal(f"{whole_value}.{''.join(str(DIGITS[ch]) for ch in frac)}")
    value = chinese_integer(cleaned)
    return None if value is None else Decimal(value)


def plain(value: Decimal) -> str:
    """A Decimal as a plain number string without exponent or trailing zeros (1.50E+8 -> 150000000)."""
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")
