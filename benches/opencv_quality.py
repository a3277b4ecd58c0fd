"""OpenCV's equivalent of wa-onboard's photo quality measurements, for the `image_quality` benchmark.

For each NAME=PATH argument: cv2.imread(path, cv2.IMREAD_REDUCED_GRAYSCALE_4) (a JPEG decoded at 1/4 scale in
the DCT domain, straight to grayscale), then the same measurements as the Rust code: mean luma, document
detection (250 px, Otsu, largest rectangular contour, minAreaRect), variance of the Laplacian and share of
saturated pixels inside the document. Prints one JSON object per file with median and p90 times in ms.
One thread (cv2.setNumThreads(1)), like the Rust side.

Needs `pip install opencv-python-headless`.
"""

import argparse
import json
import sys
import time

try:
    import cv2
    import numpy as np
except ImportError as e:  # the benchmark prints how to install it
    sys.exit(f"cannot import OpenCV ({e})")


def measure(path):
    gray = cv2.imread(path, cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if gray is None:
        return None
    h, w = gray.shape
    k = 1000.0 / max(w, h)
    if k < 1.0:
        gray = cv2.resize(gray, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)
        h, w = gray.shape
    mean_luma = float(gray.mean())

    # Document: Otsu on a small blurred copy, both polarities, the largest fairly rectangular contour.
    d = 250.0 / max(w, h)
    small = cv2.resize(gray, (round(w * d), round(h * d)), interpolation=cv2.INTER_AREA)
    small = cv2.blur(small, (3, 3))
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    best = None
    for mask in (bright, 255 - bright):
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            area = cv2.contourArea(c)
            if area < 0.08 * small.size:
                continue
            rect = cv2.minAreaRect(c)
            (rw, rh) = rect[1]
            if rw * rh == 0 or area / (rw * rh) < 0.8:
                continue
            x, y, bw, bh = cv2.boundingRect(c)
            if (x <= 1 and x + bw >= small.shape[1] - 1) or (y <= 1 and y + bh >= small.shape[0] - 1):
                continue
            if best is None or area > best[0]:
                best = (area, rect)

    region = np.ones_like(gray, dtype=np.uint8)
    if best is not None:
        (cx, cy), (rw, rh), angle = best[1]
        rect = ((cx / d, cy / d), (rw / d * 0.94, rh / d * 0.94), angle)
        region = np.zeros_like(gray, dtype=np.uint8)
        cv2.fillConvexPoly(region, cv2.boxPoints(rect).astype(np.int32), 1)
    inside = region.astype(bool)
    lap = cv2.Laplacian(gray, cv2.CV_64F)
    blur = float(lap[inside].var())
    glare = float((gray[inside] >= 245).mean())
    return {"blur": blur, "glare": glare, "mean_luma": mean_luma, "document_found": best is not None}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("files", nargs="+", help="NAME=PATH")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    for item in args.files:
        name, path = item.split("=", 1)
        result = measure(path)  # warm up
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = measure(path)
            times.append((time.perf_counter() - start) * 1000.0)
        times.sort()
        out = {"name": name, "median_ms": times[len(times) // 2], "p90_ms": times[round((len(times) - 1) * 0.9)]}
        out.update(result or {"error": "cannot read"})
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
