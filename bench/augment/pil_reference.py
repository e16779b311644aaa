#!/usr/bin/env python3
"""The blog's PIL RandAugment pipeline (the seed code's Rand_Augment), timed.

Prints "images_per_second <rate>" for Rand_Augment(Numbers=2, max_Magnitude=10)
applied to random images of --size WxHxC, on one core, using process CPU time
(as bench_augment uses thread CPU time), for about --seconds of CPU.
The ops, tables and their quirks are the blog's as written, bugs included
(equalize returns the image; shear uses bicubic; shear and translate hand
their gray to transform() as `fill=`, which Pillow ignores for AFFINE, so they
fill black, where the `seed` op set fills 128 on purpose): this is the speed
reference, not a correctness one (tests/augment/pil_parity.py checks our
kernels, and pins that `fill=` gives black).
Needs Pillow only (Debian: python3-pil); no numpy."""
import argparse
import random
import time

from PIL import Image, ImageEnhance, ImageOps

# Pillow >= 9.1 names the constants in enums (the old names go in 10).
AFFINE = getattr(Image, 'Transform', Image).AFFINE
BICUBIC = getattr(Image, 'Resampling', Image).BICUBIC


def linspace(lo, hi, n):
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


class RandAugment:
    def __init__(self, numbers=2, max_magnitude=10):
        self.numbers = numbers
        self.max_magnitude = max_magnitude
        self.transforms = ['autocontrast', 'equalize', 'rotate', 'solarize', 'color', 'posterize',
                           'contrast', 'brightness', 'sharpness', 'shearX', 'shearY', 'translateX', 'translateY']
        self.ranges = {
            'shearX': linspace(0, 0.3, 10),
            'shearY': linspace(0, 0.3, 10),
            'translateX': linspace(0, 0.2, 10),
            'translateY': linspace(0, 0.2, 10),
            'rotate': linspace(0, 360, 10),
            'color': linspace(0.0, 0.9, 10),
            'posterize': [int(round(v)) for v in linspace(8, 4, 10)],
            'solarize': linspace(256, 231, 10),
            'contrast': linspace(0.0, 0.5, 10),
            'sharpness': linspace(0.0, 0.9, 10),
            'brightness': linspace(0.0, 0.3, 10),
            'autocontrast': [0] * 10,
            'equalize': [0] * 10,
        }
        fill = (128, 128, 128)  # as the blog: passed as fill=, which does not set the colour
        self.func = {
            'shearX': lambda img, m: img.transform(img.size, AFFINE, (1, m * random.uniform(-1, 1), 0, 0, 1, 0),
                                                   BICUBIC, fill=fill),
            'shearY': lambda img, m: img.transform(img.size, AFFINE, (1, 0, 0, m * random.uniform(-1, 1), 1, 0),
                                                   BICUBIC, fill=fill),
            'translateX': lambda img, m: img.transform(
                img.size, AFFINE, (1, 0, m * img.size[0] * random.uniform(-1, 1), 0, 1, 0), fill=fill),
            'translateY': lambda img, m: img.transform(
                img.size, AFFINE, (1, 0, 0, 0, 1, m * img.size[1] * random.uniform(-1, 1)), fill=fill),
            'rotate': self.rotate_with_fill,
            'color': lambda img, m: ImageEnhance.Color(img).enhance(1 + m * random.uniform(-1, 1)),
            'posterize': lambda img, m: ImageOps.posterize(img, m),
            'solarize': lambda img, m: ImageOps.solarize(img, m),
            'contrast': lambda img, m: ImageEnhance.Contrast(img).enhance(1 + m * random.uniform(-1, 1)),
            'sharpness': lambda img, m: ImageEnhance.Sharpness(img).enhance(1 + m * random.uniform(-1, 1)),
            'brightness': lambda img, m: ImageEnhance.Brightness(img).enhance(1 + m * random.uniform(-1, 1)),
            'autocontrast': lambda img, m: ImageOps.autocontrast(img),
            'equalize': lambda img, m: img,
        }

    def rotate_with_fill(self, img, magnitude):
        rot = img.convert('RGBA').rotate(magnitude)
        return Image.composite(rot, Image.new('RGBA', rot.size, (128,) * 4), rot).convert(img.mode)

    def __call__(self, img):
        for _ in range(self.numbers):
            op = random.choice(self.transforms)
            level = random.randrange(0, self.max_magnitude)
            img = self.func[op](img, self.ranges[op][level])
        return img


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', default='32x32x3')
    ap.add_argument('--seconds', type=float, default=1.0)
    args = ap.parse_args()
    w, h, c = (int(v) for v in args.size.split('x'))
    mode = 'RGB' if c == 3 else 'L'
    rnd = random.Random(7)
    pool = [Image.frombytes(mode, (w, h), bytes(rnd.randrange(256) for _ in range(w * h * c))) for _ in range(64)]
    aug = RandAugment(2, 10)
    random.seed(1)
    done, start = 0, time.process_time()
    while time.process_time() - start < args.seconds:
        for img in pool:
            aug(img)
        done += len(pool)
    print('images_per_second %.1f' % (done / (time.process_time() - start)))


if __name__ == '__main__':
    main()
