"""Exports an open_clip model's two towers to ONNX in edgeclip's package layout.

Two sources, one layout:

    # the project's own default model (trained by firmware-tools/train)
    python3 export_onnx.py --checkpoint work/tiny/checkpoint.pt --out work/export

    # a real open_clip model, for users with a network (downloads weights)
    python3 export_onnx.py --open-clip ViT-B-32 --pretrained laion2b_s34b_b79k --out work/vit-b-32

Writes `image.fp32.onnx` (input `image` [batch, 3, S, S]; outputs `embedding`
[batch, D] and `patch_tokens` [batch, N, D], the tokens after ln_post projected
by the tower's own `proj`, which open_clip's `output_tokens` leaves unprojected;
with `--value-tokens`, the default, also `value_tokens` [batch, N, D], MaskCLIP's
dense features, see `value_tokens()`; `--no-value-tokens` leaves it out),
`text.fp32.onnx` (input `text` int64 [batch, 77]; output `embedding` [batch, D])
and `export.json` (preprocessing, logit scale, dims) for `make_package.py`.
Embeddings are not normalised in the graph; the runtime L2-normalises them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

OPSET = 17


def value_tokens(visual: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """MaskCLIP's dense features from `x`, the tokens [batch, 1 + N, width] entering the last block.

    The last block's self-attention is replaced by its value path alone:
    v = ln_1(x) @ W_v.T + b_v (W_v, b_v: the third chunk of the attention's
    in_proj), then the attention's out_proj; the block's residual and MLP are
    skipped; then ln_post and the tower's proj. Returns the N patch tokens
    [batch, N, embed_dim], without the class token.
    """
    block = visual.transformer.resblocks[-1]
    attn = block.attn
    width = x.shape[-1]
    v = nn.functional.linear(block.ln_1(x), attn.in_proj_weight[2 * width :], attn.in_proj_bias[2 * width :])
    tokens = visual.ln_post(block.ls_1(attn.out_proj(v)))[:, 1:]
    if visual.proj is not None:
        tokens = tokens @ visual.proj
    return tokens


class ImageTower(nn.Module):
    """Outputs (embedding, patch_tokens) or, with value_tokens, (embedding, patch_tokens, value_tokens)."""

    def __init__(self, visual: nn.Module, value_tokens: bool = False):
        super().__init__()
        self.visual = visual
        self.visual.output_tokens = True
        self.value_tokens = value_tokens

    def forward(self, image: torch.Tensor):
        if not self.value_tokens:
            pooled, tokens = self.visual(image)
            if self.visual.proj is not None:
                tokens = tokens @ self.visual.proj
            return pooled, tokens
        # VisionTransformer.forward, unrolled to keep the last block's input
        visual = self.visual
        x = visual._embeds(image)
        transformer = visual.transformer
        batch_first = getattr(transformer, "batch_first", True)
        h = x if batch_first else x.transpose(0, 1)
        for block in transformer.resblocks[:-1]:
            h = block(h)
        last_in = h if batch_first else h.transpose(0, 1)
        h = transformer.resblocks[-1](h)
        x = h if batch_first else h.transpose(0, 1)
        pooled, tokens = visual._pool(x)
        if visual.proj is not None:
            pooled = pooled @ visual.proj
            tokens = tokens @ visual.proj
        return pooled, tokens, value_tokens(visual, last_in)


class TextTower(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, text: torch.Tensor):
        return self.model.encode_text(text)


def load_checkpoint(path: Path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
    from train_default import MEAN, STD, build_model  # noqa: E402

    model = build_model()
    model.load_state_dict(torch.load(path, map_location="cpu")["model"])
    size = model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
    pre = {"image_size": int(size), "mean": MEAN.tolist(), "std": STD.tolist(), "interpolation": "bicubic", "resize_mode": "shortest"}
    return model, pre


def load_open_clip(name: str, pretrained: str | None):
    import open_clip

    model, _, transform = open_clip.create_model_and_transforms(name, pretrained=pretrained)
    cfg = model.visual.preprocess_cfg
    size = cfg["size"][0] if isinstance(cfg["size"], (tuple, list)) else cfg["size"]
    pre = {
        "image_size": int(size), "mean": list(cfg["mean"]), "std": list(cfg["std"]),
        "interpolation": cfg.get("interpolation", "bicubic"), "resize_mode": cfg.get("resize_mode", "shortest"),
    }
    return model, pre


def export(model: nn.Module, pre: dict, out: Path, with_value_tokens: bool = True) -> dict:
    model.eval()
    # the fused fast path exports as an op ONNX does not have
    torch.backends.mha.set_fastpath_enabled(False)
    out.mkdir(parents=True, exist_ok=True)
    size = pre["image_size"]
    image = torch.randn(2, 3, size, size)
    text = torch.zeros(2, model.context_length, dtype=torch.long)
    text[:, 0], text[:, 1], text[:, 2] = 49406, 320, 49407
    tower = ImageTower(model.visual, value_tokens=with_value_tokens)
    outputs = ["embedding", "patch_tokens"] + (["value_tokens"] if with_value_tokens else [])
    with torch.no_grad():
        pooled, tokens = tower(image)[:2]
        torch.onnx.export(
            tower, (image,), out / "image.fp32.onnx", opset_version=OPSET, dynamo=False,
            input_names=["image"], output_names=outputs,
            dynamic_axes={"image": {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
        )
        torch.onnx.export(
            TextTower(model), (text,), out / "text.fp32.onnx", opset_version=OPSET, dynamo=False,
            input_names=["text"], output_names=["embedding"],
            dynamic_axes={"text": {0: "batch"}, "embedding": {0: "batch"}},
        )
    info = {
        "preprocess": pre,
        "embed_dim": int(pooled.shape[-1]),
        "patch_tokens": int(tokens.shape[1]),
        "context_length": int(model.context_length),
        "vocab_size": int(model.vocab_size),
        "logit_scale": float(model.logit_scale.exp()),
    }
    if with_value_tokens:
        info["value_tokens"] = int(tokens.shape[1])
    (out / "export.json").write_text(json.dumps(info, indent=2))
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="checkpoint.pt from train_default.py")
    src.add_argument("--open-clip", help="open_clip model name, e.g. ViT-B-32")
    ap.add_argument("--pretrained", help="open_clip pretrained tag, e.g. laion2b_s34b_b79k")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--value-tokens", action=argparse.BooleanOptionalAction, default=True,
                    help="add the image output value_tokens (MaskCLIP dense features; default on)")
    args = ap.parse_args()
    model, pre = load_checkpoint(args.checkpoint) if args.checkpoint else load_open_clip(args.open_clip, args.pretrained)
    print(json.dumps(export(model, pre, args.out, args.value_tokens), indent=2))


if __name__ == "__main__":
    main()
