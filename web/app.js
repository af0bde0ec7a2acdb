// The page: loads the model, takes a photo (pick, drop, paste), colorizes it in the browser, shows
// before / after, lets the color strength change without running the network again, takes color
// hints (a click on the photo puts the chosen color there), and saves a PNG.
import {
  MAX_PIXELS, SECTOR_NAMES, encodePng, grayRgba, makesVariations, prepare, rankedSectors, render, vary,
} from "./colorize.js";

const VERSION = "0.1.0"; // pix2pix_color/_version.py's (tests/test_web.py checks they agree)
const ORT_VERSION = "1.30.0"; // pinned in package.json; the CDN copy is the same release
const DEFAULT_MODEL = "https://huggingface.co/pix2pix-color/pix2pix-color-landscapes/resolve/main/onnx/model_fp16.onnx";
const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get("model") || document.body.dataset.model || DEFAULT_MODEL, location.href).href;
// Production loads onnxruntime-web from a CDN; `?ort=local` (the tests, an offline copy) from node_modules.
const ortBase = params.get("ort") === "local"
  ? new URL("node_modules/onnxruntime-web/dist/", import.meta.url).href
  : `https://cdn.jsdelivr.net/npm/onnxruntime-web@${ORT_VERSION}/dist/`;

const $ = (id) => document.getElementById(id);
const status = $("status"), strength = $("strength"), download = $("download");
let ort, session, config, prepared = null, source = null, busy = false;
let points = []; // the hints: {x, y, color} in the photo's pixels
let sector = null, plainScores = null; // the picked variation's hue sector; the plain coloring's scores

function say(text, error = false) {
  status.textContent = text;
  status.className = error ? "error" : "";
  document.body.dataset.state = error ? "error" : busy ? "busy" : "ready";
}

// The model and its config, cached together by the model's revision. Every visit asks for
// config.json afresh (a small file) and reads the revision from it: the Hub's X-Repo-Commit header,
// or elsewhere the model file's own validators (ETag / Last-Modified, from a HEAD request) with the
// config's text. The model (megabytes) comes from the cache only while that revision is the one
// cached; a re-published model is fetched again and the older copy dropped. Offline, the last
// cached pair is used as it is. A failure says which address answered what: nothing at all
// (offline, or a server that does not let this page read it: CORS), an HTTP error, or (for
// config.json) something that is not JSON.
const CACHE = "pix2pix-color-models";

async function fetchOrSay(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new Error(`${url} did not answer (offline, or its server does not let this page read it: CORS)`);
  }
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}${response.status === 404 ? " (not found)" : ""}`);
  return response;
}

function parseJson(url, text) {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${url} did not answer with JSON (is ?model= the address of a model's onnx/*.onnx file?)`);
  }
}

async function revisionOf(response, text) {
  const commit = response.headers.get("x-repo-commit");
  if (commit) return commit;
  let validators = "";
  try {
    const head = await fetch(modelUrl, { method: "HEAD", cache: "no-cache" });
    validators = head.headers.get("etag") || head.headers.get("last-modified") || "";
  } catch { /* no validators: the config's text alone */ }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${validators}|${hex}`;
}

// -> {config, bytes, revision}: the model's config and its ONNX graph, of one revision.
async function loadModelFiles() {
  const configUrl = new URL("../config.json", modelUrl).href;
  const cache = "caches" in self ? await caches.open(CACHE) : null;
  // Cache keys are URLs (the Cache API drops #fragments): the model's own with a marker parameter.
  const keyFor = (name, value) => { const u = new URL(modelUrl); u.searchParams.set(name, value); return u.href; };
  const pointer = keyFor("pix2pix-color-cached", "latest"); // the cached pair's revision and config
  let text, revision;
  try {
    const response = await fetchOrSay(configUrl, { cache: "no-cache" });
    text = await response.text();
    revision = await revisionOf(response, text);
  } catch (error) {
    const latest = cache && (await cache.match(pointer));
    if (!latest) throw error;
    ({ text, revision } = await latest.json()); // offline: the pair cached last
  }
  const config = parseJson(configUrl, text);
  const key = keyFor("pix2pix-color-revision", revision);
  let model = cache && (await cache.match(key));
  if (!model) {
    model = await fetchOrSay(modelUrl, { cache: "no-cache" });
    if (cache) {
      const ours = (u) => new URL(u).searchParams.has("pix2pix-color-revision");
      for (const old of await cache.keys()) if (old.url.split("?")[0] === modelUrl.split("?")[0] && ours(old.url)) await cache.delete(old);
      await cache.put(key, model.clone());
      await cache.put(pointer, new Response(JSON.stringify({ text, revision })));
    }
  }
  return { config, bytes: await model.arrayBuffer(), revision };
}

async function loadModel() {
  try {
    ort = await import(`${ortBase}ort.wasm.min.mjs`);
    ort.env.wasm.wasmPaths = ortBase;
    // Threads need cross-origin isolation (COOP/COEP headers); without it, one thread.
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    const files = await loadModelFiles();
    config = files.config;
    const bytes = files.bytes;
    session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  } catch (error) {
    say(`The model could not be loaded: ${error.message || error}.`, true);
    return;
  }
  $("about").textContent = `Model: ${modelUrl} (working size ${config.image_size} px). onnxruntime-web ${ORT_VERSION}, ` +
    `${ort.env.wasm.numThreads} thread${ort.env.wasm.numThreads > 1 ? "s" : ""}` +
    (self.crossOriginIsolated ? " (cross-origin isolated)" : " (not cross-origin isolated: one thread)") + ".";
  $("hint-controls").hidden = !config.hints;
  $("variations").hidden = !(config.head === "classification" && makesVariations(session));
  say("Ready: choose, drop or paste a photo.");
}

function openImage(file) {
  return new Promise((resolve, reject) => {
    if (file.type && !file.type.startsWith("image/")) {
      reject(new Error(`${file.name}: not an image file`));
      return;
    }
    const url = URL.createObjectURL(file);
    const image = new Image();
    image.onload = () => resolve({ image, url });
    image.onerror = () => { URL.revokeObjectURL(url); reject(new Error(`${file.name || "the file"}: not an image file, or a format this browser cannot read`)); };
    image.src = url;
  });
}

async function colorize(file) {
  if (!session) { say("The model is not loaded yet.", true); return; }
  if (busy) return;
  busy = true;
  say(`Colorizing ${file.name || "the pasted photo"}…`);
  try {
    const { image, url } = await openImage(file);
    const width = image.naturalWidth, height = image.naturalHeight;
    if (width * height > MAX_PIXELS) {
      URL.revokeObjectURL(url);
      throw new Error(`${file.name}: ${width}x${height} is ${Math.round(width * height / 1e6)} megapixels; the limit is ${MAX_PIXELS / 1e6} MP`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(image, 0, 0);
    URL.revokeObjectURL(url);
    const rgba = context.getImageData(0, 0, width, height).data;
    points = [];
    sector = null;
    $("gallery").replaceChildren();
    source = { rgba, width, height, name: (file.name || "photo").replace(/\.[^.]+$/, "") };
    await run(`${width}x${height} pixels, the size of your photo`);
    strength.disabled = false;
    $("variations").disabled = !plainScores;
  } catch (error) {
    clearResult();
    say(error.message || String(error), true);
  } finally {
    busy = false;
    if (status.className !== "error") document.body.dataset.state = "ready";
  }
}

// The network and the hints' propagation for the current photo and hints, then the drawing.
async function run(what) {
  const started = performance.now();
  const { rgba, width, height } = source;
  prepared = await prepare(ort, session, config, rgba, width, height, points, sector);
  if (sector === null) plainScores = prepared.scores; // which variations to offer: read on the plain coloring
  draw();
  drawMarkers();
  const seconds = (performance.now() - started) / 1000;
  document.body.dataset.seconds = seconds.toFixed(3);
  document.body.dataset.hints = String(points.length);
  say(`${what} in ${seconds.toFixed(2)} s. ` + (config.hints
    ? "Drag the slider to compare; click the photo to put the chosen color there."
    : "Drag the slider to compare."));
}

// "Show other colorings": the plain coloring and the three variations with the most to offer, as
// previews at the working size; a click makes one the result (strength, hints and the PNG then
// apply to it), as the app's gallery does (pipeline/variations.py).
async function showVariations() {
  if (!prepared || busy || !plainScores) return;
  busy = true;
  document.body.dataset.state = "busy";
  const base = { ...prepared, sector: null };
  try {
    const items = [{ sector: null, name: "as colorized" }];
    for (const s of rankedSectors(plainScores, 3)) items.push({ sector: s, name: `more ${SECTOR_NAMES[s]}` });
    const gallery = $("gallery");
    gallery.replaceChildren();
    for (const item of items) {
      const { varied, preview } = await vary(ort, session, config, base, item.sector);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "variation";
      button.dataset.sector = item.sector === null ? "" : String(item.sector);
      const canvas = document.createElement("canvas");
      canvas.width = varied.w; canvas.height = varied.h;
      canvas.getContext("2d").putImageData(new ImageData(preview, varied.w, varied.h), 0, 0);
      const caption = document.createElement("span");
      caption.textContent = item.name;
      button.append(canvas, caption);
      button.addEventListener("click", () => pick(button, varied));
      gallery.append(button);
    }
    say("Pick a coloring: where the model hesitated, these differ (the sky day or dusk, a cup red or blue).");
  } catch (error) {
    say(error.message || String(error), true);
  } finally {
    busy = false;
    if (status.className !== "error") document.body.dataset.state = "ready";
  }
}

function pick(button, varied) {
  if (busy) return;
  prepared = varied;
  sector = varied.sector;
  for (const b of $("gallery").children) b.classList.toggle("picked", b === button);
  draw();
  drawMarkers();
}

// A click on the photo adds a hint there with the chosen color (a hint model only).
async function addHint(event) {
  if (!prepared || busy || !config.hints) return;
  const box = $("after").getBoundingClientRect();
  const x = Math.floor(((event.clientX - box.left) / box.width) * prepared.width);
  const y = Math.floor(((event.clientY - box.top) / box.height) * prepared.height);
  if (x < 0 || y < 0 || x >= prepared.width || y >= prepared.height) return;
  points.push({ x, y, color: $("hint-color").value });
  await rerun(`Hint ${points.length} at (${x}, ${y})`);
}

async function rerun(what) {
  busy = true;
  document.body.dataset.state = "busy";
  document.body.dataset.png = "pending";
  try {
    await run(what);
  } catch (error) {
    say(error.message || String(error), true);
  } finally {
    busy = false;
    if (status.className !== "error") document.body.dataset.state = "ready";
    $("undo-hint").disabled = $("clear-hints").disabled = points.length === 0;
  }
}

// One ring per hint, in its color, over the photo (positions in % so they follow the layout).
function drawMarkers() {
  const layer = $("markers");
  layer.replaceChildren(...points.map(({ x, y, color }) => {
    const dot = document.createElement("span");
    dot.className = "marker";
    dot.style.left = `${((x + 0.5) / prepared.width) * 100}%`;
    dot.style.top = `${((y + 0.5) / prepared.height) * 100}%`;
    dot.style.background = color;
    dot.title = `hint at (${x}, ${y}), ${color}`;
    return dot;
  }));
}

function draw() {
  const { width, height, L } = prepared;
  const after = $("after"), before = $("before");
  for (const c of [after, before]) { c.width = width; c.height = height; }
  const out = render(prepared, Number(strength.value), source.rgba);
  after.getContext("2d").putImageData(new ImageData(out, width, height), 0, 0);
  before.getContext("2d").putImageData(new ImageData(grayRgba(L, source.rgba), width, height), 0, 0);
  $("compare").style.display = "inline-block";
  $("split").hidden = false;
  split();
  // The PNG is encoded while the page stays live: moved again meanwhile, the slider's later position
  // must be the one the Download link holds (see `save`).
  document.body.dataset.png = "pending";
  save(out, width, height).catch((error) => say(`could not make the PNG: ${error.message || error}`, true));
}

function split() {
  const wrap = $("before-wrap"), after = $("after");
  wrap.style.width = `${$("split").value}%`;
  $("before").style.width = `${after.clientWidth}px`;
}

// The PNG as the library writes it: full resolution, lossless, RGB with the sRGB profile, with which
// program and model made it.
let srgbProfile = null;
let saving = 0; // which rendering is the latest: an older encoding that finishes later is dropped
async function save(pixels, width, height) {
  const mine = ++saving;
  srgbProfile ??= new Uint8Array(await (await fetch(new URL("srgb.icc", import.meta.url))).arrayBuffer());
  const png = await encodePng(pixels, width, height, {
    icc: srgbProfile,
    text: {
      Software: `pix2pix-color web ${VERSION}`,
      Description: `colorized by pix2pix-color web ${VERSION} (in the browser), model ${modelUrl}`,
    },
  });
  if (mine !== saving) return;
  if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([png], { type: "image/png" }));
  download.download = `${source.name}-colorized.png`;
  download.hidden = false;
  document.body.dataset.png = "ready";
}

// After an error nothing of an earlier photo stays on the page: no result, no Download link.
function clearResult() {
  saving++; // a PNG still being encoded for the earlier photo never comes back as its link
  prepared = null;
  sector = plainScores = null;
  $("gallery").replaceChildren();
  $("variations").disabled = true;
  source = null;
  points = [];
  $("markers").replaceChildren();
  $("undo-hint").disabled = $("clear-hints").disabled = true;
  $("compare").style.display = "none";
  $("split").hidden = true;
  download.hidden = true;
  if (download.href.startsWith("blob:")) URL.revokeObjectURL(download.href);
  download.removeAttribute("href");
  strength.disabled = true;
  delete document.body.dataset.png;
}

$("drop").addEventListener("click", () => $("file").click());
$("drop").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("file").click(); });
$("file").addEventListener("change", (e) => {
  if (e.target.files[0]) colorize(e.target.files[0]);
  e.target.value = ""; // the same file chosen again is a new request
});
$("drop").addEventListener("dragover", (e) => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => {
  e.preventDefault();
  $("drop").classList.remove("over");
  if (e.dataTransfer.files[0]) colorize(e.dataTransfer.files[0]);
});
document.addEventListener("paste", (e) => {
  const item = [...(e.clipboardData?.items || [])].find((i) => i.type.startsWith("image/"));
  if (item) colorize(item.getAsFile());
});
strength.addEventListener("input", () => {
  $("strength-value").textContent = Number(strength.value).toFixed(2);
  if (prepared) { document.body.dataset.png = "pending"; draw(); }
});
$("split").addEventListener("input", split);
$("variations").addEventListener("click", showVariations);
$("compare").addEventListener("click", addHint);
$("undo-hint").addEventListener("click", () => { if (points.length && !busy) { points.pop(); rerun("Last hint removed"); } });
$("clear-hints").addEventListener("click", () => { if (points.length && !busy) { points = []; rerun("Hints cleared"); } });
window.addEventListener("resize", () => prepared && split());
loadModel();
