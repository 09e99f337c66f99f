"""Forging tokens, as an attacker would."""


def tamper(token: str) -> str:
    """Change one character in the middle of the signature.

    (The last character of base64 carries padding bits, so changing it may
    change nothing at all.)
    """
    head, signature = token.rsplit(".", 1)
    middle = len(signature) // 2
    swapped = "B" if signature[middle] == "A" else "A"
    return f"{head}.{signature[:middle]}{swapped}{signature[middle + 1 :]}"
