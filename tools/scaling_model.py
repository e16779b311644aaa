#!/usr/bin/env python3
"""The scaling model of docs/scaling.md: predicted data-parallel efficiency of
synchronous SGD with one ring all-reduce of the whole gradient per step.

  T_step(N) = T_compute + T_allreduce(N)
  T_allreduce(N) = 2 (N-1)/N * S / BW + 2 (N-1) * alpha        (ring: 2(N-1) hops)
  efficiency(N) = T_compute / T_step(N)                      (weak scaling: the
                  per-rank batch b is fixed, so T_compute does not change with N)

S = 4 bytes x parameters (fp32 gradients), BW the bottleneck link's bandwidth
per direction, alpha the per-hop latency. No overlap of the all-reduce with the
backward pass is assumed (what core/dist does today); overlap would hide up to
the backward's ~2/3 of T_compute.

Calibration (--cpu-ms-per-image): training compute per image on one 2-core
rank, from bench/mpi/bench_mpi's "1 x 2" compute ms / global batch; the other
models scale by their training FLOPs (ns_model_flops). The GPU rank assumes
--gpu-tflops effective training throughput.
  python3 tools/scaling_model.py --cpu-ms-per-image 2.1
"""
import argparse

# name: (parameters, training GFLOP per 3x32x32 image), from `noisystudent bench`'s header
MODELS = {
    "resnet20": (272474, 0.2449),
    "resnet50": (758554, 0.6696),
    "seed-resnet50": (23511210, 20.4873),
}
# name: (bytes/s per direction, per-hop latency s, most ranks it joins): effective figures,
# stated in docs/scaling.md; NVLink joins the GPUs of one node only (8), beyond it IB is the link
NETWORKS = {
    "10GbE": (1.1e9, 30e-6, None),
    "100GbE": (11e9, 10e-6, None),
    "IB-NDR": (45e9, 2e-6, None),
    "NVLink": (350e9, 3e-6, 8),
}
RANKS = (2, 8, 64, 512)


def allreduce_s(n, size_bytes, bw, alpha):
    return 0.0 if n == 1 else 2.0 * (n - 1) / n * size_bytes / bw + 2.0 * (n - 1) * alpha


def table(title, ms_per_gflop, batch):
    print(f"\n{title} (per-rank batch {batch})")
    head = f"{'model':<14} {'compute ms':>10}  " + "  ".join(f"{net:>22}" for net in NETWORKS)
    print(head)
    print(f"{'':<14} {'':>10}  " + "  ".join(f"{'N=' + '/'.join(map(str, RANKS)):>22}" for _ in NETWORKS))
    for name, (params, gflop) in MODELS.items():
        tc = batch * gflop * ms_per_gflop * 1e-3
        cells = []
        for net, (bw, alpha, most) in NETWORKS.items():
            effs = [f"{100 * tc / (tc + allreduce_s(n, 4.0 * params, bw, alpha)):.0f}" if not most or n <= most
                    else "-" for n in RANKS]
            cells.append("/".join(effs))
        print(f"{name:<14} {1e3 * tc:>10.1f}  " + "  ".join(f"{c:>22}" for c in cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu-ms-per-image", type=float, required=True,
                    help="resnet20 training compute per image on one rank (bench_mpi 1 x 2: compute ms / batch)")
    ap.add_argument("--gpu-tflops", type=float, default=75.0,
                    help="effective training TFLOP/s of one GPU rank (default 75: an H100 at ~3000 "
                         "ImageNet ResNet-50 images/s)")
    ap.add_argument("--batch", type=int, default=128, help="per-rank batch (default 128)")
    a = ap.parse_args()
    print("efficiency % at N ranks = T_compute / (T_compute + ring all-reduce); networks: " +
          ", ".join(f"{k} {v[0] / 1e9:g} GB/s, {v[1] * 1e6:g} us/hop" for k, v in NETWORKS.items()))
    print("(NVLink: within one 8-GPU node only; across nodes read the IB column)")
    for name, (params, gflop) in MODELS.items():
        print(f"  {name}: {params} parameters, gradient {4 * params / 1e6:.2f} MB, {gflop:.4f} training GFLOP/image")
    table("CPU ranks like this machine's (2 cores, calibrated)", a.cpu_ms_per_image / MODELS["resnet20"][1], a.batch)
    table(f"GPU ranks at {a.gpu_tflops:g} effective TFLOP/s (assumed)", 1e3 / (a.gpu_tflops * 1e3), a.batch)


if __name__ == "__main__":
    main()
