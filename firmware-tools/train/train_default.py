"""Trains edgeclip's default model, a tiny CLIP, on procedural data (CPU is enough).

    python train_default.py --out work/tiny --steps 6000

The model is open_clip's own CLIP class with a small custom config, the real
OpenAI BPE tokenizer and a 77-token context, so the exported towers are the same
graphs a real open_clip export gives, only narrower. Writes `checkpoint.pt`,
`train_log.jsonl` (one line per logged step and per evaluation) and
`recipe.json` (seed, config, data mix, schedule).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.tokenizer import tokenize
from open_clip.transformer import text_global_pool
from PIL import Image
from torch.utils.data import DataLoader, IterableDataset

import evalsets as E
import procedural as P

CONFIG = {
    "embed_dim": 128,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 64, "patch_size": 8, "width": 128, "layers": 4, "head_width": 32, "mlp_ratio": 4.0},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 4},
}
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def build_model() -> CLIP:
    return CLIP(**CONFIG)


def normalize_uint8(img: np.ndarray) -> np.ndarray:
    """HWC uint8 -> CHW float32 with CLIP's mean/std (the runtime's preprocess)."""
    x = img.astype(np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(2, 0, 1)


def semantic_key(kind: int, label) -> str:
    if kind == P.KIND_SHAPES:
        return "s:" + "|".join(sorted(f"{c} {s}" for c, s in label))
    if kind == P.KIND_CLOUD:
        return "c:" + label
    return "d:" + str(P.depth_bin(label))


class Stream(IterableDataset):
    """Batch b holds samples b*B .. (b+1)*B-1 of the train split: reproducible."""

    def __init__(self, batch: int, start_batch: int, steps: int):
        self.batch, self.start, self.steps = batch, start_batch, steps

    def __iter__(self):
        for b in range(self.start, self.steps):
            images, captions, keys = [], [], []
            for i in range(b * self.batch, (b + 1) * self.batch):
                kind, img, caption, label = P.sample("train", i)
                images.append(img if kind == P.KIND_CLOUD else normalize_uint8(img))
                captions.append(caption)
                keys.append(semantic_key(kind, label))
            yield torch.from_numpy(np.stack(images)), captions, keys


def encode_text_truncated(model: CLIP, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's encode_text on tokens cut to the batch's longest caption.

    With the causal mask and end-token pooling, positions after the end token
    never influence the result, so this equals the 77-token forward, ~2x faster.
    """
    length = int(tokens.argmax(dim=-1).max()) + 1
    tokens = tokens[:, :length]
    x = model.token_embedding(tokens) + model.positional_embedding[:length]
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    return x @ model.text_projection


def contrastive_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, keys: list[str]) -> torch.Tensor:
    """CLIP's symmetric InfoNCE, with every same-meaning pair in the batch a positive.

    The procedural vocabulary is small, so a batch repeats captions; plain CLIP
    would push identical meanings apart.
    """
    logits = scale * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T
    ids = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    k = torch.tensor([ids[x] for x in keys])
    target = (k[:, None] == k[None, :]).float()
    target = target / target.sum(1, keepdim=True)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@torch.no_grad()
def evaluate(model: CLIP, sets) -> dict:
    model.eval()

    def img_emb(batch: np.ndarray) -> np.ndarray:
        out = [model.encode_image(torch.from_numpy(batch[i : i + 256]), normalize=True) for i in range(0, len(batch), 256)]
        return torch.cat(out).numpy()

    def txt_emb(prompts: list[str]) -> np.ndarray:
        return model.encode_text(tokenize(prompts), normalize=True).numpy()

    labels = E.labels48()
    label_emb = txt_emb([P.EVAL_TEMPLATE.format(f"{c} {s}") for c, s in labels])
    result = {}
    for name in ("seen", "held_out", "plain"):
        data = sets[name]
        x = np.stack([normalize_uint8(np.asarray(im.resize((64, 64), 3)) if isinstance(im, Image.Image) else im) for im, _ in data])
        y = np.array([t for _, t in data])
        result[f"top1_{name}"] = float(((img_emb(x) @ label_emb.T).argmax(1) == y).mean())
    clouds = sets["clouds"]
    views = np.concatenate([v for v, _ in clouds])
    ve = img_emb(views).reshape(len(clouds), 6, -1)
    solid_emb = txt_emb([P.POINTCLIP_TEMPLATE.format(s) for s in P.SOLIDS])
    result["pointclip_top1"] = float((E.pointclip_predict(ve, solid_emb) == np.array([k for _, k in clouds])).mean())
    scenes = sets["depth"]
    se = img_emb(np.stack([normalize_uint8(im) for im, _ in scenes]))
    bin_emb = txt_emb([P.DEPTH_TEMPLATE.format(w) for w in P.DEPTH_WORDS])
    truth = np.array([P.depth_bin(d) for _, d in scenes])
    pred_depth = E.depthclip_depth(se, bin_emb)
    result["depth_bin_acc"] = float((np.array([P.depth_bin(d) for d in pred_depth]) == truth).mean())
    result["depth_argmax_acc"] = float(((se @ bin_emb.T).argmax(1) == truth).mean())
    result["depth_abs_err_m"] = float(np.abs(pred_depth - np.array([d for _, d in scenes])).mean())
    model.train()
    return result


def lr_at(step: int, steps: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * t))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-size", type=int, default=480)
    ap.add_argument("--stop-after", type=int, default=None, help="stop (with a checkpoint) after this step")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    model = build_model()
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-6,
    )
    start = 0
    ckpt_path = args.out / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        start = ckpt["step"]
        print(f"resuming at step {start}")
    recipe_path = args.out / "recipe.json"
    recipe = json.loads(recipe_path.read_text()) if recipe_path.exists() else {
        "config": CONFIG, "seed": args.seed, "batch": args.batch,
        "mix": {"shapes": 0.62, "point_cloud_views": 0.2, "distance_scenes": 0.18},
        "held_out": sorted(f"{c} {s}" for c, s in P.HELD_OUT),
        "loss": "symmetric InfoNCE with same-meaning positives", "mean": MEAN.tolist(), "std": STD.tolist(),
        "phases": [],
    }
    # A resumed run may change the schedule; each phase is recorded.
    recipe["phases"].append({"from_step": start, "schedule_steps": args.steps, "stop_after": args.stop_after,
                             "lr": args.lr, "warmup": args.warmup, "threads": args.threads})
    recipe_path.write_text(json.dumps(recipe, indent=2))

    n = args.eval_size
    sets = {
        "seen": E.shape_set(False, n), "held_out": E.shape_set(True, n, offset=100_000),
        "plain": E.plain_set(), "clouds": E.cloud_set(n // 4), "depth": E.depth_set(n // 2),
    }
    log = open(args.out / "train_log.jsonl", "a")
    loader = DataLoader(Stream(args.batch, start, args.steps), batch_size=None, num_workers=1, prefetch_factor=4)
    t0 = time.time()
    model.train()
    for step, (images, captions, keys) in enumerate(loader, start=start):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        img = model.encode_image(images)
        txt = encode_text_truncated(model, tokenize(captions))
        loss = contrastive_loss(img, txt, model.logit_scale.exp(), keys)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        done = step + 1
        if done % 50 == 0:
            rec = {"step": done, "loss": round(loss.item(), 4), "lr": opt.param_groups[0]["lr"],
                   "logit_scale": round(model.logit_scale.exp().item(), 2), "elapsed_s": round(time.time() - t0, 1)}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
        if done % args.eval_every == 0 or done == args.steps or done == args.stop_after:
            rec = {"step": done, "eval": evaluate(model, sets)}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            tmp = ckpt_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": done}, tmp)
            os.replace(tmp, ckpt_path)
        if args.stop_after is not None and done >= args.stop_after:
            break


if __name__ == "__main__":
    main()
