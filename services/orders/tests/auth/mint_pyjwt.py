"""Mints test tokens with PyJWT (an implementation independent of the server's): an RSA and a
P-256 key of our own, their JWKS written to argv[1], the named tokens printed as JSON."""
import base64
import hashlib
import hmac
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISS, AUD = "https://idp.example.test/pool-1", "orders-api"
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_key = ec.generate_private_key(ec.SECP256R1())
impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)

rsa_jwk = RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True) | {"kid": "rsa-1", "alg": "RS256", "use": "sig"}
ec_jwk = ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True) | {"kid": "ec-1", "alg": "ES256", "use": "sig"}
jwks = {"keys": [rsa_jwk, ec_jwk]}
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump(jwks, f)

now = int(time.time())


def claims(**over):
    c = {"iss": ISS, "aud": AUD, "sub": "py-1", "email": "py@example.com", "iat": now, "exp": now + 600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


tokens = {
    "rs256_customer": jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "rsa-1"}),
    "es256_admin": jwt.encode(
        claims(sub="py-ops", email=None, **{"cognito:groups": ["admin"]}), ec_key, "ES256", headers={"kid": "ec-1"}
    ),
    "es256_other": jwt.encode(claims(sub="py-2", email=None), ec_key, "ES256", headers={"kid": "ec-1"}),
    "expired": jwt.encode(claims(exp=now - 3600), rsa_key, "RS256", headers={"kid": "rsa-1"}),
    "wrong_audience": jwt.encode(claims(aud="another-api"), rsa_key, "RS256", headers={"kid": "rsa-1"}),
    "wrong_issuer": jwt.encode(claims(iss="https://evil.example"), rsa_key, "RS256", headers={"kid": "rsa-1"}),
    "impostor_key": jwt.encode(claims(), impostor, "RS256", headers={"kid": "rsa-1"}),
    "rs256_on_the_ec_kid": jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "ec-1"}),
    "unknown_kid": jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "rsa-2"}),
}


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# Algorithm confusion, built by hand (PyJWT rightly refuses an asymmetric key as an HMAC secret):
# HS256 keyed with the public JWK, which anyone can read.
message = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode()) + "." + b64(json.dumps(claims()).encode())
mac = hmac.new(json.dumps(rsa_jwk).encode(), message.encode(), hashlib.sha256).digest()
tokens["hs256_with_the_jwks"] = message + "." + b64(mac)
print(json.dumps({"iss": ISS, "aud": AUD, "tokens": tokens}))
