"""C2PA Content Credentials on what the CLI writes: signed, readable, bound to the pixels."""

import av
import pytest
from PIL import Image

from pix2pix_color.cli import main
from pix2pix_color.io.provenance import TRAINED_ALGORITHMIC_MEDIA, ProvenanceError, SigningCredentials, read_manifest

from .c2pa_certs import make_test_credentials
from .conftest import landscape
from .video_files import make_clip

pytest.importorskip("c2pa")


@pytest.fixture(scope="module")
def credentials(tmp_path_factory):
    return make_test_credentials(tmp_path_factory.mktemp("c2pa"))


def _action(store: dict) -> dict:
    manifest = store["manifests"][store["active_manifest"]]
    (actions,) = [a["data"]["actions"] for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    return actions[0]


def test_a_signed_photo_says_it_was_made_by_the_model_and_verifies_against_its_authority(
    tiny_model_dir, tmp_path, credentials
):
    chain, key, authority = credentials
    landscape(120, 80).convert("L").save(tmp_path / "barn.png")
    out = tmp_path / "out"

    status = main(
        ["colorize", str(tmp_path / "barn.png"), "-o", str(out), "--model", str(tiny_model_dir), "--quiet"]
        + ["--c2pa-cert", str(chain), "--c2pa-key", str(key), "--working-size", "96"]
    )

    assert status == 0
    written = out / "barn.png"
    image = Image.open(written)
    assert image.size == (120, 80) and image.mode == "RGB"
    assert "pix2pix-color" in image.info["Software"]  # the text chunks are still there beside the manifest
    store = read_manifest(written, trust_anchors=authority)
    assert store["validation_state"] == "Trusted"
    action = _action(store)
    assert action["action"] == "c2pa.created" and action["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert action["parameters"]["model"] == str(tiny_model_dir) and action["parameters"]["working_size"] == 96
    manifest = store["manifests"][store["active_manifest"]]
    assert manifest["claim_generator_info"][0]["name"] == "pix2pix-color"
    assert manifest["signature_info"]["common_name"] == "test archive"
    # Without the authority among the trusted ones the signature still holds, but the signer is unknown.
    codes = {s["code"] for s in read_manifest(written)["validation_status"]}
    assert "signingCredential.untrusted" in codes

    # One changed pixel breaks the binding between the manifest and the picture.
    data = bytearray(written.read_bytes())
    pixel = data.index(b"IDAT") + 40
    data[pixel] ^= 0x01
    tampered = read_manifest(bytes(data), "image/png", trust_anchors=authority)
    assert tampered["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in {s["code"] for s in tampered["validation_status"]}


def test_a_signed_video_keeps_its_frames_and_verifies(tiny_model_dir, tmp_path, credentials):
    chain, key, authority = credentials
    clip = make_clip(tmp_path / "walk.mp4", frames=6, audio="aac")

    status = main(
        ["colorize", str(clip), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir), "--quiet"]
        + ["--c2pa-cert", str(chain), "--c2pa-key", str(key)]
    )

    assert status == 0
    written = tmp_path / "out" / "walk.mp4"
    assert read_manifest(written, trust_anchors=authority)["validation_state"] == "Trusted"
    with av.open(str(written)) as video:
        assert len(video.streams.audio) == 1
        frames = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (64, 96, 3)


def test_unsigned_output_has_no_manifest(tiny_model_dir, tmp_path):
    landscape(40, 30).save(tmp_path / "a.png")
    assert (
        main(["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--model", str(tiny_model_dir), "-q"])
        == 0
    )
    assert read_manifest(tmp_path / "o" / "a.png") is None


def test_bad_signing_material_is_one_line_before_any_work(tiny_model_dir, tmp_path, credentials, capsys):
    chain, key, _ = credentials
    landscape(40, 30).save(tmp_path / "a.png")
    base = ["colorize", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--model", str(tiny_model_dir), "-q"]
    (tmp_path / "notakey.pem").write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")

    assert main(base + ["--c2pa-cert", str(chain)]) == 2
    assert "--c2pa-cert and --c2pa-key go together" in capsys.readouterr().err
    assert main(base + ["--c2pa-cert", str(chain), "--c2pa-key", str(tmp_path / "notakey.pem")]) == 2
    assert "the C2PA key cannot be used: not a PEM private key" in capsys.readouterr().err
    assert main(base + ["--c2pa-cert", str(key), "--c2pa-key", str(key)]) == 2  # a key is no certificate
    assert "C2PA signing failed" in capsys.readouterr().err
    assert main(base + ["--c2pa-cert", str(tmp_path / "missing.pem"), "--c2pa-key", str(key)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "o" / "a.png").exists()


def test_credentials_name_the_algorithm_of_their_key(credentials):
    chain, key, _ = credentials
    assert SigningCredentials.from_files(chain, key).algorithm == "es256"
    with pytest.raises(ProvenanceError, match="cannot read"):
        SigningCredentials.from_files(chain, chain.with_name("nope.pem"))


def test_the_key_is_never_printed_and_an_encrypted_one_opens_with_its_password(credentials, tmp_path, monkeypatch):
    """N7: repr() leaves the private key out; an encrypted PEM key is taken with its password from
    the environment (never the command line), a wrong or missing one is one line."""
    from cryptography.hazmat.primitives.serialization import (
        BestAvailableEncryption,
        Encoding,
        PrivateFormat,
        load_pem_private_key,
    )

    chain, key, _ = credentials
    plain = SigningCredentials.from_files(chain, key)
    assert "PRIVATE KEY" not in repr(plain) and "private_key" not in repr(plain)
    locked = tmp_path / "locked.pem"
    pem = load_pem_private_key(key.read_bytes(), password=None)
    locked.write_bytes(pem.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"s3cret")))
    assert SigningCredentials.from_files(chain, locked, password=b"s3cret").algorithm == "es256"
    with pytest.raises(ProvenanceError, match="the C2PA key is encrypted: give its password"):
        SigningCredentials.from_files(chain, locked)
    with pytest.raises(ProvenanceError, match="the password does not open it"):
        SigningCredentials.from_files(chain, locked, password=b"wrong")
    # A time-stamp authority is tried with the trial signature, before any work: one that cannot be
    # reached (a closed loopback port) is one line then, not a failure at the first photo.
    with pytest.raises(ProvenanceError, match="C2PA signing failed"):
        SigningCredentials.from_files(chain, key, tsa_url="http://127.0.0.1:9/")


def test_a_video_whose_signing_fails_leaves_no_file_under_its_name(tiny_model_dir, tmp_path, credentials, monkeypatch,
                                                                   capsys):  # fmt: skip
    """N7: the MP4 is signed before it gets its final name, and a signing failure is that file's
    one-line error, not a traceback."""
    import pix2pix_color.cli.commands as commands

    chain, key, _ = credentials
    clip = make_clip(tmp_path / "reel.mp4", size=(64, 48), frames=4)

    def refuse(*args, **kwargs):
        raise ProvenanceError("C2PA signing failed: the authority is down")

    monkeypatch.setattr(commands, "sign_file", refuse)
    out = tmp_path / "o"
    argv = ["colorize", str(clip), "-o", str(out), "--model", str(tiny_model_dir), "-q",
            "--c2pa-cert", str(chain), "--c2pa-key", str(key)]  # fmt: skip
    assert main(argv) == 1
    assert "skipped" in capsys.readouterr().err
    assert list(out.iterdir()) == []  # neither reel.mp4 nor its unsigned temporary
