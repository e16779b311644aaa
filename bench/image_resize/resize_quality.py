#!/usr/bin/env python3
"""Resize quality and speed: ours (ns_image_resize) vs stb_image_resize v1,
with Pillow as the reference, on deterministic generated images (a zone
plate, which shows aliasing, and a photo-like scene of smooth shading, hard
edges and fine noise) plus any image files given.

For each image and target size it prints the PSNR (dB) of every method
against Pillow's BILINEAR (what torchvision's Resize does on PIL images and
on tensors with antialias=True), BICUBIC and LANCZOS (the sharpest
antialiased reference), and the microseconds per resize measured by
bench_image_resize in the same run (so the ratio to ours is what counts).

  /usr/bin/python3 bench/image_resize/resize_quality.py build/bin/bench_image_resize [photo.jpg ...]
Needs Pillow and numpy (Debian: python3-pil python3-numpy)."""
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

R = getattr(Image, 'Resampling', Image)


def zone_plate(n=512):
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) - n / 2
    v = 127.5 + 127.5 * np.cos(math.pi * (x * x + y * y) / n)
    return np.repeat(v[:, :, None], 3, axis=2).round().astype(np.uint8)


def scene(h=480, w=640, seed=1):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([60 + 120 * x / w, 80 + 100 * y / h, 150 - 60 * (x + y) / (w + h)], axis=2)
    for _ in range(40):  # hard-edged discs and boxes
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(5, 80)
        col = rng.uniform(0, 255, 3)
        if rng.random() < 0.5:
            m = (y - cy) ** 2 + (x - cx) ** 2 < r * r
        else:
            m = (abs(y - cy) < r) & (abs(x - cx) < r * 0.6)
        img[m] = col
    img += rng.normal(0, 12, img.shape)  # texture / sensor noise
    return img.clip(0, 255).round().astype(np.uint8)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    bench = sys.argv[1]
    images = [('zone_plate_512', zone_plate()), ('scene_640x480', scene())]
    for p in sys.argv[2:]:
        images.append((os.path.basename(p), np.asarray(Image.open(p).convert('RGB'))))
    sizes = [(32, 32), (64, 64), (224, 224), (96, 96)]
    refs = [('BILINEAR', R.BILINEAR), ('BICUBIC', R.BICUBIC), ('LANCZOS', R.LANCZOS)]
    methods = ['ours', 'stb_default', 'stb_triangle']
    print('image size method ' + ' '.join('psnr_vs_pil_' + n for n, _ in refs) + ' us ratio_to_ours')
    with tempfile.TemporaryDirectory() as tmp:
        for name, img in images:
            h, w, c = img.shape
            src = os.path.join(tmp, 'in.raw')
            img.tofile(src)
            for dh, dw in sizes:
                if (dh, dw) == (96, 96):  # upsampling: from a 32x32 Pillow-bilinear thumbnail
                    small = np.asarray(Image.fromarray(img).resize((32, 32), R.BILINEAR))
                    small.tofile(src)
                    sh, sw = 32, 32
                else:
                    img.tofile(src)
                    sh, sw, small = h, w, img
                out = subprocess.run([bench, src, str(sh), str(sw), str(c), tmp, str(dh), str(dw), '30'],
                                     check=True, capture_output=True, text=True).stdout.split('\n')
                timing = {l.split()[0][:-3]: (float(l.split()[1]), float(l.split()[3])) for l in out if l}
                pil = {n: np.asarray(Image.fromarray(small).resize((dw, dh), f)) for n, f in refs}
                for m in methods:
                    res = np.fromfile(os.path.join(tmp, m + '.raw'), dtype=np.uint8).reshape(dh, dw, c)
                    q = ' '.join('%.2f' % psnr(res, pil[n]) for n, _ in refs)
                    print('%s %dx%d%s %s %s %.1f %.2f' % (name, dw, dh, '(up)' if sh < dh else '', m, q,
                                                          timing[m][0], timing[m][1]))


if __name__ == '__main__':
    main()
