"""Whether 32 bytes are an Ed25519 public key: a canonical encoding of a point of the prime-order subgroup.

Pure Python (a modular square root and a multiplication by the group order
in extended coordinates, RFC 8032 5.1.4: about a millisecond), so that
storing keys needs no crypto library beyond what cfxstore requires;
verifying signatures is the router's (PyNaCl, with Crossbar). It accepts
what libsodium's ``crypto_core_ed25519_is_valid_point`` accepts (the tests
compare the two). Every public key is such a point and few random 32-byte
strings are (about one in sixteen), so this also catches a private key
seed given as a public key.
"""

from __future__ import annotations

__all__ = ["is_public_key"]

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493  # the order of the prime-order subgroup
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z
_IDENTITY: Point = (0, 1, 1, 0)


def _decode(raw: bytes) -> Point | None:
    """The point raw encodes (RFC 8032, 5.1.3), or None if it encodes none canonically."""
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
        if (x * x - x2) % _P:
            return None
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y, 1, x * y % _P


def _add(a: Point, b: Point) -> Point:
    """The sum of two points (RFC 8032's complete addition law in extended coordinates)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    e, h = ((y1 - x1) * (y2 - x2)) % _P, ((y1 + x1) * (y2 + x2)) % _P
    c, d = 2 * _D * t1 * t2 % _P, 2 * z1 * z2 % _P
    e, f, g, h = h - e, d - c, d + c, h + e
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _is_identity(p: Point) -> bool:
    x, y, z, _ = p
    return x % _P == 0 and (y - z) % _P == 0


def _times_order(p: Point) -> Point:
    result = _IDENTITY
    for bit in bin(_L)[2:]:
        result = _add(result, result)
        if bit == "1":
            result = _add(result, p)
    return result


def is_public_key(raw: bytes) -> bool:
    """Whether raw (32 bytes) canonically encodes a point of the prime-order subgroup other than the identity."""
    point = _decode(raw) if len(raw) == 32 else None
    return point is not None and not _is_identity(point) and _is_identity(_times_order(point))
