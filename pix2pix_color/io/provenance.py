"""Content Credentials (C2PA) for what we write: a signed statement, inside the file, that its colors
were made by a trained algorithm, which model made them, and that the pixels have not changed since.

The PNG text chunks and the EXIF that `save_png` writes say the same thing in words any viewer shows,
but anyone can edit them. A C2PA manifest is signed with the user's certificate and binds a hash of
the pixels, so a C2PA reader (Adobe's Content Authenticity inspector, `c2patool`, this module's
`read_manifest`) can tell that the claim is intact and who signed it. What it does not do: it cannot
be forced on a file (stripping the manifest leaves a plain PNG, so its absence proves nothing), it
names the signer only as far as a trusted certificate authority vouches for the certificate (a
self-signed one reads "untrusted"), and it says nothing about whether the gray original was genuine.

The signing itself is the `c2pa-python` package (the C2PA project's own Rust SDK): manifests,
JUMBF boxes and COSE signatures are not something to write by hand. It is optional (the `c2pa` extra).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pix2pix_color._version import __version__ as VERSION
from pix2pix_color.io.images import write_atomically

# IPTC's term for media made by a model trained on sampled content: what the colors are.
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# The certificate's key type -> the C2PA signing algorithm (the SDK needs it said).
_ALGORITHMS = {"EC-256": "es256", "EC-384": "es384", "EC-521": "es512", "Ed25519": "ed25519", "RSA": "ps256"}
MIME_TYPES = {".png": "image/png", ".mp4": "video/mp4"}


class ProvenanceError(ValueError):
    """A certificate or key that cannot sign, or c2pa-python missing; the message says which."""


@dataclass(frozen=True)
class SigningCredentials:
    """A PEM certificate chain (the signer's certificate first, then its issuers) and its private key
    (held unencrypted in memory only, never printed: `repr` leaves it out), and optionally a
    time-stamp authority's URL (RFC 3161): a time-stamped signature stays valid after the certificate
    expires, since it proves it was made while the certificate was valid."""

    certificate_chain: bytes
    private_key: bytes = field(repr=False)
    algorithm: str
    tsa_url: str | None = None

    @classmethod
    def from_files(
        cls,
        certificate: str | os.PathLike,
        key: str | os.PathLike,
        *,
        password: bytes | None = None,
        tsa_url: str | None = None,
    ) -> SigningCredentials:
        """Read and check a certificate chain and its key; an encrypted PEM key needs `password`."""
        try:
            chain, private_key = Path(certificate).read_bytes(), Path(key).read_bytes()
        except OSError as e:
            raise ProvenanceError(f"cannot read {e.filename}: {e.strerror}") from None
        private_key, algorithm = _unlocked(private_key, password)
        credentials = cls(chain, private_key, algorithm, tsa_url)
        # A trial signature now: a certificate the SDK refuses is said before any photo is colorized.
        tiny = io.BytesIO()
        Image.new("L", (1, 1)).save(tiny, "PNG")
        sign(tiny.getvalue(), "image/png", credentials, manifest_for("check", "check.png"))
        return credentials


def _unlocked(private_key: bytes, password: bytes | None) -> tuple[bytes, str]:
    """The key as the C2PA SDK takes it (unencrypted PKCS#8 PEM, in memory) and its algorithm."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        load_pem_private_key,
    )

    try:
        key = load_pem_private_key(private_key, password=password)
    except TypeError:
        if password is None:
            raise ProvenanceError(
                "the C2PA key is encrypted: give its password in the environment variable "
                "PIX2PIX_COLOR_C2PA_KEY_PASSWORD"
            ) from None
        raise ProvenanceError("the C2PA key is not encrypted, but a password was given") from None
    except ValueError as e:
        # A wrong password on an encrypted key fails either at the padding check ("bad decrypt") or,
        # about one time in 256, decrypts to bytes that are no key at all (an ASN.1 error): both are
        # the password's fault when the file is an encrypted PEM.
        encrypted = b"ENCRYPTED" in private_key
        wrong = password is not None and (encrypted or "password" in str(e).lower() or "decrypt" in str(e).lower())
        reason = "the password does not open it" if wrong else f"not a PEM private key ({e})"
        raise ProvenanceError(f"the C2PA key cannot be used: {reason}") from None
    plain = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        name = f"EC-{key.curve.key_size}"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        name = "Ed25519"
    elif isinstance(key, rsa.RSAPrivateKey):
        name = "RSA"
    else:
        name = type(key).__name__
    if name not in _ALGORITHMS:
        raise ProvenanceError(f"a {name} key cannot sign C2PA manifests (use EC P-256/384/521, Ed25519 or RSA)")
    return plain, _ALGORITHMS[name]


def _c2pa():
    try:
        import c2pa
    except ImportError:
        raise ProvenanceError("C2PA signing needs c2pa-python: pip install 'pix2pix-color[c2pa]'") from None
    return c2pa


def manifest_for(model_id: str, title: str, settings: dict | None = None) -> dict:
    """The manifest definition: one `c2pa.created` action whose source type is trained algorithmic
    media, by pix2pix-color at this version, with the model id (and the settings) as its parameters."""
    parameters = {"model": model_id, **(settings or {})}
    return {
        "claim_generator_info": [{"name": "pix2pix-color", "version": VERSION}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": "pix2pix-color", "version": VERSION},
                            "description": "colors predicted from the lightness of a photo by a pix2pix colorizer",
                            "parameters": parameters,
                        }
                    ]
                },
            }
        ],
    }


def sign(data: bytes, mime_type: str, credentials: SigningCredentials, manifest: dict) -> bytes:
    """`data` (a whole PNG or MP4 file) with the manifest embedded and signed."""
    c2pa = _c2pa()
    info = c2pa.C2paSignerInfo(
        alg=credentials.algorithm.encode(),
        sign_cert=credentials.certificate_chain,
        private_key=credentials.private_key,
        ta_url=credentials.tsa_url.encode() if credentials.tsa_url else None,
    )
    try:
        signer = c2pa.Signer.from_info(info)
        out = io.BytesIO()
        with c2pa.Builder(manifest) as builder:
            builder.sign(signer, mime_type, io.BytesIO(data), out)
    except c2pa.C2paError as e:
        raise ProvenanceError(f"C2PA signing failed: {e}") from None
    return out.getvalue()


def sign_file(
    path: str | os.PathLike, credentials: SigningCredentials, manifest: dict, target: str | os.PathLike | None = None
) -> None:
    """Sign a written PNG or MP4: the signed file is written to `target` (default: in place) under a
    temporary name, then renamed; so with `target` no unsigned file ever has the final name."""
    path = Path(path)
    mime_type = MIME_TYPES.get((Path(target) if target else path).suffix.lower())
    if mime_type is None:
        raise ProvenanceError(f"C2PA signing supports {', '.join(MIME_TYPES)} files, not {path.name}")
    write_atomically(target or path, sign(path.read_bytes(), mime_type, credentials, manifest))


def read_manifest(source: str | os.PathLike | bytes, mime_type: str = "image/png", trust_anchors: bytes | None = None):
    """The file's active manifest store as the C2PA SDK reports it (a dict: `manifests`,
    `validation_state` "Valid"/"Trusted"/"Invalid", `validation_status`...), or None when there is
    none. `trust_anchors`: PEM certificates of the authorities to trust."""
    c2pa = _c2pa()
    if not isinstance(source, bytes):
        mime_type = MIME_TYPES.get(Path(source).suffix.lower(), mime_type)
        source = Path(source).read_bytes()
    context = None
    if trust_anchors is not None:
        context = c2pa.Context(c2pa.Settings.from_dict({"trust": {"trust_anchors": trust_anchors.decode()}}))
    try:
        with c2pa.Reader(mime_type, io.BytesIO(source), context=context) as reader:
            return json.loads(reader.json())
    except c2pa.C2paError as e:
        if str(e).startswith("ManifestNotFound"):
            return None
        raise ProvenanceError(f"cannot read the C2PA manifest: {e}") from None
