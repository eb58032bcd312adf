"""Train the generator from token shards with DistributedDataParallel, under ``torchrun``.

    torchrun --nproc_per_node N -m nomad_muse.training.train_ddp --shards DIR --out DIR [--steps 2000]

The shards come from :mod:`training.shards` (Lakh folders, GigaMIDI parquet).
Every rank loads the training streams of the shards it owns (shard ``i`` goes
to rank ``i mod world``, so each rank reads 1/world of the corpus), cuts them
into bar-aligned windows (:func:`training.generator_data.windows`) and draws
its own batches with augmentation (:func:`training.train_generator.make_batch`);
DDP averages the gradients, so one step sees ``world × --batch`` windows.
Backend: ``nccl`` when CUDA is present (rank r on GPU ``LOCAL_RANK``), else
``gloo`` on CPU.  The model, loss, schedule and header masking are the ones
of :mod:`training.train_generator`; rank 0 scores the validation split of all
shards every ``--eval-every`` steps, keeps the best state, and writes
``generator.pt``, ``generator.onnx`` (the step model the runtime ships,
:func:`training.generator_model.export_step_onnx`) and ``ddp_stats.json``.
Without ``torchrun`` (no ``WORLD_SIZE``) it runs as a world of one.
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
import torch.distributed as dist
from torch import nn

from nomad_muse.generator import vocab as V
from nomad_muse.generator.tokenizer import header_len
from nomad_muse.training.generator_data import windows
from nomad_muse.training.generator_model import GeneratorGRU, count_params, export_step_onnx
from nomad_muse.training.shards import load_shards
from nomad_muse.training.train_generator import make_batch, stream_nll


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shards", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seq-len", type=int, default=192)
    ap.add_argument("--batch", type=int, default=32, help="Windows per rank per step.")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--p-drums", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank.")
    ap.add_argument("--no-onnx", action="store_true", help="Skip the ONNX export (tests).")
    args = ap.parse_args(argv)

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    if world > 1:
        dist.init_process_group(backend)
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    rng = np.random.default_rng(args.seed + 1000 * rank)  # each rank its own batches

    t0 = time.time()
    train = load_shards(args.shards, "train", rank=rank, world=world)
    # shards carry no style labels: one style group ("any"), the headers as tokenized (no STYLE token)
    modes = {"tonal": [], "drums": []}
    for _, mode, toks in train:
        modes[mode] += list(windows(toks, args.seq_len, stride=args.seq_len // 2))
    if not modes["tonal"] and not modes["drums"]:
        raise SystemExit(f"rank {rank}: no training windows in {args.shards} (too few shards for {world} ranks?)")
    pool, weights = {"any": modes}, {"any": 1.0}
    load_s = time.time() - t0

    model = GeneratorGRU().to(device)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None) if world > 1 else model
    opt = torch.optim.AdamW(ddp.parameters(), lr=args.lr, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss(ignore_index=V.PAD)
    val = load_shards(args.shards, "validation") if rank == 0 else []
    best, best_state, history = math.inf, None, []
    t_train = time.time()
    for step in range(1, args.steps + 1):
        ddp.train()
        x = make_batch(pool, args.batch, rng, weights, args.p_drums, 0.0).to(device)
        logits, _ = ddp(x[:, :-1])
        tgt = x[:, 1:].clone()
        tgt[:, : header_len(x[0].tolist()) - 1] = V.PAD  # the header is given, not predicted
        loss = loss_fn(logits.reshape(-1, V.VOCAB_SIZE), tgt.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(ddp.parameters(), 1.0)
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        opt.step()
        if rank == 0 and (step % args.eval_every == 0 or step == args.steps):
            v = stream_nll(model, val, device) if val else {"all": float(loss)}
            history.append({"step": step, "seconds": round(time.time() - t_train, 2), "train_loss": float(loss), "val_nll": v["all"]})
            print(history[-1], flush=True)
            if v["all"] < best:
                best, best_state = v["all"], {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}
    train_s = time.time() - t_train
    # every rank holds the same weights after each step (DDP): check it, cheaply, on one tensor
    if world > 1:
        w = model.head.bias.detach().clone()
        ws = [torch.zeros_like(w) for _ in range(world)]
        dist.all_gather(ws, w)
        in_sync = all(torch.equal(ws[0], x) for x in ws)
    else:
        in_sync = True
    if rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
        if best_state is not None:
            model.load_state_dict(best_state)
        model = model.cpu()
        torch.save(model.state_dict(), args.out / "generator.pt")
        if not args.no_onnx:
            export_step_onnx(model, args.out / "generator.onnx")
        stats = {"world_size": world, "backend": backend, "device": str(device), "params": count_params(model),
                 "steps": args.steps, "batch_per_rank": args.batch, "train_streams_rank0": len(train),
                 "windows_rank0": {k: len(v) for k, v in modes.items()}, "load_seconds": round(load_s, 2),
                 "train_seconds": round(train_s, 2), "windows_per_s": args.steps * args.batch * world / train_s,
                 "ranks_in_sync": in_sync, "best_val_nll": best, "history": history}
        (args.out / "ddp_stats.json").write_text(json.dumps(stats, indent=1))
        print(json.dumps({k: stats[k] for k in ("world_size", "backend", "steps", "best_val_nll", "ranks_in_sync", "windows_per_s")}))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
