// pix2pix-color in the browser: the library's pipeline (pix2pix_color/inference.py) in JavaScript.
//
// The photo keeps its own full-resolution lightness (L*); the network predicts a*b* at the working
// size; the a*b* come back to full size by the same guided upsampling as the library
// (image_processor.py: a local linear model of a*b* on L*, its coefficients upsampled bilinearly,
// chroma bounded by the largest predicted nearby), and L*a*b* -> sRGB with the same constants.
// Written by hand because no maintained JavaScript library does guided upsampling or CIE Lab on
// typed arrays; each function says which Python function it mirrors.

export const MAX_PIXELS = 50_000_000; // pix2pix_color.io.images.DEFAULT_MAX_PIXELS
const L_SCALE = 50, L_SHIFT = 1, AB_SCALE = 110; // pix2pix_color.core.color
const XYZN_FROM_RGB = [
  [0.4339463633781182, 0.3762138731364483, 0.1898250339305817],
  [0.212671, 0.71516, 0.072169],
  [0.017756674595666908, 0.10946887943939825, 0.8727046462716862],
]; // XYZ / D65 white from linear sRGB
const XYZN_FROM_RGB_Y = XYZN_FROM_RGB[1]; // the Y row (white Y = 1)
const RGB_FROM_XYZN = [
  [3.0799803022718044, -1.5371515162713185, -0.5428213080224701],
  [-0.9212477523232383, 1.8759900014898907, 0.045247339514465995],
  [0.05289046109881183, -0.20404133836651123, 1.1512320119619401],
];

const LINEAR = new Float32Array(256); // sRGB byte -> linear
for (let v = 0; v < 256; v++) {
  const x = v / 255;
  LINEAR[v] = x > 0.04045 ? Math.pow((x + 0.055) / 1.055, 2.4) : x / 12.92;
}

function f(t) { return t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116; }
function fInverse(t) { return t > 0.2068966 ? t * t * t : (t - 16 / 116) / 7.787; }
function toSrgbByte(x) {
  const c = x <= 0 ? 0 : x >= 1 ? 1 : x;
  const s = c > 0.0031308 ? 1.055 * Math.pow(c, 1 / 2.4) - 0.055 : 12.92 * c;
  return Math.round(Math.min(1, Math.max(0, s)) * 255);
}

// rgb_to_l: RGBA bytes (ImageData.data) -> L* (Float32Array, H*W) in [0,100].
export function lightness(rgba, width, height) {
  const L = new Float32Array(width * height);
  const [ry, gy, by] = XYZN_FROM_RGB_Y;
  for (let i = 0, p = 0; i < L.length; i++, p += 4) {
    const y = ry * LINEAR[rgba[p]] + gy * LINEAR[rgba[p + 1]] + by * LINEAR[rgba[p + 2]];
    L[i] = 116 * f(y) - 16;
  }
  return L;
}

// image_processor.working_shape: aspect kept, long side near `longSide`, both multiples of `multiple`.
export function workingShape(height, width, longSide, multiple) {
  const snap = (x) => Math.max(multiple, Math.round(x / multiple) * multiple);
  const long = snap(longSide);
  return height >= width ? [long, snap((long * width) / height)] : [snap((long * height) / width), long];
}

// One axis of torch's bilinear resize (align_corners=False); with `antialias` and shrinking, the
// triangle filter widened by the scale, as F.interpolate(..., antialias=True) does.
function axisWeights(inSize, outSize, antialias) {
  const scale = inSize / outSize;
  const support = antialias && scale > 1 ? scale : 1;
  const taps = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    if (support === 1) {
      const src = Math.max(0, center - 0.5);
      const i0 = Math.min(Math.floor(src), inSize - 1), i1 = Math.min(i0 + 1, inSize - 1);
      const w1 = src - i0;
      taps.push([[i0, 1 - w1], [i1, w1]]);
    } else {
      const lo = Math.max(0, Math.floor(center - support + 0.5)), hi = Math.min(inSize, Math.floor(center + support + 0.5));
      const row = [];
      let total = 0;
      for (let i = lo; i < hi; i++) {
        const w = Math.max(0, 1 - Math.abs((i + 0.5 - center) / support));
        if (w > 0) { row.push([i, w]); total += w; }
      }
      taps.push(row.map(([i, w]) => [i, w / total]));
    }
  }
  return taps;
}

// image_processor.resize on `channels` planes (Float32Array, c*H*W) -> (c*h*w).
// `antialias` false is F.interpolate(..., mode="bilinear") without it (propagation's upsampling).
export function resize(planes, channels, H, W, h, w, antialias = h < H || w < W) {
  const rows = axisWeights(H, h, antialias), cols = axisWeights(W, w, antialias);
  const tmp = new Float32Array(channels * H * w), out = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < H; y++) {
      const src = c * H * W + y * W, dst = c * H * w + y * w;
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (const [i, wt] of cols[x]) s += planes[src + i] * wt;
        tmp[dst + x] = s;
      }
    }
    for (let y = 0; y < h; y++) {
      const dst = c * h * w + y * w;
      for (const [i, wt] of rows[y]) {
        const src = c * H * w + i * w;
        for (let x = 0; x < w; x++) out[dst + x] += tmp[src + x] * wt;
      }
    }
  }
  return out;
}

// A (2r+1)^2 mean with count_include_pad=False (F.avg_pool2d in guided_coefficients).
function boxMean(src, h, w, r) {
  const tmp = new Float32Array(h * w), out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0, n = 0;
      for (let k = Math.max(0, x - r); k <= Math.min(w - 1, x + r); k++) { s += src[y * w + k]; n++; }
      tmp[y * w + x] = s / n;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0, n = 0;
      for (let k = Math.max(0, y - r); k <= Math.min(h - 1, y + r); k++) { s += tmp[k * w + x]; n++; }
      out[y * w + x] = s / n;
    }
  }
  return out;
}

// image_processor.guided_coefficients: L* (h*w) and a*b* (2*h*w) -> 5 maps (slope a, b, offset a, b, bound).
export function guidedCoefficients(Llow, ab, h, w, radius = 2, eps = 1e-3) {
  const n = h * w, guide = new Float32Array(n), sq = new Float32Array(n);
  for (let i = 0; i < n; i++) { guide[i] = Llow[i] / 100; sq[i] = guide[i] * guide[i]; }
  const meanG = boxMean(guide, h, w, radius), meanGG = boxMean(sq, h, w, radius);
  const maps = new Float32Array(5 * n);
  for (let c = 0; c < 2; c++) {
    const a = ab.subarray(c * n, (c + 1) * n), ga = new Float32Array(n);
    for (let i = 0; i < n; i++) ga[i] = guide[i] * a[i];
    const meanA = boxMean(a, h, w, radius), meanGA = boxMean(ga, h, w, radius);
    const slope = new Float32Array(n), offset = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const variance = meanGG[i] - meanG[i] * meanG[i];
      slope[i] = (meanGA[i] - meanG[i] * meanA[i]) / (variance + eps);
      offset[i] = meanA[i] - slope[i] * meanG[i];
    }
    maps.set(boxMean(slope, h, w, radius), c * n);
    maps.set(boxMean(offset, h, w, radius), (2 + c) * n);
  }
  const chroma = new Float32Array(n);
  for (let i = 0; i < n; i++) chroma[i] = Math.hypot(ab[i], ab[n + i]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let m = 0;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++)
        for (let xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1); xx++) m = Math.max(m, chroma[yy * w + xx]);
      maps[4 * n + y * w + x] = m;
    }
  }
  return maps;
}

// image_processor.compose_rgb: full-size L* and the 5 maps -> RGBA bytes, alpha from `alpha` (or 255).
export function compose(L, H, W, maps, h, w, alpha) {
  const full = resize(maps, 5, h, w, H, W); // bilinear upsampling of the smooth maps
  const n = H * W, out = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    const l = L[i];
    let a = full[i] * (l / 100) + full[2 * n + i];
    let b = full[n + i] * (l / 100) + full[3 * n + i];
    const c = Math.sqrt(a * a + b * b), bound = full[4 * n + i];
    if (c > bound && c > 1e-6) { const s = bound / c; a *= s; b *= s; }
    const fy = (Math.min(100, Math.max(0, l)) + 16) / 116;
    const X = fInverse(fy + a / 500), Y = fInverse(fy), Z = fInverse(Math.max(0, fy - b / 200));
    const p = 4 * i;
    for (let k = 0; k < 3; k++) {
      const m = RGB_FROM_XYZN[k];
      out[p + k] = toSrgbByte(m[0] * X + m[1] * Y + m[2] * Z);
    }
    out[p + 3] = alpha ? alpha[p + 3] : 255;
  }
  return out;
}

// color.gray_version: the photo as it looks in black and white (its own L*, a* = b* = 0), as RGBA bytes.
export function grayRgba(L, alpha) {
  const out = new Uint8ClampedArray(4 * L.length);
  for (let i = 0; i < L.length; i++) {
    const v = toSrgbByte(fInverse((Math.min(100, Math.max(0, L[i])) + 16) / 116));
    out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = v;
    out[4 * i + 3] = alpha ? alpha[4 * i + 3] : 255;
  }
  return out;
}

// Variations (pipeline/variations.py): a graph that takes `sector_boost` makes the coloring with one
// 45-degree hue sector favoured, and says with `sector_scores` which sectors have the most to offer.
export const SECTORS = 8, BOOST = 1.25; // variations.SECTORS, variations.BOOST
export const SECTOR_NAMES = ["red", "orange", "yellow", "green", "cyan", "blue", "violet", "magenta"];
export const makesVariations = (session) => session.inputNames.includes("sector_boost");

// variations.ranked_sectors: the `count` best sectors by score, ties by index.
export function rankedSectors(scores, count) {
  const order = [...Array(SECTORS).keys()].sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(count, SECTORS)));
}

// The network's part, given an ort.InferenceSession: L* at the working size -> {ab: a*b* (2*h*w) in
// Lab units, scores: the sectors' scores (null from a graph without variations)}. `hints`:
// hintChannels' (3*h*w) planes, or null for none; `sector`: the variation's favoured sector, or null.
export async function predictAb(ort, session, Llow, h, w, takesHints, hints = null, sector = null) {
  const input = new Float32Array(h * w);
  for (let i = 0; i < input.length; i++) input[i] = Llow[i] / L_SCALE - L_SHIFT;
  const feeds = { L: new ort.Tensor("float32", input, [1, 1, h, w]) };
  if (takesHints) feeds.hints = new ort.Tensor("float32", hints ?? new Float32Array(3 * h * w), [1, 3, h, w]);
  if (makesVariations(session)) {
    const boost = new Float32Array(SECTORS);
    if (sector !== null) boost[sector] = BOOST;
    feeds.sector_boost = new ort.Tensor("float32", boost, [SECTORS]);
  } else if (sector !== null) throw new Error("this model's graph makes no variations");
  const result = await session.run(feeds);
  const ab = result.ab.data;
  const out = new Float32Array(ab.length);
  for (let i = 0; i < ab.length; i++) out[i] = ab[i] * AB_SCALE;
  return { ab: out, scores: result.sector_scores ? Array.from(result.sector_scores.data) : null };
}

// Colorize: RGBA bytes of the photo (and hint points {x, y, color: "#rrggbb"} in its pixels; a
// variation's sector or null) -> everything needed to (re)draw it at any color strength.
export async function prepare(ort, session, config, rgba, width, height, points = [], sector = null) {
  const L = lightness(rgba, width, height);
  const multiple = 2 ** config.depth;
  const [h, w] = workingShape(height, width, config.image_size, multiple);
  const Llow = resize(L, 1, height, width, h, w);
  const hints = config.hints && points.length ? hintChannels(points, height, width, h, w) : null;
  const { ab, scores } = await predictAb(ort, session, Llow, h, w, Boolean(config.hints), hints, sector);
  // The propagation's field does not depend on the strength: solved once per photo and hint set.
  const field = hints ? hintField(Llow, hints, h, w, [height, width]) : null;
  return { L, Llow, ab, field, h, w, width, height, gain: config.chroma_gain ?? 1, hints, sector, scores };
}

// A variation of a prepared photo (the network once more, the photo not read again) and its preview
// at the working size, as the app's gallery shows them (no full-resolution finish until it is picked).
export async function vary(ort, session, config, prepared, sector) {
  const { Llow, h, w, hints } = prepared;
  const { ab } = await predictAb(ort, session, Llow, h, w, Boolean(config.hints), hints, sector);
  const varied = { ...prepared, ab, sector };
  const n = h * w, scaled = new Float32Array(ab.length);
  for (let i = 0; i < ab.length; i++) scaled[i] = ab[i] * varied.gain;
  const maps = guidedCoefficients(Llow, varied.field ? blendHints(scaled, varied.field, n) : scaled, h, w);
  return { varied, preview: compose(Llow, h, w, maps, h, w, null) };
}

// pipeline.apply_strength_and_hints + finish: the network's colors times gain x strength, the
// hints blended in, then the full-resolution finish.
export function render(prepared, strength, alpha) {
  const { L, Llow, ab, field, h, w, width, height, gain } = prepared;
  const n = h * w, scaled = new Float32Array(ab.length);
  for (let i = 0; i < ab.length; i++) scaled[i] = ab[i] * gain * strength;
  const maps = guidedCoefficients(Llow, field ? blendHints(scaled, field, n) : scaled, h, w);
  return compose(L, height, width, maps, h, w, alpha);
}

// --- Hints: hints.py and propagation.py in JavaScript (the library's solve is scipy's sparse LU,
// which the browser has none of; here a preconditioned conjugate gradient solves the same system).

export const SIGMA_L = 4.0, REACH = 0.25, HINT_WEIGHT = 100.0, SOLVE_SIDE = 128; // propagation.py

// color.rgb_to_lab's a*, b* of "#rrggbb" (hints._chroma).
export function hintAb(color) {
  const rgb = [1, 3, 5].map((i) => LINEAR[parseInt(color.slice(i, i + 2), 16)]);
  const [fx, fy, fz] = XYZN_FROM_RGB.map((row) => f(row[0] * rgb[0] + row[1] * rgb[1] + row[2] * rgb[2]));
  return [500 * (fx - fy), 200 * (fy - fz)];
}

// hints.hint_channels: points in an H x W photo -> (3*h*w): a*b* / 110 and a 0/1 mask, points that
// share a working pixel averaged.
export function hintChannels(points, H, W, h, w) {
  const out = new Float32Array(3 * h * w), count = new Float32Array(h * w), n = h * w;
  for (const { x, y, color } of points) {
    const col = Math.min(w - 1, Math.max(0, Math.floor((x * w) / W)));
    const row = Math.min(h - 1, Math.max(0, Math.floor((y * h) / H)));
    const [a, b] = hintAb(color), i = row * w + col;
    out[i] += a / AB_SCALE; out[n + i] += b / AB_SCALE; count[i] += 1;
  }
  for (let i = 0; i < n; i++) {
    if (count[i] > 0) { out[i] /= count[i]; out[n + i] /= count[i]; out[2 * n + i] = 1; }
  }
  return out;
}

// propagation.solve_shape: the grid every hint is solved on (the photo's aspect, long side 128).
export function solveShape(H, W) {
  const scale = SOLVE_SIDE / Math.max(H, W);
  return [Math.max(1, Math.round(H * scale)), Math.max(1, Math.round(W * scale))];
}

// F.adaptive_avg_pool2d's bins: output i averages inputs floor(i*in/out) .. ceil((i+1)*in/out) - 1.
function adaptiveBins(inSize, outSize) {
  return Array.from({ length: outSize }, (_, i) => [Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)]);
}

// propagation._pool_hints: hint values (3*h*w: a*, b*, 1) where `mask` is set -> their means on a
// gh x gw grid and that grid's mask.
function poolHints(values, mask, h, w, gh, gw) {
  const rows = adaptiveBins(h, gh), cols = adaptiveBins(w, gw), n = h * w, m = gh * gw;
  const pooled = new Float64Array(3 * m), gridMask = new Float64Array(m);
  for (let gy = 0; gy < gh; gy++) {
    for (let gx = 0; gx < gw; gx++) {
      let c0 = 0, c1 = 0, c2 = 0, count = 0;
      for (let y = rows[gy][0]; y < rows[gy][1]; y++) {
        for (let x = cols[gx][0]; x < cols[gx][1]; x++) {
          const i = y * w + x;
          if (mask[i]) { c0 += values[i]; c1 += values[n + i]; c2 += values[2 * n + i]; count++; }
        }
      }
      const j = gy * gw + gx;
      if (count > 0) { pooled[j] = c0 / count; pooled[m + j] = c1 / count; pooled[2 * m + j] = c2 / count; gridMask[j] = 1; }
    }
  }
  return { pooled, gridMask };
}

// propagation._solve: the field (channels*h*w) minimising sum w_rs (d_r - d_s)^2 + decay sum d_r^2
// + HINT_WEIGHT sum_hints (d_h - t_h)^2 on the 4-neighbour grid of L* (h*w), w_rs = exp(-dL^2 / 2 sigma^2).
// The system (graph Laplacian + diagonal) is symmetric positive definite: conjugate gradient with a
// Jacobi preconditioner, to a relative residual of 1e-6 (far below a 1/255 step of the result).
export function solveField(L, target, mask, channels, h, w, decay, sigma) {
  const n = h * w, right = new Float64Array(n), down = new Float64Array(n), diag = new Float64Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (x + 1 < w) { const d = L[i] - L[i + 1]; right[i] = Math.exp(-(d * d) / (2 * sigma * sigma)); }
      if (y + 1 < h) { const d = L[i] - L[i + w]; down[i] = Math.exp(-(d * d) / (2 * sigma * sigma)); }
    }
  }
  for (let i = 0; i < n; i++) {
    const x = i % w;
    diag[i] = decay + HINT_WEIGHT * mask[i] + right[i] + down[i] + (x > 0 ? right[i - 1] : 0) + (i >= w ? down[i - w] : 0);
  }
  const multiply = (v, out) => {
    for (let i = 0; i < n; i++) {
      const x = i % w;
      let s = diag[i] * v[i];
      if (x + 1 < w) s -= right[i] * v[i + 1];
      if (x > 0) s -= right[i - 1] * v[i - 1];
      if (i + w < n) s -= down[i] * v[i + w];
      if (i >= w) s -= down[i - w] * v[i - w];
      out[i] = s;
    }
  };
  const field = new Float32Array(channels * n);
  const r = new Float64Array(n), z = new Float64Array(n), p = new Float64Array(n), q = new Float64Array(n);
  for (let c = 0; c < channels; c++) {
    const xs = new Float64Array(n);
    let bNorm = 0;
    for (let i = 0; i < n; i++) { r[i] = target[c * n + i] * HINT_WEIGHT * mask[i]; bNorm += r[i] * r[i]; }
    if (bNorm === 0) continue;
    let rz = 0;
    for (let i = 0; i < n; i++) { z[i] = r[i] / diag[i]; p[i] = z[i]; rz += r[i] * z[i]; }
    for (let k = 0; k < 10 * n; k++) {
      multiply(p, q);
      let pq = 0;
      for (let i = 0; i < n; i++) pq += p[i] * q[i];
      const alpha = rz / pq;
      let rr = 0;
      for (let i = 0; i < n; i++) { xs[i] += alpha * p[i]; r[i] -= alpha * q[i]; rr += r[i] * r[i]; }
      if (rr <= 1e-12 * bNorm) break;
      let rzNext = 0;
      for (let i = 0; i < n; i++) { z[i] = r[i] / diag[i]; rzNext += r[i] * z[i]; }
      const beta = rzNext / rz;
      rz = rzNext;
      for (let i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
    }
    for (let i = 0; i < n; i++) field[c * n + i] = xs[i];
  }
  return field;
}

// The end of propagation.propagate_hints: a*b* (2*n) and hintField's field -> (1 - s) ab + C, in place.
export function blendHints(ab, field, n) {
  for (let i = 0; i < n; i++) {
    const s = Math.min(1, Math.max(0, field[2 * n + i]));
    ab[i] = ab[i] * (1 - s) + field[i];
    ab[n + i] = ab[n + i] * (1 - s) + field[n + i];
  }
  return ab;
}

// propagation.propagate_hints' field: L* (h*w) and hintChannels (3*h*w) on the working grid ->
// (3*h*w): the influence-weighted hint a*b* C and the influence s (result: (1 - s) ab + C).
export function hintField(Llow, hints, h, w, [H, W], sigma = SIGMA_L, reach = REACH) {
  const n = h * w, mask = new Uint8Array(n), targets = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    mask[i] = hints[2 * n + i] > 0 ? 1 : 0;
    targets[i] = hints[i] * AB_SCALE; targets[n + i] = hints[n + i] * AB_SCALE; targets[2 * n + i] = 1;
  }
  const [gh, gw] = solveShape(H, W);
  const decay = 1 / (reach * Math.max(gh, gw)) ** 2;
  if (gh === h && gw === w) {
    const masked = targets.map((v, i) => v * mask[i % n]);
    return solveField(Llow, masked, mask, 3, h, w, decay, sigma);
  }
  const Lgrid = resize(Llow, 1, h, w, gh, gw);
  const { pooled, gridMask } = poolHints(targets, mask, h, w, gh, gw);
  return resize(solveField(Lgrid, pooled, gridMask, 3, gh, gw, decay, sigma), 3, gh, gw, h, w, false);
}

// --- The PNG the library writes (RGB, its sRGB profile, its provenance text chunks), in the browser.

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, body) {
  const enc = new TextEncoder();
  const data = new Uint8Array(4 + body.length);
  data.set(enc.encode(type), 0);
  data.set(body, 4);
  const out = new Uint8Array(12 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length);
  out.set(data, 4);
  view.setUint32(8 + body.length, crc32(data));
  return out;
}

// An iTXt chunk (UTF-8 text, uncompressed), as PIL's add_itxt writes it.
function itxtChunk(keyword, text) {
  const enc = new TextEncoder();
  return chunk("iTXt", new Uint8Array([...enc.encode(keyword), 0, 0, 0, 0, 0, ...enc.encode(text)]));
}

async function zlib(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// RGBA pixels -> the PNG `images.save_png` writes: 8-bit RGB, or RGBA only when the photo had
// transparency (as the library keeps it), the same sRGB ICC profile (`icc`: web/srgb.icc, tested to
// be the library's bytes) and the text chunks. Why by hand: a canvas only encodes RGBA without a
// profile; the browser's own CompressionStream does the deflate, each row unfiltered (filter 0).
export async function encodePng(rgba, width, height, { icc, text = {} }) {
  let alpha = false;
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) { alpha = true; break; }
  const channels = alpha ? 4 : 3;
  const raw = new Uint8Array(height * (1 + channels * width));
  for (let y = 0, i = 0, o = 0; y < height; y++) {
    raw[o++] = 0;
    for (let x = 0; x < width; x++, i += 4) {
      raw[o++] = rgba[i]; raw[o++] = rgba[i + 1]; raw[o++] = rgba[i + 2];
      if (alpha) raw[o++] = rgba[i + 3];
    }
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, alpha ? 6 : 2, 0, 0, 0], 8); // 8 bits, RGB(A), deflate, adaptive filters, no interlace
  const name = new TextEncoder().encode("ICC Profile");
  const profile = await zlib(icc);
  const iccp = new Uint8Array(name.length + 2 + profile.length);
  iccp.set(name, 0);
  iccp.set([0, 0], name.length); // the name's terminator, compression method 0
  iccp.set(profile, name.length + 2);
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", header),
    chunk("iCCP", iccp),
    ...Object.entries(text).map(([k, v]) => itxtChunk(k, v)),
    chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
