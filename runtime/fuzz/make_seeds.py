#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into seeds/<target>/ from the project's
own files: the shipped model's samples, manifest and label store, the board profiles,
and journals and request bodies built here in the documented formats. Run from this
folder with the project's Python (Pillow, for the image seeds).
"""
import base64
import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MODEL = ROOT / "models" / "edgeclip-tiny"


def out(target, name, data):
    d = HERE / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# --- settings_toml: first byte 0 watch settings, 1 board profile, 2 manifest -----
WATCH = [
    "",
    '[watch]\nmode = "tags"\ntop_k = 2\nbias = -2.5\nstatus_every_s = 5\n'
    "[track]\nalpha = 0.4\nenter = 0.6\nexit = 0.4\ndwell_ms = 300\nhold_ms = 1000\n",
    '[journal]\ndir = "/var/lib/edgeclip/journal"\ndurability = "interval:100ms"\n'
    "segment_mib = 4\nretain_mib = 256\nretain_days = 7.5\n",
    '[mqtt]\nhost = "broker.local"\nport = 8883\nclient_id = "cam1"\n'
    'topic_prefix = "edgeclip/cam1"\n[gpio]\nchip = "/dev/gpiochip0"\n',
    "[track]\ndwell_ms = 99999999999999999999\n",
]
for i, text in enumerate(WATCH):
    out("settings_toml", f"watch{i}", b"\x00" + text.encode())
for board in sorted((ROOT / "boards").glob("*.toml")):
    out("settings_toml", f"board-{board.stem}", b"\x01" + board.read_bytes())
out("settings_toml", "manifest", b"\x02" + (MODEL / "model.toml").read_bytes())


# --- image_decode: the samples, and the layouts the decoders branch on ------------
for sample in sorted((MODEL / "samples").iterdir()):
    out("image_decode", sample.name, sample.read_bytes())
try:
    from PIL import Image
    import io

    base = Image.open(MODEL / "samples" / "red_circle.png").convert("RGB").resize((48, 40))

    def save(name, image, fmt, **kw):
        buf = io.BytesIO()
        image.save(buf, fmt, **kw)
        out("image_decode", name, buf.getvalue())

    save("progressive.jpg", base, "JPEG", progressive=True, quality=80)
    save("grey.jpg", base.convert("L"), "JPEG")
    save("cmyk.jpg", base.convert("CMYK"), "JPEG")
    save("subsampled.jpg", base, "JPEG", subsampling=2, quality=60)
    save("rgba.png", base.convert("RGBA"), "PNG")
    save("grey.png", base.convert("L"), "PNG")
    save("palette.png", base.convert("P"), "PNG")
    save("grey16.png", base.convert("I;16"), "PNG")
    save("interlaced.png", base, "PNG", interlace=1)
    full = (MODEL / "samples" / "blue_square.jpg").read_bytes()
    out("image_decode", "truncated.jpg", full[: len(full) // 2])
except ImportError:
    print("Pillow is missing: only the samples are image seeds")


# --- journal_read: segments in the format of runtime/journal/FORMAT.md ------------
def crc32c(data):
    poly = 0x82F63B78
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (poly if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def header(first_seq):
    h = b"ECJOURNL" + struct.pack("<I", 1) + b"\0" * 4 + struct.pack("<Q", first_seq) + b"\0" * 4
    return h + struct.pack("<I", crc32c(h))


def frame(seq, time_ms, payload):
    head = struct.pack("<IQQ", len(payload), seq, time_ms)
    return head + struct.pack("<I", crc32c(head + payload)) + payload


def event(seq, kind, label):
    return json.dumps({"seq": seq, "type": kind, "data": {"label": label, "score": 0.9}}).encode()


one = header(1) + b"".join(frame(s, 1000 + s, event(s, "appeared", "red circle")) for s in range(1, 6))
out("journal_read", "one-segment", one)
two = one + header(6) + b"".join(frame(s, 1000 + s, event(s, "left", "red circle")) for s in range(6, 9))
out("journal_read", "two-segments", two)
out("journal_read", "torn-tail", one[:-7])
flipped = bytearray(two)
flipped[len(header(1)) + 30] ^= 0x10
out("journal_read", "flipped-bit", bytes(flipped))
out("journal_read", "zeroed-tail", one + b"\0" * 64)
out("journal_read", "header-only", header(42))
out("journal_read", "empty-newest", one + header(6))


# --- api_body: 0 query, 1 label add, 2 label delete ---------------------------------
png = (MODEL / "samples" / "red_circle.png").read_bytes()
QUERIES = [
    {"texts": ["a photo of a red circle."]},
    {"texts": ["a red circle", "a blue square"], "where": True, "top_k": 3},
    {"texts": ["a red circle"], "against": "labels"},
    {"texts": ["a red circle", "a star"], "against": "texts", "image": base64.b64encode(png).decode()},
    {"texts": []},
    {"texts": ["x"], "top_k": 0},
]
for i, q in enumerate(QUERIES):
    out("api_body", f"query{i}", b"\x00" + json.dumps(q).encode())
out("api_body", "labels-add", b"\x01" + json.dumps({"labels": ["a green ring"]}).encode())
out(
    "api_body",
    "labels-add-templates",
    b"\x01" + json.dumps({"labels": ["a mug"], "templates": ["a photo of {}."]}).encode(),
)
out("api_body", "labels-delete", b"\x02red circle")
