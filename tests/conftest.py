"""Shared test set-up: Qt offscreen before any PySide6 import; no test touches user data;
big hostile inputs generated at test time (too large to commit), from the real texts in
tests/fixtures, for the importer's tests and the window's."""

import base64
import io
import os
import zipfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_user_data(tmp_path_factory, monkeypatch):
    """Every test gets its own user data directory (retrained models, settings)."""
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))


def sms_texts() -> list[str]:
    lines = (FIXTURES / "sms" / "SMSSpamCollection_sample.tsv").read_text("utf-8").splitlines()
    return [ln.split("\t", 1)[1] for ln in lines]


@pytest.fixture(scope="session")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """Big hostile inputs, written once per session: name -> path."""
    root = tmp_path_factory.mktemp("hostile")
    texts = sms_texts()
    out: dict[str, Path] = {}

    # A CSV with one 20 MB field (csv.field_size_limit and Arrow's block size must cope).
    big = (" ".join(texts) + " ") * (20_000_000 // (len(" ".join(texts)) + 1) + 1)
    big = big[:20_000_000]
    p = root / "field_20mb.csv"
    with p.open("w", encoding="utf-8", newline="") as fh:
        fh.write('id,text\n1,short one\n2,"' + big.replace('"', '""') + '"\n3,after it\n')
    out["field_20mb"] = p

    # 100,000 columns, one of them named text.
    p = root / "columns_100k.csv"
    header = ["text"] + [f"c{i}" for i in range(99_999)]
    row = [texts[0].replace(",", " ").replace('"', "")] + ["1"] * 99_999
    p.write_text(",".join(header) + "\n" + ",".join(row) + "\n", encoding="utf-8")
    out["columns_100k"] = p

    # 100,000 levels of nested JSON, as an array and as a JSONL line.
    p = root / "nested_100k.json"
    p.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    out["nested_100k"] = p
    p = root / "nested_100k_objects.json"
    p.write_bytes(b'{"a":' * 100_000 + b"0" + b"}" * 100_000)
    out["nested_100k_objects"] = p

    # An email with a 50 MB attachment and a short text body.
    p = root / "attachment_50mb.eml"
    payload = base64.encodebytes(b"\x00\x01binary" * (50_000_000 // 8))
    p.write_bytes(
        b"From: a@example.org\nSubject: big attachment\nMessage-ID: <big@example.org>\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="ZZ"\n\n'
        b"--ZZ\nContent-Type: text/plain; charset=utf-8\n\n" + texts[1].encode() + b"\n"
        b'--ZZ\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="big.bin"\n'
        b"Content-Transfer-Encoding: base64\n\n" + payload + b"--ZZ--\n"
    )
    out["attachment_50mb"] = p

    # A zip bomb: 300 MB of zeros deflated to ~300 kB, beside a good member.
    p = root / "bomb.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a_good.csv", "text\n" + "\n".join(t.replace("\n", " ") for t in texts[:3]))
        with z.open("b_zeros.txt", "w", force_zip64=True) as member:
            block = b"\x00" * (1 << 20)
            for _ in range(300):
                member.write(block)
    out["zip_bomb"] = p

    # A zip whose declared sizes are small but whose data inflates far past them: the
    # metered read must stop it even when the central directory lies.
    p = root / "lying_bomb.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.txt", b"a" * (40 * 1024 * 1024))
    data = bytearray(buf.getvalue())
    # Patch the uncompressed size in the central directory and the local header to 1 kB.
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (1024).to_bytes(4, "little")
    data[22:26] = (1024).to_bytes(4, "little")
    p.write_bytes(bytes(data))
    out["lying_zip"] = p
    return out
