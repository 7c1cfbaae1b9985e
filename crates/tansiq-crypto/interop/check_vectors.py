#!/usr/bin/env python3
"""Independent check of docs/CRYPTO.md §11 test vectors.

Written from docs/CRYPTO.md alone, using only primitive operations of the
`cryptography` package (Ed25519, X25519, HKDF, ChaCha20-Poly1305) plus
hashlib; HPKE (RFC 9180) and HChaCha20 are implemented here. Run:

    python3 crates/tansiq-crypto/interop/check_vectors.py

Exits non-zero on the first mismatch.
"""
import base64
import hashlib
import hmac
import json
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sha256(b):
    return hashlib.sha256(b).digest()


def check(name, got, want):
    if got != want:
        print(f"MISMATCH {name}:\n  got  {got!r}\n  want {want!r}")
        sys.exit(1)
    print(f"ok  {name}")


# --- §3 JCS (enough for the vector: no floats needing ES6 subtleties) ---
def jcs(v):
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(x) for k, x in items) + "}"
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, int):
        return str(v)
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


# --- §4 node id ---
def node_id(pk):
    d = sha256(b"tansiq/node-id/v1\x00" + pk)[:10]
    return "tq" + base64.b32encode(d).decode().lower()


seed = bytes(range(32))
xsecret = bytes(range(0x20, 0x40))
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(*RAW)
xsk = X25519PrivateKey.from_private_bytes(xsecret)
xpk = xsk.public_key().public_bytes(*RAW)
check("ed25519 public", pk.hex(), "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
check("x25519 public", xpk.hex(), "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254")
check("node id", node_id(pk), "tqk2uygn5htg6mh6p5")

# --- §5 signature ---
canon = jcs({"b": [1, "x"], "a": True, "é": 0.5}).encode()
check("jcs", canon.decode(), '{"a":true,"b":[1,"x"],"é":0.5}')
sig = sk.sign(b"tansiq/example/v1" + b"\x00" + canon)
check("json signature", b64(sig), "O5dPcDLIhGHRCQ1FG06xSnIJZ1bAa0eBjMeTw_Th9-nQc_RDpY7d21WZoF0_nBBGx7ZEdsY3WRBv5to6zpIcCw")

# --- §9 token ---
tok = "tqk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
check("token hash", sha256(b"tansiq/api-token/v1\x00" + tok.encode()).hex(),
      "3348b5d34b4358ebd2ae07cd97e00137dfc3da203f0bf0f913aa4ca2fddda40b")


# --- §6 Merkle ---
def leaf(d):
    return sha256(b"\x00" + d)


def mth(hs):
    if not hs:
        return sha256(b"")
    if len(hs) == 1:
        return hs[0]
    k = 1
    while k * 2 < len(hs):
        k *= 2
    return sha256(b"\x01" + mth(hs[:k]) + mth(hs[k:]))


root = mth([leaf(b"a"), leaf(b"b"), leaf(b"c")])
check("merkle root", root.hex(), "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1")

# --- §7 checkpoint note and cosignature ---
name = "tansiq.example/audit"
body = f"{name}\n3\n{base64.b64encode(root).decode()}\n"
kid = sha256(name.encode() + b"\n\x01" + pk)[:4]
note = body + "\n" + "\u2014 " + name + " " + base64.b64encode(kid + sk.sign(body.encode())).decode() + "\n"
check("checkpoint note", note,
      "tansiq.example/audit\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n\n"
      "\u2014 tansiq.example/audit S1GvpehKCYLll9VXFz/aEClv1guu3WO8DdVKsdfcFr+6cjDxVD0tdGdLlhzaw4Nrb9GfhMwrrUEjtWa/tWp1A6fgigA=\n")
vkey_material = base64.b64encode(bytes([1]) + pk).decode()
check("verifier key", f"{name}+{kid.hex()}+{vkey_material}",
      "tansiq.example/audit+4b51afa5+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4")
wsk = Ed25519PrivateKey.from_private_bytes(bytes(range(0x40, 0x60)))
wpk = wsk.public_key().public_bytes(*RAW)
wname = "witness.example/w1"
t = 1700000000
msg = f"cosignature/v1\ntime {t}\n{body}".encode()
wkid = sha256(wname.encode() + b"\n\x04" + wpk)[:4]
line = "\u2014 " + wname + " " + base64.b64encode(wkid + struct.pack(">Q", t) + wsk.sign(msg)).decode() + "\n"
check("cosignature", line,
      "\u2014 witness.example/w1 tyurLgAAAABlU/EAM9UN9iBPbz74hcAI0uDOaenHdAk02TiossRvD9SzwnN2ZFVZC9/iOW4dkAxo7Z3mJriOxb2HEaVQIpx9FbvbDg==\n")


# --- §8 sealing: HPKE base mode open (RFC 9180), then the payload ---
def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def labeled_extract(suite, salt, label, ikm):
    return hkdf_extract(salt, b"HPKE-v1" + suite + label + ikm)


def labeled_expand(suite, prk, label, info, n):
    return hkdf_expand(prk, struct.pack(">H", n) + b"HPKE-v1" + suite + label + info, n)


def hpke_open_base(sk_r, pk_r, enc, info, aad, ct):
    kem_suite = b"KEM" + struct.pack(">H", 0x0020)
    dh = sk_r.exchange(X25519PublicKey.from_public_bytes(enc))
    eae_prk = labeled_extract(kem_suite, b"", b"eae_prk", dh)
    shared = labeled_expand(kem_suite, eae_prk, b"shared_secret", enc + pk_r, 32)
    suite = b"HPKE" + struct.pack(">HHH", 0x0020, 0x0001, 0x0003)
    psk_id_hash = labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = labeled_extract(suite, b"", b"info_hash", info)
    ctx = b"\x00" + psk_id_hash + info_hash
    secret = labeled_extract(suite, shared, b"secret", b"")
    key = labeled_expand(suite, secret, b"key", ctx, 32)
    nonce = labeled_expand(suite, secret, b"base_nonce", ctx, 12)
    return ChaCha20Poly1305(key).decrypt(nonce, ct, aad)


def hchacha20(key, nonce16):
    def rotl(v, c):
        return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))

    def qr(s, a, b, c, d):
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
        s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
        s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)

    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        qr(s, 0, 4, 8, 12); qr(s, 1, 5, 9, 13); qr(s, 2, 6, 10, 14); qr(s, 3, 7, 11, 15)
        qr(s, 0, 5, 10, 15); qr(s, 1, 6, 11, 12); qr(s, 2, 7, 8, 13); qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_decrypt(key, nonce24, ct, aad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).decrypt(b"\x00" * 4 + nonce24[16:], ct, aad)


sealed = json.loads('{"wrapped":[{"recipient":"tqk2uygn5htg6mh6p5","enc":"BFFS7W0dM-H8v7HZZ7GwtBh8eYEGSavnG9zqPqrYJw0","ct":"37imlkJyXAys6XYRu4gIDHW0BLpZUFb4rngqTKnDq4jaiUaZlRnj6zm4W-sscM8g"}],"nonce":"ED9-6yAOx4y8Q0D1KKXVM0dr47V7Htnh","ciphertext":"lDXo36lJPrhQCu_l3qkY0D5gc9M_c1H01eoO2rF2m898GRHcIMwnFV4VA9EdfpFfg0_pp7ov7DeI_VmIAA"}')
aad = b"tansiq/example-header"
me = node_id(pk)
w = [x for x in sealed["wrapped"] if x["recipient"] == me][0]
rid = me.encode()
K = hpke_open_base(xsk, xpk, unb64(w["enc"]), b"tansiq/seal/v1 wrap", struct.pack(">I", len(rid)) + rid + aad, unb64(w["ct"]))
nonce = unb64(sealed["nonce"])
prk = hkdf_extract(nonce, K)
enc_key = hkdf_expand(prk, b"tansiq/seal/v1 payload key", 32)
commit = hkdf_expand(prk, b"tansiq/seal/v1 key commitment", 32)
ct = unb64(sealed["ciphertext"])
check("key commitment", ct[:32].hex(), commit.hex())
check("sealed payload", xchacha_decrypt(enc_key, nonce, ct[32:], aad), b"hello partner")
print("all vectors match")
