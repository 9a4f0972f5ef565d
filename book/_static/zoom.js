/* The live zoom page of the funknn book (book/live_zoom.md): a window of a low-resolution image,
 * rendered at any scale in the browser by an exported FunkNN model and by the bicubic
 * interpolator, with onnxruntime-web (WebAssembly, one thread). The assets (models, images,
 * onnxruntime-web) are written by book/prepare_zoom.py into _static/zoom/.
 *
 * Coordinates are funknn's: x along the width, y along the height, in [-1, 1]; the centre of
 * pixel (i, j) of an h x w image is ((2j+1)/w - 1, (2i+1)/h - 1) (grid_sample, align_corners=False).
 * A window is (x, y) = its top-left corner in low-resolution pixels, `scale` and `size` (the
 * side of the output grid); it covers size/scale low-resolution pixels, and output pixel (i, j)
 * is queried at low-resolution position (x + (j+0.5)/scale, y + (i+0.5)/scale).
 *
 * For tests: window.funknnZoom.render({model, image, scale, size, x, y}) renders a window and
 * resolves to the result (values: Float32Array (size*size*C), row-major, channels last).
 */
(function () {
  "use strict";
  const app = document.getElementById("funknn-zoom");
  if (!app) return;
  const base = new URL(app.dataset.assets, document.baseURI).href;
  const CHUNK = 4096;  // queries per onnxruntime run: bounds the memory of FunkNN's patches
  const el = (name) => app.querySelector(`[data-zoom="${name}"]`);
  const sessions = {}, images = {};
  let manifest = null, view = null, chain = Promise.resolve(), requested = 0;

  function status(text) { el("status").textContent = text; }

  function fail(error) {
    status(`Error: ${error.message || error}`);
    app.dataset.state = "error";
    console.error("live zoom:", error);
  }

  async function fetchOk(file) {
    const response = await fetch(base + file);
    if (!response.ok) throw new Error(`${file}: HTTP ${response.status}`);
    return response;
  }

  function session(entry) {  // one InferenceSession per model, created on first use
    if (!sessions[entry.id]) {
      sessions[entry.id] = ort.InferenceSession.create(base + entry.file, { executionProviders: ["wasm"] });
    }
    return sessions[entry.id];
  }

  async function image(id) {
    if (!images[id]) {
      const entry = manifest.images.find((e) => e.id === id);
      if (!entry) throw new Error(`no image ${id}`);
      const bytes = new Uint8Array(await (await fetchOk(entry.file)).arrayBuffer());
      images[id] = { entry, bytes, tensor: Float32Array.from(bytes, (b) => b / 255) };
    }
    return images[id];
  }

  function clampView(v, e) {  // the window inside the image, the scale in range
    const s = manifest.scales;
    const scale = Math.min(s.max, Math.max(s.min, Number(v.scale), v.size / Math.min(e.height, e.width)));
    const side = v.size / scale;
    return { ...v, scale, x: Math.min(Math.max(0, Number(v.x)), e.width - side),
             y: Math.min(Math.max(0, Number(v.y)), e.height - side) };
  }

  function windowCoords(v, e) {  // (size*size, 2): the output pixels' centres, row-major
    const n = v.size, coords = new Float32Array(n * n * 2);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        coords[2 * (i * n + j)] = (2 * (v.x + (j + 0.5) / v.scale)) / e.width - 1;
        coords[2 * (i * n + j) + 1] = (2 * (v.y + (i + 0.5) / v.scale)) / e.height - 1;
      }
    }
    return coords;
  }

  async function evaluate(entry, img, coords) {
    const s = await session(entry), e = img.entry, n = coords.length / 2;
    const values = new Float32Array(n * e.channels);
    const input = new ort.Tensor("float32", img.tensor, [1, e.channels, e.height, e.width]);
    const start = performance.now();
    for (let k = 0; k < n; k += CHUNK) {
      const part = coords.slice(2 * k, 2 * Math.min(n, k + CHUNK));
      const out = await s.run({ image: input, coords: new ort.Tensor("float32", part, [1, part.length / 2, 2]) });
      values.set(out.values.data, k * e.channels);
    }
    return { values, ms: performance.now() - start };
  }

  function gradientNorm(values, v, e) {  // |grad u| by central differences on the output grid
    const n = v.size, C = e.channels, hx = 2 / (e.width * v.scale), hy = 2 / (e.height * v.scale);
    const g = new Float32Array(n * n), at = (i, j, c) => values[(i * n + j) * C + c];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const l = Math.max(j - 1, 0), r = Math.min(j + 1, n - 1), u = Math.max(i - 1, 0), d = Math.min(i + 1, n - 1);
        let sum = 0;
        for (let c = 0; c < C; c++) {
          const dx = (at(i, r, c) - at(i, l, c)) / ((r - l) * hx), dy = (at(d, j, c) - at(u, j, c)) / ((d - u) * hy);
          sum += dx * dx + dy * dy;
        }
        g[i * n + j] = Math.sqrt(sum);
      }
    }
    return g;
  }

  function draw(canvas, n, C, values, gain) {  // values (n*n*C) in [0, 1]/gain as RGB
    canvas.width = canvas.height = n;
    const ctx = canvas.getContext("2d"), pixels = ctx.createImageData(n, n);
    for (let k = 0; k < n * n; k++) {
      for (let c = 0; c < 3; c++) {
        pixels.data[4 * k + c] = Math.round(255 * Math.min(1, Math.max(0, values[k * C + (C === 1 ? 0 : c)] * gain)));
      }
      pixels.data[4 * k + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
  }

  function drawOverview(img) {  // the low-resolution image, channels first, as RGB
    const e = img.entry, canvas = el("overview"), plane = e.width * e.height;
    canvas.width = e.width; canvas.height = e.height;
    const ctx = canvas.getContext("2d"), pixels = ctx.createImageData(e.width, e.height);
    for (let k = 0; k < plane; k++) {
      for (let c = 0; c < 3; c++) pixels.data[4 * k + c] = img.bytes[(e.channels === 1 ? 0 : c) * plane + k];
      pixels.data[4 * k + 3] = 255;
    }
    ctx.putImageData(pixels, 0, 0);
    canvas.style.width = `${3 * e.width}px`;
  }

  function placeFrame(v, e) {
    const frame = el("frame"), side = v.size / v.scale;
    Object.assign(frame.style, { left: `${(100 * v.x) / e.width}%`, top: `${(100 * v.y) / e.height}%`,
                                 width: `${(100 * side) / e.width}%`, height: `${(100 * side) / e.height}%` });
  }

  async function doRender(request) {
    const model = manifest.models.find((m) => m.id === request.model);
    if (!model) throw new Error(`no model ${request.model}`);
    const img = await image(request.image), e = img.entry;
    const v = clampView({ ...request, size: Number(request.size) }, e);
    app.dataset.state = "rendering";
    status(`Rendering ${v.size}×${v.size} pixels at ×${v.scale.toFixed(2)}…`);
    const coords = windowCoords(v, e);
    const funk = await evaluate(model, img, coords), bic = await evaluate(manifest.bicubic, img, coords);
    const gFunk = gradientNorm(funk.values, v, e), gBic = gradientNorm(bic.values, v, e);
    const gMax = Math.max(1e-12, ...gFunk, ...gBic);
    draw(el("model"), v.size, e.channels, funk.values, 1);
    draw(el("bicubic"), v.size, e.channels, bic.values, 1);
    draw(el("grad-model"), v.size, 1, gFunk, 1 / gMax);
    draw(el("grad-bicubic"), v.size, 1, gBic, 1 / gMax);
    placeFrame(v, e);
    const queries = v.size * v.size;
    el("model-caption").textContent = `${model.label}: ${funk.ms.toFixed(0)} ms`;
    el("bicubic-caption").textContent = `${manifest.bicubic.label}: ${bic.ms.toFixed(0)} ms`;
    el("grad-caption").textContent = `|∇u| by central differences, white = ${gMax.toPrecision(3)} (both panels)`;
    status(`${e.label}, window of ${(v.size / v.scale).toFixed(2)} pixels at (${v.x.toFixed(2)}, ${v.y.toFixed(2)}), ` +
           `×${v.scale.toFixed(2)}: ${queries} queries; ${model.label} rendered them in ${funk.ms.toFixed(0)} ms ` +
           `(${(queries / funk.ms).toFixed(1)} queries/ms), bicubic in ${bic.ms.toFixed(1)} ms.`);
    const result = { ...v, model: model.id, channels: e.channels, values: funk.values, bicubic: bic.values,
                     gradient: gFunk, ms: funk.ms, bicubicMs: bic.ms };
    window.funknnZoom.last = result;
    app.dataset.state = "done";
    app.dataset.renderMs = funk.ms.toFixed(1);
    return result;
  }

  function controls() {
    return { model: el("model-select").value, image: el("image-select").value, scale: Number(el("scale").value),
             size: Number(el("size").value), x: view.x, y: view.y };
  }

  function show(v) {  // the controls and the frame follow a view
    view = v;
    el("model-select").value = v.model; el("image-select").value = v.image;
    el("scale").value = v.scale; el("scale-number").value = Number(v.scale).toFixed(1); el("size").value = v.size;
  }

  function update() {  // a render for the controls' view; a newer request skips older ones
    const ticket = ++requested;
    chain = chain.then(async () => {
      if (ticket !== requested) return;
      const img = await image(el("image-select").value);
      if (view.image !== img.entry.id) drawOverview(img);
      const result = await doRender(controls());
      show({ ...controls(), scale: result.scale, x: result.x, y: result.y });
    }).catch(fail);
  }

  function drag(event) {  // centre the window under the pointer
    const rect = el("overview").getBoundingClientRect(), e = images[view.image].entry, side = view.size / view.scale;
    const x = ((event.clientX - rect.left) / rect.width) * e.width - side / 2;
    const y = ((event.clientY - rect.top) / rect.height) * e.height - side / 2;
    const v = clampView({ ...controls(), x, y }, e);
    view.x = v.x; view.y = v.y;
    placeFrame(v, e);
  }

  function options(select, entries) {
    for (const entry of entries) select.add(new Option(entry.label, entry.id));
  }

  async function start() {
    manifest = await (await fetchOk("manifest.json")).json();
    ort.env.wasm.wasmPaths = base + manifest.ort.wasm_paths;
    ort.env.wasm.numThreads = 1;
    options(el("model-select"), manifest.models);
    options(el("image-select"), manifest.images);
    options(el("size"), manifest.sizes.map((n) => ({ id: String(n), label: `${n}×${n}` })));
    const scale = el("scale"), number = el("scale-number");
    for (const input of [scale, number]) Object.assign(input, manifest.scales);
    show({ ...manifest.default });
    const started = performance.now();
    const img = await image(view.image);
    drawOverview(img);
    await Promise.all([session(manifest.models[0]), session(manifest.bicubic)]);
    el("loaded").textContent = `onnxruntime-web ${manifest.ort.version} (WebAssembly, one thread) and the ` +
      `models loaded in ${(performance.now() - started).toFixed(0)} ms.`;
    window.funknnZoom.defaultRender = await doRender(controls());
    scale.addEventListener("input", () => { number.value = Number(scale.value).toFixed(1); });
    scale.addEventListener("change", update);
    number.addEventListener("change", () => { scale.value = number.value; update(); });
    for (const name of ["model-select", "image-select", "size"]) el(name).addEventListener("change", update);
    const overview = el("overview-box");
    overview.addEventListener("pointerdown", (event) => {
      overview.setPointerCapture(event.pointerId); drag(event);
    });
    overview.addEventListener("pointermove", (event) => { if (overview.hasPointerCapture(event.pointerId)) drag(event); });
    overview.addEventListener("pointerup", update);
  }

  window.funknnZoom = {
    last: null,
    render(request) {  // for tests and the console: render one window, after any render under way
      const run = chain.then(() => doRender({ ...controls(), ...request }));
      chain = run.catch(fail);
      return run;
    },
  };
  window.funknnZoom.ready = start().catch((error) => { fail(error); throw error; });
})();
