/* labelscout report: the embedding map.
 *
 * Points are splatted into one ImageData buffer (no DOM node or path per point), so
 * 100,000 points redraw in a few milliseconds while zooming and panning. Hover finds the
 * nearest point through a uniform grid over the data coordinates. Thumbnails come from
 * JPEG atlas sheets, decoded only when a hover first needs a sheet.
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("ls-data").textContent);
  var N = data.n;

  function typed(b64, Type) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  var xy = typed(data.xy, Float32Array);
  var status = typed(data.status, Uint8Array);       // 0 not selected, 1 selected, 2 already labeled
  var label = typed(data.label, Uint16Array);        // 65535: no label
  var issues = typed(data.issues, Uint8Array);       // bits: 1 exact dup, 2 near dup, 4 outlier
  var centre = typed(data.centre, Int32Array);       // nearest selected / labeled sample
  var cdist = typed(data.cdist, Float32Array);
  var rank = typed(data.rank, Int32Array);
  var atlas = data.atlas;
  var present = atlas ? typed(atlas.present, Uint8Array) : null;

  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#5f6b7a", "#1f77b4", "#aec7e8", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d",
    "#9edae5", "#17becf", "#bcbd22"];
  var NO_LABEL_COLOUR = "#a3a9b5";
  var STATUS_COLOURS = ["#98a1b3", "#2563eb", "#d97706"];
  var STATUS_NAMES = ["not selected", "selected", "already labeled"];
  var ISSUE_COLOURS = { none: "#c3c8d1", exact: "#dc2626", near: "#f97316", outlier: "#7c3aed" };

  function rgb(hex) {
    var v = parseInt(hex.slice(1), 16);
    return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
  }
  var paletteRGB = PALETTE.map(rgb), noLabelRGB = rgb(NO_LABEL_COLOUR), statusRGB = STATUS_COLOURS.map(rgb);
  var issueRGB = { none: rgb(ISSUE_COLOURS.none), exact: rgb(ISSUE_COLOURS.exact), near: rgb(ISSUE_COLOURS.near), outlier: rgb(ISSUE_COLOURS.outlier) };

  var canvas = document.getElementById("ls-map");
  var ctx = canvas.getContext("2d");
  var box = canvas.parentElement;
  var tip = document.getElementById("ls-tip");
  var tipThumb = document.getElementById("ls-tip-thumb");
  var tipId = document.getElementById("ls-tip-id");
  var tipText = document.getElementById("ls-tip-text");
  var colourSelect = document.getElementById("ls-colour");
  var legend = document.getElementById("ls-legend");
  var countEl = document.getElementById("ls-count");

  var colourBy = colourSelect ? colourSelect.value : "status";
  var showStatus = [true, true, true];
  var hiddenLabels = {};
  var hovered = -1, pinned = -1;
  var dpr = Math.max(1, window.devicePixelRatio || 1);
  var W = 0, H = 0, image = null, pixels32 = null;
  var view = { cx: 0, cy: 0, scale: 1 }, home = null;
  var hooks = { ready: false, drawn: 0, hovered: -1, tipThumbDrawn: false, frames: 0, drawMs: 0 };
  window.labelscoutMap = hooks;

  // -- bounds and the hover grid ------------------------------------------------------------
  var minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (var i = 0; i < N; i++) {
    var x = xy[2 * i], y = xy[2 * i + 1];
    if (x < minX) minX = x; if (x > maxX) maxX = x;
    if (y < minY) minY = y; if (y > maxY) maxY = y;
  }
  if (!(maxX > minX)) { minX -= 1; maxX += 1; }
  if (!(maxY > minY)) { minY -= 1; maxY += 1; }
  var G = Math.max(1, Math.min(512, Math.ceil(Math.sqrt(N / 4))));
  var cellW = (maxX - minX) / G, cellH = (maxY - minY) / G;
  function cellOf(v, lo, w) { var c = Math.floor((v - lo) / w); return c < 0 ? 0 : (c >= G ? G - 1 : c); }
  var cellStart = new Int32Array(G * G + 1), cellItems = new Int32Array(N);
  (function buildGrid() {
    var cellIdx = new Int32Array(N);
    for (var i = 0; i < N; i++) {
      var c = cellOf(xy[2 * i + 1], minY, cellH) * G + cellOf(xy[2 * i], minX, cellW);
      cellIdx[i] = c; cellStart[c + 1]++;
    }
    for (var c = 0; c < G * G; c++) cellStart[c + 1] += cellStart[c];
    var fill = cellStart.slice(0, G * G);
    for (var j = 0; j < N; j++) cellItems[fill[cellIdx[j]]++] = j;
  })();

  // draw order: not selected, then labeled, then selected on top
  var byStatus = [[], [], []];
  for (var k = 0; k < N; k++) byStatus[status[k]].push(k);
  var order = [byStatus[0], byStatus[2], byStatus[1]];

  // -- point looks --------------------------------------------------------------------
  var baseR = N <= 2000 ? 3.0 : (N <= 20000 ? 2.1 : 1.5);
  // a few picks stand out as big rings; thousands of picks get smaller ones so the pool still shows
  var nSel = 0;
  for (var q0 = 0; q0 < N; q0++) if (status[q0] === 1) nSel++;
  var selExtra = nSel <= 300 ? 1.9 : (nSel <= 2000 ? 1.3 : 0.8);
  var ringWidth = nSel <= 2000 ? 1.1 : 0.7;
  function zoomFactor() { return home ? Math.min(3, Math.max(1, Math.pow(view.scale / home.scale, 0.35))) : 1; }
  function radiusOf(s) { var r = baseR * zoomFactor() * dpr; return s === 1 ? r + selExtra * dpr : (s === 2 ? r + 1.0 * dpr : r); }

  function colourOf(i) {
    if (colourBy === "label") { var l = label[i]; return l === 65535 ? noLabelRGB : paletteRGB[l % PALETTE.length]; }
    if (colourBy === "issues") {
      var b = issues[i];
      return b & 1 ? issueRGB.exact : (b & 2 ? issueRGB.near : (b & 4 ? issueRGB.outlier : issueRGB.none));
    }
    return statusRGB[status[i]];
  }
  function visible(i) {
    if (!showStatus[status[i]]) return false;
    if (colourBy === "label" && hiddenLabels[label[i]]) return false;
    return true;
  }

  var masks = {};
  function mask(r) {
    var key = r.toFixed(2);
    if (masks[key]) return masks[key];
    var R = Math.ceil(r + 0.5), dx = [], dy = [], cov = [];
    for (var y = -R; y <= R; y++) for (var x = -R; x <= R; x++) {
      var c = Math.min(1, Math.max(0, r + 0.5 - Math.sqrt(x * x + y * y)));
      if (c > 0) { dx.push(x); dy.push(y); cov.push(c); }
    }
    masks[key] = { dx: Int32Array.from(dx), dy: Int32Array.from(dy), cov: Float32Array.from(cov), R: R };
    return masks[key];
  }
  function splat(buf, px, py, m, c, alpha) {
    var n = m.cov.length;
    for (var j = 0; j < n; j++) {
      var x = px + m.dx[j], y = py + m.dy[j];
      if (x < 0 || y < 0 || x >= W || y >= H) continue;
      var p = (y * W + x) * 4, a = alpha * m.cov[j];
      buf[p] += (c[0] - buf[p]) * a;
      buf[p + 1] += (c[1] - buf[p + 1]) * a;
      buf[p + 2] += (c[2] - buf[p + 2]) * a;
    }
  }
  function toScreen(i) {
    return [(xy[2 * i] - view.cx) * view.scale + W / 2, H / 2 - (xy[2 * i + 1] - view.cy) * view.scale];
  }

  // -- drawing ------------------------------------------------------------------------
  var ringRGB = [15, 23, 42], BG = 0xfffdfbfb; // ABGR of (251, 251, 253)
  var scheduled = false;
  function requestDraw() { if (!scheduled) { scheduled = true; requestAnimationFrame(draw); } }
  function draw() {
    scheduled = false;
    if (!image) return;
    var t0 = performance.now();
    pixels32.fill(BG);
    var buf = image.data, drawn = 0;
    for (var o = 0; o < order.length; o++) {
      var list = order[o];
      if (!list.length) continue;
      var s = status[list[0]], r = radiusOf(s);
      var m = mask(r), ring = s !== 0 ? mask(r + ringWidth * dpr) : null;
      var alpha = s === 0 ? (N > 20000 ? 0.5 : 0.62) : 1.0;
      for (var q = 0; q < list.length; q++) {
        var i = list[q];
        if (!visible(i)) continue;
        var p = toScreen(i), px = Math.round(p[0]), py = Math.round(p[1]);
        if (px < -8 || py < -8 || px > W + 8 || py > H + 8) continue;
        if (ring) splat(buf, px, py, ring, ringRGB, 0.85);
        splat(buf, px, py, m, colourOf(i), alpha);
        drawn++;
      }
    }
    ctx.putImageData(image, 0, 0);
    drawOverlay();
    hooks.drawn = drawn;
    hooks.frames++;
    hooks.drawMs = performance.now() - t0;
    if (countEl) countEl.textContent = drawn.toLocaleString() + " of " + N.toLocaleString() + " points shown";
  }
  function ringAt(i, colour, width) {
    var p = toScreen(i), r = radiusOf(status[i]) + 3 * dpr;
    ctx.beginPath(); ctx.arc(p[0], p[1], r, 0, 2 * Math.PI);
    ctx.lineWidth = width * dpr; ctx.strokeStyle = colour; ctx.stroke();
  }
  function drawOverlay() {
    if (pinned >= 0) {
      // the samples this pick stands for: lines from the pick to each of them
      var p0 = toScreen(pinned), drawnLines = 0;
      ctx.lineWidth = 1 * dpr; ctx.strokeStyle = "rgba(37, 99, 235, 0.35)";
      ctx.beginPath();
      for (var i = 0; i < N && drawnLines < 5000; i++) {
        if (centre[i] !== pinned || i === pinned) continue;
        var p = toScreen(i); ctx.moveTo(p0[0], p0[1]); ctx.lineTo(p[0], p[1]); drawnLines++;
      }
      ctx.stroke();
      ringAt(pinned, "#111827", 2.5);
    }
    if (hovered >= 0) ringAt(hovered, "#111827", 1.5);
  }

  // -- view -------------------------------------------------------------------------
  function fit() {
    var sx = W / (maxX - minX), sy = H / (maxY - minY);
    view = { cx: (minX + maxX) / 2, cy: (minY + maxY) / 2, scale: 0.92 * Math.min(sx, sy) };
    home = { scale: view.scale };
  }
  function resize() {
    var w = Math.max(50, Math.round(box.clientWidth * dpr)), h = Math.max(50, Math.round(box.clientHeight * dpr));
    if (w === W && h === H) return;
    var first = W === 0;
    var keep = first ? null : { cx: view.cx, cy: view.cy, rel: view.scale / home.scale };
    W = w; H = h; canvas.width = W; canvas.height = H;
    image = ctx.createImageData(W, H);
    pixels32 = new Uint32Array(image.data.buffer);
    fit();
    if (keep) { view.cx = keep.cx; view.cy = keep.cy; view.scale = home.scale * keep.rel; }
    requestDraw();
  }

  // -- hover -------------------------------------------------------------------------
  function nearest(mx, my) {
    // mouse in device pixels -> data coordinates; search cells within the pick radius
    var dxData = (mx - W / 2) / view.scale + view.cx, dyData = view.cy - (my - H / 2) / view.scale;
    var reach = (10 * dpr + radiusOf(1)) / view.scale;
    var c0 = cellOf(dxData - reach, minX, cellW), c1 = cellOf(dxData + reach, minX, cellW);
    var r0 = cellOf(dyData - reach, minY, cellH), r1 = cellOf(dyData + reach, minY, cellH);
    var best = -1, bestD = Infinity;
    for (var r = r0; r <= r1; r++) for (var c = c0; c <= c1; c++) {
      var cell = r * G + c;
      for (var k = cellStart[cell]; k < cellStart[cell + 1]; k++) {
        var i = cellItems[k];
        if (!visible(i)) continue;
        var p = toScreen(i), ddx = p[0] - mx, ddy = p[1] - my;
        // distance to the drawn dot's edge, so a big selected dot wins over a small one behind it
        var d = Math.sqrt(ddx * ddx + ddy * ddy) - radiusOf(status[i]);
        if (d < bestD) { bestD = d; best = i; }
      }
    }
    return bestD <= 8 * dpr ? best : -1;
  }

  var sheets = [];
  function sheet(k) {
    if (!sheets[k]) {
      var img = new Image();
      sheets[k] = { img: img, loaded: false };
      img.onload = function () { sheets[k].loaded = true; if (hovered >= 0) showThumb(hovered); };
      img.src = atlas.sheets[k];
    }
    return sheets[k];
  }
  function showThumb(i) {
    var t = tipThumb.getContext("2d");
    t.fillStyle = "#374151"; t.fillRect(0, 0, tipThumb.width, tipThumb.height);
    hooks.tipThumbDrawn = false;
    if (!atlas || !present[i]) {
      t.fillStyle = "#9ca3af"; t.font = "11px sans-serif"; t.textAlign = "center";
      t.fillText("no picture", tipThumb.width / 2, tipThumb.height / 2 + 4);
      return;
    }
    var k = Math.floor(i / atlas.perSheet), j = i % atlas.perSheet;
    var s = sheet(k);
    if (!s.loaded) return;
    var sx = (j % atlas.cols) * atlas.tile, sy = Math.floor(j / atlas.cols) * atlas.tile;
    t.imageSmoothingEnabled = true; t.imageSmoothingQuality = "high";
    t.drawImage(s.img, sx, sy, atlas.tile, atlas.tile, 0, 0, tipThumb.width, tipThumb.height);
    hooks.tipThumbDrawn = true;
  }
  function fmt(v) { return v < 0 ? "?" : (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3)); }
  function tag(text, cls) { var s = document.createElement("span"); s.className = "tag " + (cls || ""); s.textContent = text; return s; }
  function showTip(i, mx, my) {
    tipId.textContent = data.ids[i];
    tipText.textContent = "";
    var lines = document.createElement("div");
    if (label[i] !== 65535 && data.labels.length) lines.appendChild(tag(data.labels[label[i]]));
    if (status[i] === 1) lines.appendChild(tag("pick #" + (rank[i] + 1), "sel"));
    else lines.appendChild(tag(STATUS_NAMES[status[i]], status[i] === 2 ? "lab" : ""));
    if (issues[i] & 1) lines.appendChild(tag("exact duplicate", "iss"));
    if (issues[i] & 2) lines.appendChild(tag("near duplicate", "iss"));
    if (issues[i] & 4) lines.appendChild(tag("outlier", "iss"));
    tipText.appendChild(lines);
    var info = document.createElement("div");
    if (status[i] === 0 && centre[i] >= 0) {
      var c = centre[i];
      info.textContent = (status[c] === 1 ? "nearest pick #" + (rank[c] + 1) : "nearest: an already labeled sample") + " at d " + fmt(cdist[i]);
    } else if (status[i] === 1) {
      var n = 0;
      for (var q = 0; q < N; q++) if (centre[q] === i) n++;
      info.textContent = "stands for " + n.toLocaleString() + (n === 1 ? " sample" : " samples") + " (click to show)";
    }
    tipText.appendChild(info);
    if (data.ts && data.ts[i] !== null && data.ts[i] !== undefined) {
      var ts = document.createElement("div"); ts.textContent = "t = " + Number(data.ts[i]).toFixed(2) + " s"; tipText.appendChild(ts);
    }
    showThumb(i);
    tip.hidden = false;
    var bw = box.clientWidth, bh = box.clientHeight, cx = mx / dpr, cy = my / dpr;
    var tw = tip.offsetWidth, th = tip.offsetHeight;
    tip.style.left = (cx + 16 + tw > bw ? Math.max(4, cx - 16 - tw) : cx + 16) + "px";
    tip.style.top = (cy + 16 + th > bh ? Math.max(4, cy - 16 - th) : cy + 16) + "px";
  }
  function hideTip() { tip.hidden = true; }

  // -- interaction -------------------------------------------------------------------
  var drag = null;
  function mouse(ev) { var r = canvas.getBoundingClientRect(); return [(ev.clientX - r.left) * dpr, (ev.clientY - r.top) * dpr]; }
  canvas.addEventListener("pointerdown", function (ev) {
    var m = mouse(ev);
    drag = { x: m[0], y: m[1], cx: view.cx, cy: view.cy, moved: false };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", function (ev) {
    var m = mouse(ev);
    if (drag) {
      var ddx = m[0] - drag.x, ddy = m[1] - drag.y;
      if (Math.abs(ddx) + Math.abs(ddy) > 3 * dpr) { drag.moved = true; canvas.classList.add("dragging"); }
      if (drag.moved) {
        view.cx = drag.cx - ddx / view.scale; view.cy = drag.cy + ddy / view.scale;
        hideTip(); requestDraw(); return;
      }
    }
    var i = nearest(m[0], m[1]);
    if (i !== hovered) { hovered = i; hooks.hovered = i; requestDraw(); }
    if (i >= 0) showTip(i, m[0], m[1]); else hideTip();
  });
  canvas.addEventListener("pointerup", function (ev) {
    if (drag && !drag.moved) {
      var m = mouse(ev), i = nearest(m[0], m[1]);
      pinned = (i >= 0 && status[i] === 1 && pinned !== i) ? i : -1;
      requestDraw();
    }
    drag = null; canvas.classList.remove("dragging");
  });
  canvas.addEventListener("pointerleave", function () { if (!drag) { hovered = -1; hooks.hovered = -1; hideTip(); requestDraw(); } });
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var m = mouse(ev);
    var before = [(m[0] - W / 2) / view.scale + view.cx, view.cy - (m[1] - H / 2) / view.scale];
    var factor = Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015));
    view.scale = Math.min(home.scale * 400, Math.max(home.scale * 0.5, view.scale * factor));
    // keep the data point under the cursor where it was
    view.cx = before[0] - (m[0] - W / 2) / view.scale;
    view.cy = before[1] + (m[1] - H / 2) / view.scale;
    hideTip(); requestDraw();
  }, { passive: false });
  canvas.addEventListener("dblclick", function () { fit(); requestDraw(); });
  var reset = document.getElementById("ls-reset");
  if (reset) reset.addEventListener("click", function () { fit(); pinned = -1; requestDraw(); });
  [["ls-show-rem", 0], ["ls-show-sel", 1], ["ls-show-lab", 2]].forEach(function (pair) {
    var el = document.getElementById(pair[0]);
    if (el) el.addEventListener("change", function () { showStatus[pair[1]] = el.checked; requestDraw(); });
  });
  if (colourSelect) colourSelect.addEventListener("change", function () { colourBy = colourSelect.value; buildLegend(); requestDraw(); });

  // -- legend ------------------------------------------------------------------------
  function legendItem(colour, text, count, onClick, off) {
    var el = document.createElement("span");
    el.className = "item" + (off ? " off" : "");
    var sw = document.createElement("span"); sw.className = "sw"; sw.style.background = colour;
    var tx = document.createElement("span"); tx.textContent = text;
    el.appendChild(sw); el.appendChild(tx);
    if (count) { var c = document.createElement("span"); c.className = "cnt"; c.textContent = count; el.appendChild(c); }
    if (onClick) el.addEventListener("click", onClick);
    legend.appendChild(el);
  }
  function buildLegend() {
    legend.textContent = "";
    if (colourBy === "label") {
      var head = document.createElement("span"); head.className = "cnt"; head.textContent = "label (selected / pool):";
      legend.appendChild(head);
      var pool = new Int32Array(data.labels.length), sel = new Int32Array(data.labels.length);
      for (var i = 0; i < N; i++) if (label[i] !== 65535) { pool[label[i]]++; if (status[i] === 1) sel[label[i]]++; }
      data.labels.forEach(function (name, l) {
        legendItem(PALETTE[l % PALETTE.length], name, sel[l] + " / " + pool[l], function () {
          hiddenLabels[l] = !hiddenLabels[l]; buildLegend(); requestDraw();
        }, hiddenLabels[l]);
      });
    } else if (colourBy === "issues") {
      legendItem(ISSUE_COLOURS.exact, "exact duplicate"); legendItem(ISSUE_COLOURS.near, "near duplicate");
      legendItem(ISSUE_COLOURS.outlier, "outlier"); legendItem(ISSUE_COLOURS.none, "no issue");
    } else {
      [1, 0, 2].forEach(function (s) { if (byStatus[s].length) legendItem(STATUS_COLOURS[s], STATUS_NAMES[s], byStatus[s].length.toLocaleString()); });
    }
  }

  buildLegend();
  if (window.ResizeObserver) new ResizeObserver(resize).observe(box); else window.addEventListener("resize", resize);
  resize();
  draw();
  hooks.ready = true;
  // for tests and for people who script the page: where point i is, in page (CSS) pixels
  hooks.position = function (i) {
    var r = canvas.getBoundingClientRect(), p = toScreen(i);
    return { x: r.left + p[0] / dpr, y: r.top + p[1] / dpr };
  };
  hooks.statusOf = function (i) { return status[i]; };
  hooks.redraw = function () { draw(); return hooks.drawMs; };
  hooks.nearestAt = function (x, y) {  // page (CSS) pixels -> index under the cursor, -1 for none
    var r = canvas.getBoundingClientRect();
    return nearest((x - r.left) * dpr, (y - r.top) * dpr);
  };
})();
