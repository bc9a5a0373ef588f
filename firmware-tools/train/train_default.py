"""Trains edgeclip's default model, a tiny CLIP, on procedural data (CUDA or CPU).

    python train_default.py --out work/tiny --steps 8839 --batch 1024 --lr 0.0015 --warmup 1000 \
        --workers 7 [--device cuda --amp]

The model is open_clip's own CLIP class with a small custom config, the real
OpenAI BPE tokenizer and a 77-token context, so the exported towers are the same
graphs a real open_clip export gives, only narrower. `--workers` processes render
the deterministic training stream into a cache on the training device while the
optimiser draws random batches from what is rendered so far (`SampleCache`).
`--time-budget S` runs the cosine schedule over S seconds of wall clock instead
of `--steps`. Writes `checkpoint.pt` (model and optimiser, to resume),
`train_log.jsonl` (one line per logged step and per evaluation), `recipe.json`
(seed, config, data mix, each phase's schedule, device and throughput) and, with
`--weights`, the model weights alone.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import queue as queues
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.tokenizer import tokenize
from open_clip.transformer import text_global_pool
from PIL import Image

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


# Caption tokens kept per sample: the longest procedural caption is 15 tokens.
TOKENS = 32
# Cloud views are stored as uint8 centi-units (view values lie in [0, 2.55]).
VIEW_SCALE = 100.0


def key_id(key: str) -> int:
    return zlib.crc32(key.encode())


def render_shard(first: int, count: int) -> dict:
    """Samples first .. first+count-1 of the train split as compact arrays."""
    images = np.empty((count, P.IMAGE_SIZE, P.IMAGE_SIZE, 3), np.uint8)
    keys = np.empty(count, np.int64)
    kinds = np.empty(count, np.uint8)
    captions = []
    for j in range(count):
        kind, img, caption, label = P.sample("train", first + j)
        if kind == P.KIND_CLOUD:
            images[j] = np.clip(np.rint(img[0] * VIEW_SCALE), 0, 255).astype(np.uint8)[..., None]
        else:
            images[j] = img
        captions.append(caption)
        keys[j] = key_id(semantic_key(kind, label))
        kinds[j] = kind
    tokens = tokenize(captions).numpy()
    if tokens[:, TOKENS:].any():
        raise ValueError(f"a caption is longer than {TOKENS} tokens")
    return {"images": images, "tokens": tokens[:, :TOKENS].astype(np.int32), "keys": keys, "kinds": kinds}


def render_forever(worker: int, workers: int, shard: int, queue, stop) -> None:
    """Worker process: renders shards worker, worker+workers, ... until told to stop."""
    torch.set_num_threads(1)
    s = worker
    while not stop.is_set():
        out = render_shard(s * shard, shard)
        while not stop.is_set():
            try:
                queue.put(out, timeout=0.5)
                break
            except queues.Full:
                continue
        s += workers


class SampleCache:
    """Pre-rendered training samples held on the training device.

    Worker processes render shards of the deterministic train stream in
    parallel; a thread appends them here while the optimiser draws random
    batches from everything rendered so far, so rendering never stalls a step.
    """

    def __init__(self, capacity: int, device: torch.device, workers: int, shard: int = 512):
        size = P.IMAGE_SIZE
        self.images = torch.empty((capacity, size, size, 3), dtype=torch.uint8, device=device)
        self.tokens = torch.zeros((capacity, TOKENS), dtype=torch.int64, device=device)
        self.keys = torch.empty(capacity, dtype=torch.int64, device=device)
        self.kinds = torch.empty(capacity, dtype=torch.uint8, device=device)
        self.capacity, self.count = capacity, 0
        ctx = mp.get_context("spawn")
        self.queue, self.stop = ctx.Queue(maxsize=2 * workers), ctx.Event()
        self.procs = [ctx.Process(target=render_forever, args=(w, workers, shard, self.queue, self.stop), daemon=True)
                      for w in range(workers)]
        for p in self.procs:
            p.start()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while not self.stop.is_set() and self.count < self.capacity:
            try:
                shard = self.queue.get(timeout=0.5)
            except queues.Empty:
                continue
            n = min(len(shard["keys"]), self.capacity - self.count)
            sl = slice(self.count, self.count + n)
            self.images[sl] = torch.from_numpy(shard["images"][:n])
            self.tokens[sl] = torch.from_numpy(shard["tokens"][:n]).long()
            self.keys[sl] = torch.from_numpy(shard["keys"][:n])
            self.kinds[sl] = torch.from_numpy(shard["kinds"][:n])
            self.count += n  # published only after the rows are written
        self.stop.set()

    def wait_for(self, n: int) -> None:
        while self.count < min(n, self.capacity):
            time.sleep(0.1)

    def batch(self, size: int, mean: torch.Tensor, std: torch.Tensor):
        """A random batch: model-ready images, tokens cut to the longest caption, keys."""
        idx = torch.randint(0, self.count, (size,), device=self.images.device)
        x = self.images[idx].permute(0, 3, 1, 2).float()
        cloud = (self.kinds[idx] == P.KIND_CLOUD)[:, None, None, None]
        images = torch.where(cloud, (x[:, :1] / VIEW_SCALE).expand_as(x), (x / 255.0 - mean) / std)
        tokens = self.tokens[idx]
        length = int(tokens.argmax(dim=-1).max()) + 1
        return images, tokens[:, :length], self.keys[idx]

    def close(self) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()


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


def contrastive_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric InfoNCE, with every same-meaning pair in the batch a positive.

    The procedural vocabulary is small, so a batch repeats captions; plain CLIP
    would push identical meanings apart.
    """
    logits = scale * F.normalize(img.float(), dim=-1) @ F.normalize(txt.float(), dim=-1).T
    target = (keys[:, None] == keys[None, :]).float()
    target = target / target.sum(1, keepdim=True)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@torch.no_grad()
def evaluate(model: CLIP, sets, device: torch.device) -> dict:
    model.eval()

    def img_emb(batch: np.ndarray) -> np.ndarray:
        out = [model.encode_image(torch.from_numpy(batch[i : i + 256]).to(device), normalize=True) for i in range(0, len(batch), 256)]
        return torch.cat(out).cpu().numpy()

    def txt_emb(prompts: list[str]) -> np.ndarray:
        return model.encode_text(tokenize(prompts).to(device), normalize=True).cpu().numpy()

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


def lr_at(progress: float, step: int, base: float, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay over `progress` in [0, 1]."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def save_atomic(obj, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=6000, help="schedule length in steps (ignored with --time-budget)")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="train for this many seconds; the cosine schedule follows wall-clock progress")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the training process")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    ap.add_argument("--amp", action="store_true", help="bfloat16 autocast for the forward pass (CUDA)")
    ap.add_argument("--workers", type=int, default=1, help="processes rendering training samples")
    ap.add_argument("--cache-size", type=int, default=1_000_000, help="most rendered samples kept on the device")
    ap.add_argument("--ready", type=int, default=8192, help="samples rendered before the first step")
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--eval-size", type=int, default=480)
    ap.add_argument("--stop-after", type=int, default=None, help="stop (with a checkpoint) after this step")
    ap.add_argument("--weights", type=Path, default=None, help="also write the model weights alone here")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    # Workers start before the model so they never inherit a CUDA context.
    cache = SampleCache(args.cache_size, device, args.workers)
    model = build_model().to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-6, fused=device.type == "cuda",
    )
    start = 0
    ckpt_path = args.out / "checkpoint.pt"
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        start = ckpt["step"]
        print(f"resuming at step {start}")
    recipe_path = args.out / "recipe.json"
    recipe = json.loads(recipe_path.read_text()) if recipe_path.exists() else {
        "config": CONFIG, "seed": args.seed,
        "mix": {"shapes": 0.62, "point_cloud_views": 0.2, "distance_scenes": 0.18},
        "held_out": sorted(f"{c} {s}" for c, s in P.HELD_OUT),
        "loss": "symmetric InfoNCE with same-meaning positives", "mean": MEAN.tolist(), "std": STD.tolist(),
        "phases": [],
    }
    # A resumed run may change the schedule; each phase is recorded.
    phase = {"from_step": start, "schedule_steps": None if args.time_budget else args.steps,
             "time_budget_s": args.time_budget, "stop_after": args.stop_after, "batch": args.batch,
             "lr": args.lr, "warmup": args.warmup, "device": str(device),
             "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
             "amp": "bfloat16" if args.amp else None, "threads": args.threads, "workers": args.workers}
    recipe["phases"].append(phase)
    recipe_path.write_text(json.dumps(recipe, indent=2))

    n = args.eval_size
    sets = {
        "seen": E.shape_set(False, n), "held_out": E.shape_set(True, n, offset=100_000),
        "plain": E.plain_set(), "clouds": E.cloud_set(n // 4), "depth": E.depth_set(n // 2),
    }
    mean = torch.tensor(MEAN, device=device)[None, :, None, None]
    std = torch.tensor(STD, device=device)[None, :, None, None]
    log = open(args.out / "train_log.jsonl", "a")

    def write(rec: dict) -> None:
        print(json.dumps(rec), flush=True)
        log.write(json.dumps(rec) + "\n")
        log.flush()

    def checkpoint(done: int) -> None:
        save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "step": done}, ckpt_path)
        if args.weights is not None:
            save_atomic({"model": {k: v.cpu() for k, v in model.state_dict().items()}, "step": done}, args.weights)

    cache.wait_for(args.ready)
    t0 = time.time()
    model.train()
    step = start
    while True:
        elapsed = time.time() - t0
        progress = elapsed / args.time_budget if args.time_budget else step / max(1, args.steps)
        if progress >= 1.0 or (args.stop_after is not None and step >= args.stop_after):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(progress, step - start if args.time_budget else step, args.lr, args.warmup)
        images, tokens, keys = cache.batch(args.batch, mean, std)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.amp):
            img = model.encode_image(images)
            txt = encode_text_truncated(model, tokens)
        loss = contrastive_loss(img, txt, model.logit_scale.exp(), keys)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        step += 1
        if step % args.log_every == 0:
            seen = (step - start) * args.batch
            write({"step": step, "loss": round(loss.item(), 4), "lr": opt.param_groups[0]["lr"],
                   "logit_scale": round(model.logit_scale.exp().item(), 2), "elapsed_s": round(time.time() - t0, 1),
                   "samples_seen": seen, "samples_rendered": cache.count,
                   "samples_per_s": round(seen / max(1e-9, time.time() - t0), 1)})
        if step % args.eval_every == 0:
            write({"step": step, "eval": evaluate(model, sets, device)})
            checkpoint(step)
    cache.close()
    wall = time.time() - t0
    if step % args.eval_every != 0:
        write({"step": step, "eval": evaluate(model, sets, device)})
    checkpoint(step)
    phase.update({"final_step": step, "samples_seen": (step - start) * args.batch, "samples_rendered": cache.count,
                  "wall_s": round(wall, 1), "samples_per_s": round((step - start) * args.batch / max(wall, 1e-9), 1)})
    recipe_path.write_text(json.dumps(recipe, indent=2))


if __name__ == "__main__":
    main()
