"""Access tokens: RS256 JWTs shaped like Entra's app-only tokens for Graph.

Only the claims a client or the simulator reads are produced: `aud`, `iss`, `iat`,
`nbf`, `exp`, `tid`, `appid`/`azp`, `oid`, `roles` (omitted when nothing is granted,
as Entra does), `idtyp`, `ver`.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenError(Exception):
    """The token cannot be accepted; the message is the one Graph would send."""


@dataclass(frozen=True)
class TokenSigner:
    key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def create(cls) -> TokenSigner:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), uuid.uuid4().hex)

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def verify(self, token: str) -> dict:
        """Return the claims of a token this signer issued; raise TokenError otherwise."""
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            self.key.public_key().verify(
                _b64url_decode(signature_b64),
                f"{header_b64}.{claims_b64}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            return json.loads(_b64url_decode(claims_b64))
        except (ValueError, InvalidSignature) as exc:
            raise TokenError("Invalid JWT token. The token is malformed or its signature is invalid.") from exc

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()

        def b64_int(value: int) -> str:
            return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {
            "keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "n": b64_int(numbers.n), "e": b64_int(numbers.e)}]
        }


def unverified_claims(token: str) -> dict:
    """Decode a JWT's claims without checking it: for diagnostics only."""
    return json.loads(_b64url_decode(token.split(".")[1]))
