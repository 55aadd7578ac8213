"use strict";
// Provenance report: renders the JSON embedded in #report-data. No network, no libraries.
// Tables are paged (PAGE rows drawn at a time) so thousands of records stay responsive.
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const PAGE = 50;
  const SVGNS = "http://www.w3.org/2000/svg";
  const COLORS = {
    user_provided: "#2457c5", auto_extracted: "#067647", ai_generated: "#c11574",
    external_enriched: "#0e7090", domain_knowledge: "#7a5af8",
    definitive: "#05603a", high_evidence: "#079455", human_confirmed: "#2457c5",
    human_override: "#6941c6", medium_evidence: "#0e9384", heuristic: "#ca8504",
    low_evidence: "#dc6803", placeholder: "#b42318", unknown: "#667085",
  };

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function tip(node, text) { node.append(svg("title", {}, text)); return node; }
  function badge(text, cls) { return el("span", { class: "badge " + (cls || ""), text: text }); }
  function fmtConf(c) { return c === null || c === undefined ? "–" : Number(c).toFixed(2); }
  function fmtBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0, v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return i === 0 ? n + " B" : v.toFixed(1) + " " + units[i];
  }
  function index(cols) { const idx = {}; cols.forEach((c, i) => (idx[c] = i)); return idx; }
  function pager(container, total, page, onPage) {
    container.replaceChildren();
    const pages = Math.max(1, Math.ceil(total / PAGE));
    const from = total ? page * PAGE + 1 : 0, to = Math.min(total, (page + 1) * PAGE);
    container.append(
      el("button", { type: "button", class: "prev", disabled: page <= 0, onclick: () => onPage(page - 1), text: "‹ Previous" }),
      el("span", { class: "range", text: `${from}–${to} of ${total}` }),
      el("button", { type: "button", class: "next", disabled: page >= pages - 1, onclick: () => onPage(page + 1), text: "Next ›" }),
    );
  }

  // ------------------------------------------------------------------ overview
  function renderOverview() {
    const o = D.overview, t = D.counts.totals;
    const dl = el("dl", { class: "kv" });
    const add = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
    const status = badge(o.status, o.status === "completed" ? "ok" : o.status === "started" ? "light" : "error");
    add("Status", status);
    add("Started", o.start_time || "–");
    add("Ended", o.end_time || "–");
    add("Duration", o.duration_s === null ? "–" : o.duration_s.toFixed(1) + " s");
    add("Source recording", el("code", { text: o.source_path || "–" }));
    add("Tag", o.tag ? el("code", { text: o.tag }) : "none (only completed conversions are tagged)");
    add("Tool", `${o.tool} ${o.tool_version}`);
    add("Inputs", `${o.inputs.length} (${fmtBytes(o.input_bytes)})` + o.inputs.map((i) => ` · ${i.name} (${i.mode}, ${i.files} files)`).join(""));
    add("Outputs", `${o.artifacts.length} artifacts (${fmtBytes(o.output_bytes)})`);
    add("Records", `${t.records} records · ${t.fields} fields · ${t.needs_review} need review · ${t.conflicts} conflicts · ${t.errors} errors · ${t.tool_calls} tool calls`);
    add("Journal", D.integrity.ok ? badge("hash chain verified", "ok") : badge(`hash chain BROKEN: ${D.integrity.untrusted} untrusted records`, "error"));
    if (o.error && o.status !== "completed") add("Error", o.error);
    if (o.dataset_id) add("DataLad dataset", el("code", { text: o.dataset_id }));
    const art = el("ul", {});
    for (const a of o.artifacts) art.append(el("li", {}, el("code", { text: a.path }), ` ${a.artifact_type}, ${fmtBytes(a.size)}` + (a.annex_key ? `, annex key ${a.annex_key}` : "")));
    const body = document.getElementById("overview-body");
    body.replaceChildren(dl);
    if (o.artifacts.length) body.append(el("h3", { text: "Artifacts" }), art);
    body.append(el("h3", { text: "How to reproduce" }), el("pre", { text: o.reproduce.join("\n") }));
  }

  // ------------------------------------------------------------------ fields
  const F = index(D.fieldCols), H = index(D.histCols);
  const fstate = { filter: "all", query: "", sort: null, dir: 1, page: 0, selected: -1, list: [] };
  const predicates = {
    all: () => true,
    review: (r) => r[F.review] === 1,
    conflict: (r) => r[F.conflicts] > 0,
    human: (r) => r[F.human] === 1,
    untrusted: (r) => r[F.trusted] === 0,
  };
  function computeFields() {
    const pred = predicates[fstate.filter], q = fstate.query.toLowerCase();
    const list = [];
    D.fields.forEach((r, i) => {
      if (!pred(r)) return;
      if (q && !(r[F.name].toLowerCase().includes(q) || String(r[F.value]).toLowerCase().includes(q))) return;
      list.push(i);
    });
    if (fstate.sort) {
      const k = F[fstate.sort], dir = fstate.dir;
      list.sort((a, b) => {
        const x = D.fields[a][k], y = D.fields[b][k];
        if (x === y) return a - b;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : 1) * dir;
      });
    }
    fstate.list = list;
  }
  function fieldRow(i) {
    const r = D.fields[i];
    const flags = el("td", { class: "flags" });
    if (r[F.review]) flags.append(badge("needs review", "review"), " ");
    if (r[F.conflicts]) flags.append(badge(`${r[F.conflicts]} conflict${r[F.conflicts] > 1 ? "s" : ""}`, "conflict"), " ");
    if (r[F.human]) flags.append(badge("human", "human"), " ");
    if (!r[F.trusted]) flags.append(badge("untrusted", "untrusted"));
    const tr = el("tr", {
      "data-field": r[F.name], "data-index": i, tabindex: 0,
      class: (r[F.trusted] ? "" : "untrusted ") + (i === fstate.selected ? "selected" : ""),
      onclick: () => showField(i),
      onkeydown: (e) => { if (e.key === "Enter") showField(i); },
    },
      el("td", {}, el("code", { text: r[F.name] })),
      el("td", { class: "value", text: r[F.value] }),
      el("td", {}, badge(r[F.source], "src-" + r[F.source])),
      el("td", {}, badge(`${r[F.level]} ${fmtConf(r[F.confidence])}`, "lvl-" + r[F.level])),
      el("td", { text: r[F.agent] || "–" }),
      flags,
    );
    if (r[F.reasons]) tr.title = r[F.reasons];
    return tr;
  }
  function renderFields() {
    const body = document.querySelector("#fields-table tbody");
    const start = fstate.page * PAGE;
    const frag = document.createDocumentFragment();
    for (const i of fstate.list.slice(start, start + PAGE)) frag.append(fieldRow(i));
    body.replaceChildren(frag);
    if (!fstate.list.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "note", text: "No field matches." })));
    pager(document.getElementById("fields-pager"), fstate.list.length, fstate.page, (p) => { fstate.page = p; renderFields(); });
  }
  function refreshFields() { computeFields(); fstate.page = 0; renderFields(); }
  function initFields() {
    const counts = {};
    for (const k of Object.keys(predicates)) counts[k] = D.fields.filter(predicates[k]).length;
    document.querySelectorAll("button.filter").forEach((b) => {
      b.querySelector(".n").textContent = `(${counts[b.dataset.filter]})`;
      b.addEventListener("click", () => {
        document.querySelectorAll("button.filter").forEach((x) => { x.classList.toggle("active", x === b); x.setAttribute("aria-pressed", x === b); });
        fstate.filter = b.dataset.filter;
        refreshFields();
      });
    });
    let timer = 0;
    document.getElementById("field-search").addEventListener("input", (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => { fstate.query = e.target.value.trim(); refreshFields(); }, 120);
    });
    document.querySelectorAll("#fields-table th[data-sort]").forEach((th) => th.addEventListener("click", () => {
      const key = th.dataset.sort;
      fstate.dir = fstate.sort === key ? -fstate.dir : 1;
      fstate.sort = key;
      document.querySelectorAll("#fields-table th").forEach((x) => x.classList.remove("sorted", "asc"));
      th.classList.add("sorted");
      if (fstate.dir > 0) th.classList.add("asc");
      refreshFields();
    }));
    refreshFields();
  }
  function showField(i) {
    fstate.selected = i;
    document.querySelectorAll("#fields-table tbody tr").forEach((tr) => tr.classList.toggle("selected", Number(tr.dataset.index) === i));
    const r = D.fields[i], hist = D.histories[i];
    const aside = document.getElementById("field-detail");
    const shown = hist.length > 200 ? hist.slice(-200) : hist;
    const table = el("table", { class: "grid history" },
      el("thead", {}, el("tr", {}, ...["Seq", "Time", "Operation", "Agent", "Source", "Confidence", "Value", "Why"].map((h) => el("th", { text: h })))));
    const tb = el("tbody", {});
    for (const h of shown) {
      const why = [h[H.method], h[H.reasoning], h[H.evidence] ? "evidence: " + h[H.evidence] : ""].filter(Boolean).join(" · ");
      tb.append(el("tr", { class: "history-row" + (h[H.trusted] ? "" : " untrusted"), "data-seq": h[H.seq] },
        el("td", { text: h[H.seq] }), el("td", { text: h[H.time] }), el("td", { text: h[H.operation] }),
        el("td", { text: h[H.agent] || "–" }), el("td", {}, badge(h[H.source], "src-" + h[H.source])),
        el("td", {}, badge(`${h[H.level]} ${fmtConf(h[H.confidence])}`, "lvl-" + h[H.level])),
        el("td", { class: "value", text: h[H.value] }), el("td", { text: why }),
      ));
    }
    table.append(tb);
    const conflicts = el("div", { class: "conflicts" });
    for (const h of hist) {
      const c = h[H.conflict];
      if (!c) continue;
      const ct = el("table", { class: "grid conflict" },
        el("thead", {}, el("tr", {}, ...["Candidate value", "Source", "Confidence", "Agent"].map((x) => el("th", { text: x })))));
      const cb = el("tbody", {});
      for (const cand of c.candidates || []) {
        cb.append(el("tr", {}, el("td", { class: "value", text: typeof cand.value === "string" ? cand.value : JSON.stringify(cand.value) }),
          el("td", {}, badge(cand.source, "src-" + cand.source)), el("td", { text: fmtConf(cand.confidence) }), el("td", { text: cand.agent || "–" })));
      }
      ct.append(cb);
      const chosen = typeof c.chosen_value === "string" ? c.chosen_value : JSON.stringify(c.chosen_value);
      conflicts.append(el("h4", { text: `Conflict at seq ${h[H.seq]}: ${c.resolution}${c.resolved_by ? " by " + c.resolved_by : ""} → ${chosen}` }), ct);
    }
    const parts = [
      el("button", { type: "button", class: "close filter", onclick: () => { aside.hidden = true; }, text: "Close" }),
      el("h3", {}, el("code", { text: r[F.name] }), " ", badge(r[F.source], "src-" + r[F.source]), " ", badge(`${r[F.level]} ${fmtConf(r[F.confidence])}`, "lvl-" + r[F.level])),
      el("p", {}, el("strong", { text: "Final value: " }), el("span", { class: "final-value", text: r[F.value] })),
      r[F.reasons] ? el("p", { class: "reasons" }, badge("needs review", "review"), " " + r[F.reasons]) : null,
      el("h4", { text: `History (${hist.length} decision${hist.length === 1 ? "" : "s"}${shown.length < hist.length ? ", last 200 shown" : ""})` }),
      table,
      conflicts.childElementCount ? conflicts : null,
    ];
    aside.replaceChildren(...parts.filter((x) => x !== null));
    aside.hidden = false;
    aside.scrollIntoView({ block: "nearest" });
  }

  // ------------------------------------------------------------------ timeline
  const E = index(D.eventCols);
  const estate = { kind: "all", page: 0, list: [] };
  function renderEvents() {
    const body = document.querySelector("#events-table tbody");
    const start = estate.page * PAGE;
    const frag = document.createDocumentFragment();
    for (const i of estate.list.slice(start, start + PAGE)) {
      const e = D.events[i];
      const status = e[E.status] === "ok" ? badge("ok", "ok") : badge(e[E.status], e[E.status]);
      const what = el("td", {}, e[E.title]);
      if (e[E.detail]) what.append(el("details", {}, el("summary", { text: "details" }), el("pre", { text: e[E.detail] })));
      frag.append(el("tr", { class: "event-row" + (e[E.trusted] ? "" : " untrusted"), "data-kind": e[E.kind] },
        el("td", { text: e[E.seq] }), el("td", { text: e[E.time] }), el("td", { text: e[E.kind] }),
        el("td", { text: e[E.agent] || "–" }), what, el("td", {}, status, e[E.trusted] ? null : badge("untrusted", "untrusted"))));
    }
    body.replaceChildren(frag);
    pager(document.getElementById("events-pager"), estate.list.length, estate.page, (p) => { estate.page = p; renderEvents(); });
  }
  function filterEvents(kind) {
    estate.kind = kind;
    estate.page = 0;
    estate.list = [];
    D.events.forEach((e, i) => {
      if (kind === "all" || (kind === "problems" ? e[E.status] !== "ok" : e[E.kind] === kind)) estate.list.push(i);
    });
    renderEvents();
  }
  function initEvents() {
    const counts = {};
    let problems = 0;
    for (const e of D.events) { counts[e[E.kind]] = (counts[e[E.kind]] || 0) + 1; if (e[E.status] !== "ok") problems++; }
    const bar = document.getElementById("event-filters");
    const make = (kind, label, n) => el("button", { type: "button", class: "filter" + (kind === "all" ? " active" : ""), "data-kind": kind, text: `${label} (${n})`,
      onclick: (ev) => { bar.querySelectorAll("button").forEach((b) => b.classList.toggle("active", b === ev.currentTarget)); filterEvents(kind); } });
    bar.append(make("all", "All", D.events.length), make("problems", "Errors and retries", problems));
    for (const k of Object.keys(counts).sort()) bar.append(make(k, k, counts[k]));
    filterEvents("all");
  }
  function renderTimeline() {
    const L = D.lanes, W = 1000, left = 150, right = 20, laneH = 24, top = 30;
    const lanes = L.agents;
    const h = top + lanes.length * laneH + 30;
    const span = Math.max(L.t1 - L.t0, 1e-9);
    const x = (t) => left + ((t - L.t0) / span) * (W - left - right);
    const root = svg("svg", { viewBox: `0 0 ${W} ${h}`, width: W, height: h, role: "img", "aria-label": "Pipeline timeline" });
    const palette = ["#dbe7ff", "#d3f8df", "#fdeaea", "#fef0c7", "#ebe9fe", "#ccfbef", "#fce7f6"];
    root.append(svg("text", { x: 4, y: 20 }, "stages"));
    D.stages.forEach((s, i) => {
      const x0 = x(s[1]), x1 = x(s[2] === null ? L.t1 : s[2]);
      root.append(tip(svg("rect", { x: x0, y: 6, width: Math.max(x1 - x0, 2), height: 20, fill: palette[i % palette.length], stroke: "#98a2b3" }), `stage ${s[0]}`));
      root.append(svg("text", { x: x0 + 3, y: 20 }, s[0]));
    });
    lanes.forEach((lane, li) => {
      const y = top + li * laneH;
      root.append(svg("text", { x: 4, y: y + 15 }, `${lane.name} (${lane.kind})`));
      root.append(svg("line", { x1: left, x2: W - right, y1: y + laneH - 2, y2: y + laneH - 2, stroke: "#eaecf0" }));
      const max = Math.max(1, ...lane.bins);
      const bw = (W - left - right) / lane.bins.length;
      lane.bins.forEach((n, bi) => {
        if (!n) return;
        const bh = 2 + (n / max) * (laneH - 6);
        root.append(tip(svg("rect", { x: left + bi * bw, y: y + laneH - 2 - bh, width: Math.max(bw - 0.5, 1), height: bh, fill: "#84adff" }), `${n} records`));
      });
    });
    const colors = { error: "#b42318", retry: "#dc6803", checkpoint: "#98a2b3", finalize: "#067647", stage: "#2457c5" };
    for (const m of D.markers) {
      const [t, kind, agentIndex, title] = m;
      const mx = x(t), y = top + agentIndex * laneH + laneH / 2;
      if (kind === "checkpoint" || kind === "finalize") {
        root.append(tip(svg("line", { x1: mx, x2: mx, y1: top, y2: h - 28, stroke: colors[kind], "stroke-dasharray": "3 3" }), title));
      } else {
        const s = 5;
        root.append(tip(svg("path", { d: `M${mx} ${y - s}L${mx + s} ${y}L${mx} ${y + s}L${mx - s} ${y}Z`, fill: colors[kind] || "#667085" }), title));
      }
    }
    root.append(svg("text", { x: left, y: h - 8 }, L.start || ""));
    root.append(svg("text", { x: W - right, y: h - 8, "text-anchor": "end" }, L.end || ""));
    document.getElementById("timeline-chart").replaceChildren(root);
  }

  // ------------------------------------------------------------------ validation and charts
  function renderValidation() {
    const v = D.validation, body = document.getElementById("validation-body");
    if (!v) { body.replaceChildren(el("p", { class: "note", text: "No validation report (reports/validation.json) in this conversion." })); return; }
    if (v.error) { body.replaceChildren(el("p", {}, badge("error", "error"), ` ${v.file} is ${v.error}`)); return; }
    const verdict = v.passes === true ? badge("passes", "ok") : v.passes === false ? badge("fails", "error") : badge("unknown", "light");
    const t = el("table", { class: "grid" }, el("thead", {}, el("tr", {}, el("th", { text: "Importance" }), el("th", { text: "Count" }))));
    const tb = el("tbody", {});
    for (const [k, n] of Object.entries(v.counts)) tb.append(el("tr", {}, el("td", { text: k }), el("td", { text: n })));
    tb.append(el("tr", {}, el("td", { text: "schema errors" }), el("td", { text: v.schema_errors })));
    t.append(tb);
    body.replaceChildren(el("p", {}, el("code", { text: v.nwb_file || "–" }), " ", verdict, ` (${v.config || "–"}, ${v.issues_total} issues)`), t);
    if (v.issues.length) {
      const ul = el("ul", {});
      for (const i of v.issues) ul.append(el("li", {}, badge(i.importance || "?", "light"), ` ${i.check || ""}: ${i.message || ""}`));
      body.append(ul);
    }
  }
  function barChart(id, entries) {
    const W = 420, rowH = 20, left = 130, h = Math.max(1, entries.length) * rowH + 10;
    const max = Math.max(1, ...entries.map((e) => e[1]));
    const root = svg("svg", { viewBox: `0 0 ${W} ${h}`, width: W, height: h, role: "img" });
    entries.forEach(([label, n, color], i) => {
      const y = 5 + i * rowH, w = (n / max) * (W - left - 50);
      root.append(svg("text", { x: left - 6, y: y + 13, "text-anchor": "end" }, label));
      root.append(tip(svg("rect", { x: left, y: y + 2, width: Math.max(w, 1), height: rowH - 6, fill: color || "#84adff", class: "bar", "data-label": label }), `${label}: ${n}`));
      root.append(svg("text", { x: left + w + 4, y: y + 13 }, String(n)));
    });
    if (!entries.length) root.append(svg("text", { x: 4, y: 15 }, "no data"));
    document.getElementById(id).replaceChildren(root);
  }
  function renderCharts() {
    const c = D.counts;
    barChart("chart-confidence", Object.entries(c.confidence).map(([k, n]) => [k, n, k === "none" ? "#98a2b3" : "#528bff"]));
    barChart("chart-levels", Object.entries(c.by_level).map(([k, n]) => [k, n, COLORS[k]]));
    barChart("chart-sources", Object.entries(c.by_source).map(([k, n]) => [k, n, COLORS[k]]));
  }

  // ------------------------------------------------------------------ provenance graph
  function renderGraph() {
    const G = D.graph, W = 1000, colX = { agent: 120, activity: 500, entity: 860 }, rowH = 56;
    const byCol = { agent: [], activity: [], entity: [] };
    for (const n of G.nodes) byCol[n.type].push(n);
    const h = 40 + Math.max(...Object.values(byCol).map((c) => c.length), 1) * rowH;
    const pos = {};
    for (const [type, nodes] of Object.entries(byCol)) {
      const offset = (h - nodes.length * rowH) / 2;
      nodes.forEach((n, i) => (pos[n.id] = [colX[type], offset + i * rowH + rowH / 2]));
    }
    const root = svg("svg", { viewBox: `0 0 ${W} ${h}`, width: W, height: h, role: "img", "aria-label": "Provenance graph" });
    root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0 0L10 5L0 10z", fill: "#667085" }))));
    for (const [a, b, label, n] of G.edges) {
      if (!pos[a] || !pos[b]) continue;
      const [x1, y1] = pos[a], [x2, y2] = pos[b];
      let d;
      if (a === b) {
        d = `M${x1 + 58} ${y1 - 8}C${x1 + 120} ${y1 - 40} ${x1 + 120} ${y1 + 40} ${x1 + 60} ${y1 + 8}`;
      } else if (x1 === x2) {
        const bend = x1 + 110;
        d = `M${x1 + 60} ${y1}C${bend} ${y1} ${bend} ${y2} ${x2 + 62} ${y2}`;
      } else {
        const sx = x1 + (x2 > x1 ? 62 : -62), ex = x2 + (x2 > x1 ? -64 : 64), mx = (sx + ex) / 2;
        d = `M${sx} ${y1}C${mx} ${y1} ${mx} ${y2} ${ex} ${y2}`;
      }
      root.append(tip(svg("path", { d, fill: "none", stroke: "#98a2b3", "stroke-width": 1 + Math.min(3, Math.log10(n + 1)), "marker-end": "url(#arrow)" }), `${label} (${n})`));
    }
    for (const n of G.nodes) {
      const [x, y] = pos[n.id];
      let shape;
      if (n.type === "agent") shape = svg("polygon", { points: `${x - 60},${y - 8} ${x},${y - 22} ${x + 60},${y - 8} ${x + 60},${y + 20} ${x - 60},${y + 20}`, fill: "#fed7aa", stroke: "#c2410c" });
      else if (n.type === "activity") shape = svg("rect", { x: x - 62, y: y - 20, width: 124, height: 40, fill: "#c7d7fe", stroke: "#2457c5" });
      else shape = svg("ellipse", { cx: x, cy: y, rx: 62, ry: 21, fill: "#fef08a", stroke: "#a16207" });
      const g = svg("g", { class: "node node-" + n.type, "data-id": n.id }, shape,
        svg("text", { x, y: y - 1, "text-anchor": "middle" }, n.label.length > 22 ? n.label.slice(0, 21) + "…" : n.label),
        svg("text", { x, y: y + 12, "text-anchor": "middle" }, n.kind ? `${n.kind} · ${n.count}` : `${n.count}`));
      root.append(tip(g, `${n.type}: ${n.label} (${n.count})`));
    }
    document.getElementById("graph-chart").replaceChildren(root);
  }

  // ------------------------------------------------------------------ start
  renderOverview();
  initFields();
  initEvents();
  renderValidation();
  // Charts below the fold are drawn after the first paint so the tables are usable at once.
  requestAnimationFrame(() => setTimeout(() => {
    renderTimeline();
    renderCharts();
    renderGraph();
    window.__report = Object.assign(window.__report || {}, { chartsMs: performance.now() });
    document.body.setAttribute("data-charts", "1");
  }, 0));
  window.__report = { readyMs: performance.now() };
  document.body.setAttribute("data-ready", "1");
})();
