// labelscout review: one class at a time, misfits first, keyboard first.
// Everything comes from this server (no CDN). Marks are POSTed at once and shown as saved
// only when the server has committed them; others' marks arrive by polling.
(function () {
  "use strict";
  const CELL_W = 104, CELL_H = 122, OVERSCAN = 3, POLL_MS = 1500;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const S = {
    meta: null, classes: [], cur: -1, view: "misfit", like: null,
    items: null, cursor: 0, anchor: null, selLo: -1, selHi: -1,
    dec: new Map(),      // sample idx -> Map(reviewer -> decision)
    seq: 0, undo: [], reviewer: params.get("reviewer") || "", pending: 0, failed: 0,
    ta: "", taPick: 0, dragging: false, cols: 1, firstDrawnMs: null, loads: 0,
  };
  const api = window.labelscoutReview = {
    get state() { return S; }, ready: false, renders: 0, renderMs: 0, firstDrawnMs: null,
    mine: (idx) => mine(idx), visibleTiles: () => document.querySelectorAll(".tile:not([hidden])").length,
    tilesMade: 0, sheetsLoaded: () => [...sheets.values()].filter((sh) => sh.state === "ok").length,
    blankInView: () => blankInView(),
  };

  async function getJSON(url, opts) {
    const r = await fetch(url, Object.assign({ credentials: "same-origin" }, opts || {}));
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((body.error || r.statusText) + (body.hint ? " (" + body.hint + ")" : ""));
    return body;
  }

  // ---- decisions ------------------------------------------------------------------------
  function apply(d) {
    let m = S.dec.get(d.idx);
    if (!m) { m = new Map(); S.dec.set(d.idx, m); }
    if (d.verdict === "unmarked") m.delete(d.reviewer); else m.set(d.reviewer, d);
    if (m.size === 0) S.dec.delete(d.idx);
    if (d.seq > S.seq) S.seq = d.seq;
  }
  function mine(idx) { const m = S.dec.get(idx); return m ? m.get(S.reviewer) || null : null; }
  function outcome(d) { return d.verdict === "correct" ? d.old : (d.new || ""); }
  function conflict(m) {
    if (!m || m.size < 2) return false;
    const outs = new Set([...m.values()].map(outcome));
    if (outs.has("") && [...m.values()].some((d) => d.verdict === "wrong" && d.new)) outs.delete("");
    return outs.size > 1;
  }
  function progress() {
    const done = new Array(S.classes.length).fill(0);
    for (const [, m] of S.dec) { const d = m.values().next().value; if (d) done[d.cls] += 1; }
    return done;
  }

  async function send(marks, undoGroup) {
    S.pending += 1; saveState();
    try {
      const body = await getJSON("api/decisions", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ reviewer: S.reviewer, marks }) });
      body.decisions.forEach(apply);
      if (undoGroup) S.undo.push(undoGroup);
    } catch (e) {
      S.failed += 1; saveState("not saved: " + e.message);
      throw e;
    } finally {
      S.pending -= 1; saveState(); renderClasses(); render();
    }
  }
  function saveState(err) {
    const el = $("save-state");
    if (err) { el.className = "err"; el.textContent = err; return; }
    if (el.className === "err" && S.pending === 0 && S.failed) return;
    el.className = S.pending ? "busy" : "ok"; el.textContent = S.pending ? "saving…" : "saved";
    const conflicts = [...S.dec.values()].filter(conflict).length;
    $("summary").textContent = `${S.dec.size} of ${S.meta ? S.meta.n : 0} reviewed` + (conflicts ? ` · ${conflicts} in conflict` : "");
  }

  function targets() {
    if (S.selLo >= 0) { const t = []; for (let p = S.selLo; p <= S.selHi; p++) t.push(p); return t; }
    return S.items && S.items.idx.length ? [S.cursor] : [];
  }
  function mark(verdict, newLabel) {
    const pos = targets();
    if (!pos.length) return Promise.resolve();
    const marks = [], before = [];
    for (const p of pos) {
      const idx = S.items.idx[p];
      const given = S.classes[S.items.given[p]].name;
      let v = verdict, n = newLabel || null;
      if (v === "wrong" && n === given) { v = "correct"; n = null; }  // "it is a cat" on a cat: the label is right
      const prev = mine(idx);
      const same = prev && prev.verdict === v && (prev.new || null) === n;
      marks.push({ idx, verdict: same ? "unmarked" : v, new: same ? null : n });  // the same key again takes the mark back
      before.push(prev ? { idx, verdict: prev.verdict, new: prev.new } : { idx, verdict: "unmarked", new: null });
    }
    const single = pos.length === 1;
    const p = send(marks, before);
    if (single) move(1);
    return p;
  }
  function undo() {
    const group = S.undo.pop();
    if (!group) return Promise.resolve();
    return send(group, null).catch(() => S.undo.push(group));
  }

  // ---- classes and views -----------------------------------------------------------------
  function renderClasses() {
    const done = progress(), ol = $("class-list");
    if (ol.children.length !== S.classes.length) {
      ol.innerHTML = "";
      S.classes.forEach((c, i) => {
        const li = document.createElement("li");
        li.dataset.i = i;
        li.innerHTML = `<div class="cn"><b></b><span class="count"></span></div><div class="bar"><i></i></div>` +
          `<div class="meta"><span class="done"></span><span class="else" title="images the model assigns to this class that carry another label"></span></div>`;
        li.querySelector("b").textContent = c.name;
        li.addEventListener("click", (ev) => {
          const view = ev.target.classList.contains("else") ? "elsewhere" : "misfit";
          openClass(i, view);
        });
        ol.appendChild(li);
      });
    }
    S.classes.forEach((c, i) => {
      const li = ol.children[i];
      li.classList.toggle("current", i === S.cur);
      li.querySelector(".count").textContent = c.count.toLocaleString();
      li.querySelector(".done").textContent = `${done[i].toLocaleString()} reviewed`;
      li.querySelector(".bar i").style.width = (c.count ? 100 * done[i] / c.count : 0).toFixed(1) + "%";
      li.querySelector(".else").textContent = c.elsewhere ? `+${c.elsewhere} elsewhere` : "";
    });
  }

  async function openClass(i, view, like) {
    if (i < 0 || i >= S.classes.length) return;
    view = view || "misfit";
    const name = S.classes[i].name;
    let url;
    if (view === "elsewhere") url = `api/elsewhere?name=${encodeURIComponent(name)}`;
    else url = `api/class?name=${encodeURIComponent(name)}&sort=${view}` + (view === "similar" ? `&like=${like}` : "");
    const items = await getJSON(url);
    const keep = view === "similar" ? like : null;
    S.cur = i; S.view = view; S.like = like == null ? null : like; S.items = items;
    S.cursor = keep != null ? Math.max(0, items.idx.indexOf(keep)) : 0;
    S.selLo = S.selHi = -1; S.anchor = null;
    history.replaceState(null, "", `${location.search}#class=${encodeURIComponent(name)}&view=${view}`);
    $("class-name").textContent = name;
    const labels = { misfit: "likely wrong labels first", file: "file order", similar: "most similar first",
                     elsewhere: `labeled otherwise, ${S.meta.source === "predictions" ? "the model" : "the embeddings"} say ${name}` };
    $("view-label").textContent = `${items.idx.length.toLocaleString()} images · ${labels[view]}`;
    document.querySelectorAll("#views button").forEach((b) => b.classList.toggle("on", b.dataset.view === view));
    $("grid").scrollTop = 0;
    for (const [p, t] of pool) release(p, t);
    layout(); renderClasses(); render(); $("grid").focus({ preventScroll: true });
    if (S.cursor) scrollToCursor();
  }

  // ---- the grid: only the visible rows exist, drawn by a fixed set of reused tiles --------
  // The tiles of the rows that scroll out are handed to the rows that scroll in (their
  // children and listeners kept): a fast wheel then moves and relabels ~100 nodes a step
  // instead of building them.
  function layout() {
    const g = $("grid");
    S.cols = Math.max(1, Math.floor((g.clientWidth - 8) / CELL_W));
    const rows = S.items ? Math.ceil(S.items.idx.length / S.cols) : 0;
    $("spacer").style.height = rows * CELL_H + 8 + "px";
  }
  const pool = new Map();  // position -> the tile showing it
  const spare = [];        // tiles showing nothing (hidden), handed out first
  function newTile() {
    const t = document.createElement("div");
    t.className = "tile";
    t.innerHTML = `<div class="im"></div><div class="cap"></div><span class="badge"></span><span class="others"></span><span class="score"></span>`;
    [t.im, t.cap, t.badge, t.others, t.score] = t.children;
    $("spacer").appendChild(t);
    api.tilesMade += 1;
    return t;
  }
  function release(p, t) {
    pool.delete(p); spare.push(t);
    t.hidden = true; t.removeAttribute("data-p"); t.removeAttribute("data-idx");
  }
  function set(el, key, v) { if (el[key] !== v) el[key] = v; }  // a write that changes nothing costs nothing

  // Thumbnails come as sprite sheets: GET sprite?i=... (one JPEG of SHEET tiles in grid order,
  // the X-Sprite header says where each picture lies), each tile showing its slice as a
  // background. One load and one decode per 32 tiles instead of per tile: loading an image
  // (blob, URL, fetch, decode, raster) is what made a fast scroll stall, not drawing tiles.
  // Sheets are kept as blob URLs so scrolling back costs nothing; past SHEETS_MAX the least
  // recently drawn are let go.
  const SHEET = 32, SHEETS_MAX = 200, BOX = 90;  // BOX: the picture's square inside the tile's 3 px border
  const sheets = new Map();  // key (the sample indices, "3,17,...") -> {state, url, slot, sides, n, used}
  let drawTick = 0, lastTop = 0;
  function sheetKey(b) {
    const keys = S.items.keys || (S.items.keys = []);
    if (keys[b] === undefined) keys[b] = S.items.idx.slice(b * SHEET, (b + 1) * SHEET).join(",");
    return keys[b];
  }
  function showThumb(t, p) {
    const b = Math.floor(p / SHEET), key = sheetKey(b), sh = sheets.get(key), k = p - b * SHEET;
    if (sh) sh.used = drawTick;
    const shows = sh && sh.state !== "loading" ? key + "/" + k + "/" + sh.state : "";
    if (t.shows === shows) return;
    t.shows = shows;
    const im = t.im, st = im.style;
    const side = sh && sh.state === "ok" ? sh.sides[k] : -1;
    if (side > 0) {  // the slot's square around its picture, scaled to fill BOX as object-fit: contain would
      const sc = BOX / side, off = Math.floor((sh.slot - side) / 2);
      st.backgroundImage = sh.css;
      st.backgroundSize = `${sh.n * sh.slot * sc}px ${sh.slot * sc}px`;
      st.backgroundPosition = `${-(k * sh.slot + off) * sc}px ${-off * sc}px`;
    } else st.backgroundImage = "";
    im.classList.toggle("missing", !!sh && sh.state === "ok" && side < 0);
    if (sh) im.dataset.done = "1"; else delete im.dataset.done;
  }
  async function fetchSheet(key) {
    const sh = { state: "loading", url: null, css: "", slot: 0, sides: [], n: 0, used: drawTick };
    sheets.set(key, sh);
    try {
      const r = await fetch("sprite?i=" + key, { credentials: "same-origin" });
      if (!r.ok) throw new Error(r.statusText);
      const head = JSON.parse(r.headers.get("X-Sprite"));
      const blob = await r.blob();
      sh.url = URL.createObjectURL(blob);
      const img = new Image();
      img.src = sh.url;
      await img.decode();  // drawn only once decoded: no tile shows half a picture
      Object.assign(sh, { state: "ok", css: `url("${sh.url}")`, slot: head.slot, sides: head.sides, n: head.sides.length, img });
    } catch (e) {
      if (sh.url) URL.revokeObjectURL(sh.url);
      sh.state = "failed";
    }
    if (sheets.get(key) !== sh) { if (sh.url) URL.revokeObjectURL(sh.url); return; }
    for (const [p, t] of pool) if (sheetKey(Math.floor(p / SHEET)) === key) {
      showThumb(t, p);
      if (sh.state === "failed") t.shows = "failed";  // shown as done, without a picture ...
    }
    if (sh.state === "failed") sheets.delete(key);  // ... and asked for again when next drawn (the server is away)
    evictSheets();
    checkFirstDraw();
  }
  function evictSheets() {
    if (sheets.size <= SHEETS_MAX) return;
    const old = [...sheets].filter(([, sh]) => sh.state === "ok" && sh.used < drawTick).sort((a, b) => a[1].used - b[1].used);
    for (const [key, sh] of old.slice(0, sheets.size - SHEETS_MAX)) { URL.revokeObjectURL(sh.url); sheets.delete(key); }
  }
  function wantSheets(lo, hi) {
    if (hi <= lo) return;
    for (let b = Math.floor(lo / SHEET); b <= Math.floor((hi - 1) / SHEET); b++) {
      const key = sheetKey(b);
      if (!sheets.has(key)) fetchSheet(key);
    }
  }
  function checkFirstDraw() {
    if (api.firstDrawnMs != null) return;
    const ims = document.querySelectorAll(".tile:not([hidden]) .im");
    if (ims.length && [...ims].every((im) => im.dataset.done)) {
      api.firstDrawnMs = performance.now();
      api.ready = true;
    }
  }
  function blankInView() {  // tiles on screen without their picture yet, or not drawn yet (the benchmark samples it)
    if (!S.items) return 0;
    const g = $("grid"), n = S.items.idx.length;
    const lo = Math.max(0, Math.floor((g.scrollTop - 4) / CELL_H)) * S.cols;
    const hi = Math.min(n, Math.ceil((g.scrollTop + g.clientHeight - 4) / CELL_H) * S.cols);
    let blank = 0;
    for (let p = lo; p < hi; p++) { const t = pool.get(p); if (!t || !t.im.dataset.done) blank += 1; }
    return blank;
  }
  let renderQueued = false;
  function renderSoon() {  // at most one render a frame, however many scroll events came
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }
  function render() {
    if (!S.items) return;
    const t0 = performance.now();
    drawTick += 1;
    const g = $("grid"), n = S.items.idx.length;
    const first = Math.max(0, Math.floor(g.scrollTop / CELL_H) - OVERSCAN);
    const last = Math.min(Math.ceil(n / S.cols), Math.ceil((g.scrollTop + g.clientHeight) / CELL_H) + OVERSCAN);
    const lo = first * S.cols, hi = Math.min(n, last * S.cols);
    for (const [p, t] of pool) if (p < lo || p >= hi) release(p, t);
    const who = S.meta.source === "predictions" ? "model" : "data";
    for (let p = lo; p < hi; p++) {
      let t = pool.get(p);
      if (!t) {
        t = spare.pop() || newTile();
        pool.set(p, t); t.dataset.p = p; t.hidden = false;
      }
      const idx = S.items.idx[p];
      set(t.style, "left", 4 + (p % S.cols) * CELL_W + "px");
      set(t.style, "top", 4 + Math.floor(p / S.cols) * CELL_H + "px");
      const me = mine(idx), all = S.dec.get(idx), clash = conflict(all);
      t.classList.toggle("cursor", p === S.cursor);
      t.classList.toggle("sel", p >= S.selLo && p <= S.selHi);
      t.classList.toggle("correct", !!me && me.verdict === "correct");
      t.classList.toggle("wrong", !!me && me.verdict === "wrong");
      t.classList.toggle("conflict", clash);
      set(t.dataset, "idx", String(idx));
      set(t.dataset, "mark", me ? (me.verdict === "wrong" ? "wrong:" + (me.new || "") : me.verdict) : "");
      set(t.badge, "textContent", me ? (me.verdict === "correct" ? "✓" : "✗" + (me.new ? " " + me.new : "")) : "");
      const others = all ? [...all.values()].filter((d) => d.reviewer !== S.reviewer) : [];
      set(t.others, "textContent", others.length ? (clash ? "⚠ " : "") + others.map((d) => d.reviewer[0] + (d.verdict === "correct" ? "✓" : "✗")).join(" ") : "");
      set(t.others, "title", others.map((d) => `${d.reviewer}: ${d.verdict}${d.new ? " → " + d.new : ""} (${d.time})`).join("\n"));
      const sug = S.items.sug[p], conf = S.items.conf[p], given = S.items.given[p];
      set(t.cap, "textContent", S.view === "elsewhere" ? `label: ${S.classes[given].name}`
        : sug >= 0 ? `${who}: ${S.classes[sug].name} ${conf.toFixed(2)}` : "");
      t.cap.classList.toggle("disagree", sug >= 0 && sug !== given);
      const score = S.items.score[p];
      set(t.score.style, "width", score == null ? "0px" : Math.round(90 * score) + "px");
      set(t, "title", `${S.items.id[p]}\nlabel: ${S.classes[given].name}` + (score == null ? "" : `\nmisfit score ${score.toFixed(3)}`));
      showThumb(t, p);
    }
    // and, while scrolling, the sheets of the next screen in the direction of travel, so a
    // wheel that moves a screen a step finds its pictures already coming (not on a still
    // grid: opening a class waits only for what it shows)
    const ahead = Math.ceil(g.clientHeight / CELL_H) * S.cols, moved = g.scrollTop - lastTop;
    lastTop = g.scrollTop;
    wantSheets(lo, hi);
    if (moved > 0) wantSheets(hi, Math.min(n, hi + ahead)); else if (moved < 0) wantSheets(Math.max(0, lo - ahead), lo);
    set($("position"), "textContent", n ? `${S.cursor + 1} / ${n}` + (S.selLo >= 0 ? ` · ${S.selHi - S.selLo + 1} selected` : "") : "empty");
    api.renders += 1;
    checkFirstDraw();
    api.renderMs += performance.now() - t0;  // the page's own JS per frame (the benchmark reports it)
  }
  function scrollToCursor() {
    const g = $("grid"), top = Math.floor(S.cursor / S.cols) * CELL_H;
    if (top < g.scrollTop) g.scrollTop = top;
    else if (top + CELL_H > g.scrollTop + g.clientHeight) g.scrollTop = top + CELL_H - g.clientHeight + 8;
  }
  function move(delta, extend) {
    if (!S.items || !S.items.idx.length) return;
    const n = S.items.idx.length;
    const next = Math.min(n - 1, Math.max(0, S.cursor + delta));
    if (extend) {
      if (S.anchor == null) S.anchor = S.cursor;
      S.selLo = Math.min(S.anchor, next); S.selHi = Math.max(S.anchor, next);
    } else { S.anchor = null; S.selLo = S.selHi = -1; }
    S.cursor = next; scrollToCursor(); render();
  }

  // ---- full size ------------------------------------------------------------------------
  function openFull() {
    if (!S.items || !S.items.idx.length) return;
    const p = S.cursor, id = S.items.id[p];
    const file = id.split("#")[0];
    $("full-img").src = id.includes("#") ? `thumb/${S.items.idx[p]}` : "file/" + file.split("/").map(encodeURIComponent).join("/");
    const all = S.dec.get(S.items.idx[p]);
    const sug = S.items.sug[p];
    $("full-caption").textContent = `${id} · label ${S.classes[S.items.given[p]].name}` +
      (sug >= 0 ? ` · ${S.meta.source === "predictions" ? "model" : "data"}: ${S.classes[sug].name} ${S.items.conf[p].toFixed(2)}` : "") +
      (all ? " · " + [...all.values()].map((d) => `${d.reviewer}: ${d.verdict}${d.new ? " → " + d.new : ""}`).join(", ") : "");
    $("full").hidden = false;
  }

  // ---- type-ahead class assignment ------------------------------------------------------
  function matches() {
    const q = S.ta.toLowerCase();
    const names = S.classes.map((c) => c.name);
    const pre = names.filter((n) => n.toLowerCase().startsWith(q));
    const sub = names.filter((n) => !n.toLowerCase().startsWith(q) && n.toLowerCase().includes(q));
    return pre.concat(sub);
  }
  function renderTA() {
    const box = $("typeahead");
    box.hidden = !S.ta;
    if (!S.ta) return;
    const m = matches();
    S.taPick = m.length ? S.taPick % m.length : 0;
    $("ta-text").textContent = "it is: " + S.ta;
    const ol = $("ta-matches"); ol.innerHTML = "";
    (m.length ? m.slice(0, 8) : ["(no class matches)"]).forEach((n, i) => {
      const li = document.createElement("li"); li.textContent = n;
      if (m.length && i === S.taPick) li.className = "on";
      ol.appendChild(li);
    });
  }

  // ---- keys and mouse -------------------------------------------------------------------
  function onKey(ev) {
    if (!S.items) return;
    const k = ev.key;
    if (!$("full").hidden) { if (k === "Escape" || k === "Enter") { $("full").hidden = true; ev.preventDefault(); } return; }
    if ((ev.ctrlKey || ev.metaKey) && (k === "z" || k === "Z")) { ev.preventDefault(); undo(); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (S.ta) {
      if (k === "Escape") { S.ta = ""; renderTA(); ev.preventDefault(); return; }
      if (k === "Backspace") { S.ta = S.ta.slice(0, -1); renderTA(); ev.preventDefault(); return; }
      if (k === "Tab") { S.taPick += ev.shiftKey ? -1 + matches().length : 1; renderTA(); ev.preventDefault(); return; }
      if (k === "Enter") {
        const m = matches(); ev.preventDefault();
        if (m.length) { const pick = m[S.taPick % m.length]; S.ta = ""; renderTA(); mark("wrong", pick); }
        return;
      }
    }
    if (k.length === 1 && /[\p{L}\p{N}_\- ]/u.test(k) && (S.ta || k !== " ")) {
      S.ta += k; S.taPick = 0; renderTA(); ev.preventDefault(); return;
    }
    const step = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -S.cols, ArrowDown: S.cols, PageUp: -S.cols * 5, PageDown: S.cols * 5 }[k];
    if (step !== undefined) { move(step, ev.shiftKey); ev.preventDefault(); return; }
    switch (k) {
      case "Home": move(-S.cursor, ev.shiftKey); break;
      case "End": move(S.items.idx.length, ev.shiftKey); break;
      case " ": mark("correct"); break;
      case "Delete": case "Backspace": mark("wrong"); break;
      case "Enter": openFull(); break;
      case "Escape": S.selLo = S.selHi = -1; S.anchor = null; $("help").hidden = true; render(); break;
      case "]": openClass((S.cur + 1) % S.classes.length); break;
      case "[": openClass((S.cur - 1 + S.classes.length) % S.classes.length); break;
      case "=": if (S.meta.similar && S.items.idx.length) openClass(S.cur, "similar", S.items.idx[S.cursor]); break;
      case "?": $("help").hidden = !$("help").hidden; break;
      default: return;
    }
    ev.preventDefault();
  }
  function posOf(ev) { const t = ev.target.closest(".tile"); return t ? Number(t.dataset.p) : null; }
  function wireMouse() {
    const g = $("grid");
    g.addEventListener("mousedown", (ev) => {
      const p = posOf(ev); if (p == null || ev.button !== 0) return;
      g.focus({ preventScroll: true });
      if (ev.shiftKey) { if (S.anchor == null) S.anchor = S.cursor; S.selLo = Math.min(S.anchor, p); S.selHi = Math.max(S.anchor, p); }
      else { S.anchor = p; S.selLo = S.selHi = -1; S.dragging = true; }
      S.cursor = p; render(); ev.preventDefault();
    });
    g.addEventListener("mouseover", (ev) => {
      if (!S.dragging) return;
      const p = posOf(ev); if (p == null) return;
      if (p !== S.anchor || S.selLo >= 0) { S.selLo = Math.min(S.anchor, p); S.selHi = Math.max(S.anchor, p); }
      S.cursor = p; render();
    });
    window.addEventListener("mouseup", () => { S.dragging = false; });
    g.addEventListener("dblclick", (ev) => { if (posOf(ev) != null) openFull(); });
    g.addEventListener("scroll", renderSoon, { passive: true });
    window.addEventListener("resize", () => { layout(); render(); });
    $("full").addEventListener("click", () => { $("full").hidden = true; });
    $("help-btn").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
    document.querySelectorAll("#views button").forEach((b) => b.addEventListener("click", () => {
      const v = b.dataset.view;
      if (v === "similar") { if (S.items && S.items.idx.length && S.meta.similar) openClass(S.cur, "similar", S.items.idx[S.cursor]); }
      else openClass(S.cur, v);
    }));
  }

  async function poll() {
    try {
      const body = await getJSON(`api/decisions?since=${S.seq}`);
      if (body.decisions.length) { body.decisions.forEach(apply); renderClasses(); render(); saveState(); }
    } catch (e) { /* the server is away (restarting): try again */ }
    setTimeout(poll, POLL_MS);
  }

  async function start() {
    S.meta = await getJSON("api/meta");
    S.classes = S.meta.classes;
    S.reviewer = S.reviewer || S.meta.reviewer;
    $("reviewer").textContent = S.reviewer;
    const all = await getJSON("api/decisions?since=0");
    all.decisions.forEach(apply);
    wireMouse();
    document.addEventListener("keydown", onKey);
    const h = new URLSearchParams(location.hash.slice(1));
    let i = S.classes.findIndex((c) => c.name === h.get("class"));
    const view = ["misfit", "file", "elsewhere"].includes(h.get("view")) ? h.get("view") : "misfit";
    await openClass(i >= 0 ? i : 0, view);
    saveState();
    setTimeout(poll, POLL_MS);
  }
  start().catch((e) => { $("save-state").className = "err"; $("save-state").textContent = "could not load: " + e.message; });
})();
