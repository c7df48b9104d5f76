// The Suanli web view: one EventSource, a view kept in memory, deltas applied, redrawn on the
// next frame. The heat map is one canvas per node kind (5000 nodes of 8 devices are 40000
// cells: cheap on a canvas, heavy as elements).
"use strict";

const COLOURS = { free: "rgb(214,226,238)", part: "rgb(255,179,0)", full: "rgb(211,47,47)", cpu: "rgb(150,150,150)" };
const CELL_W = 5, CELL_H = 9, NODE_GAP = 4, ROW_GAP = 3, MILLI = 1000, MAX_JOBS = 500;

const view = { kinds: [], nodes: {}, fleet: [], queues: [], jobs: {} };
const dirty = { layout: true, nodes: new Set(), tables: true };
let layout = null; // {groups: [{canvas, ctx}], where: {name: [group, x, y]}}
let scheduled = false;

const suanli = { view, rendered: null, renders: 0, connected: false, pixel };
window.suanli = suanli;

function colour(used) {
  if (used <= 0) return COLOURS.free;
  return used >= MILLI ? COLOURS.full : COLOURS.part;
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function nodeWidth(devices) {
  return Math.max(1, devices) * (CELL_W + 1) - 1 + NODE_GAP;
}

function buildLayout() {
  const root = document.getElementById("heatmap");
  const width = Math.max(200, root.clientWidth || 800);
  const byKind = view.kinds.map(() => []);
  for (const name of Object.keys(view.nodes).sort()) byKind[view.nodes[name][0]].push(name);
  const fragment = document.createDocumentFragment();
  const groups = [], where = {};
  view.kinds.forEach((kind, index) => {
    const names = byKind[index];
    if (!names.length) return;
    let x = 0, y = 0;
    for (const name of names) {
      const w = nodeWidth(view.nodes[name][1].length);
      if (x + w > width && x > 0) { x = 0; y += CELL_H + ROW_GAP; }
      where[name] = [groups.length, x, y];
      x += w;
    }
    const devices = names.reduce((sum, n) => sum + view.nodes[n][1].length, 0);
    const title = el("h3", { "data-kind": kind.join("/") },
      `${kind[0]} · ${kind[1]} · ${kind[2]} — ${names.length} nodes, ${devices} devices`);
    const canvas = el("canvas", { width: String(width), height: String(y + CELL_H), "data-kind": kind.join("/"),
      "data-nodes": String(names.length), "data-devices": String(devices) });
    fragment.append(title, canvas);
    groups.push({ canvas, ctx: canvas.getContext("2d") });
  });
  root.replaceChildren(fragment);
  layout = { groups, where };
}

function drawNode(name) {
  const at = layout.where[name], node = view.nodes[name];
  if (!at || !node) return;
  const { ctx } = layout.groups[at[0]];
  const used = node[1];
  ctx.clearRect(at[1], at[2], nodeWidth(used.length) - NODE_GAP, CELL_H);
  if (!used.length) { ctx.fillStyle = COLOURS.cpu; ctx.fillRect(at[1], at[2], CELL_W, CELL_H); return; }
  used.forEach((u, i) => { ctx.fillStyle = colour(u); ctx.fillRect(at[1] + i * (CELL_W + 1), at[2], CELL_W, CELL_H); });
}

// The colour drawn for one device of one node, for tests: [r, g, b].
function pixel(name, device) {
  const at = layout && layout.where[name];
  if (!at) return null;
  const data = layout.groups[at[0]].ctx.getImageData(at[1] + device * (CELL_W + 1) + 2, at[2] + 4, 1, 1).data;
  return [data[0], data[1], data[2]];
}

function fill(table, header, rows) {
  const head = el("tr");
  header.forEach((h) => head.append(el("th", {}, h)));
  const body = [head];
  for (const row of rows) body.push(row);
  table.replaceChildren(...body);
}

function row(cells, attrs) {
  const tr = el("tr", attrs);
  for (const cell of cells) {
    const [text, cls] = Array.isArray(cell) ? cell : [cell, ""];
    tr.append(el("td", cls ? { class: cls } : {}, String(text)));
  }
  return tr;
}

const money = (v) => (v === null || v === undefined ? "-" : `$${v.toFixed(2)}`);

function explanation(job) {
  const parts = [];
  if (job.queue) parts.push(`queue ${job.queue}${job.queue_position ? ` (position ${job.queue_position})` : ""}`);
  if (job.estimated_start) parts.push(`estimated start ${job.estimated_start}`);
  for (const b of job.blockers) parts.push(`${b.type}: ${b.message}`);
  for (const p of job.placements) {
    const signals = Object.entries(p.breakdown).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(" ");
    const runners = p.runners_up.map(([n, s]) => `${n} (${s})`).join(", ");
    parts.push(`${p.pod} → ${p.node}${p.score === null ? "" : ` score ${p.score}`}${signals ? ` (${signals})` : ""}` +
      (runners ? `; runners-up ${runners}` : ""));
  }
  if (job.placed > job.placements.length) parts.push(`… ${job.placed - job.placements.length} more pods placed`);
  if (job.unschedulable) parts.push(`waiting: ${job.unschedulable}`);
  return parts.join(" · ");
}

function renderTables() {
  fill(document.getElementById("fleet"), ["accelerator", "tier", "site", "nodes", "devices", "alloc", "free", "frag"],
    view.fleet.map((r) => row([r.kind.accelerator, r.kind.tier, r.kind.site, [r.nodes, "num"], [r.devices, "num"],
      [r.allocated.toFixed(1), "num"], [r.free, "num"], [r.fragmented, "num"]])));
  fill(document.getElementById("queues"), ["queue", "cohort", "usage/quota", "pending", "admitted"],
    view.queues.map((q) => row([q.name, q.cohort || "-", q.usageText, [q.pending, "num"], [q.admitted, "num"]],
      { "data-queue": q.name })));
  const keys = Object.keys(view.jobs).sort().slice(0, MAX_JOBS);
  const rows = [];
  for (const key of keys) {
    const job = view.jobs[key];
    rows.push(row([key, [job.phase, `phase-${job.phase}`], job.queue || "-", job.accelerator || "-",
      [job.placed, "num"], [money(job.price_per_hour), "num"], [money(job.cost_accrued), "num"]],
      { "data-job": key, "data-phase": job.phase }));
    const why = el("tr", { "data-explain": key });
    why.append(el("td", { class: "why", colspan: "7" }, explanation(job)));
    rows.push(why);
  }
  fill(document.getElementById("jobs"), ["job", "phase", "queue", "accelerator", "pods", "$/h", "cost"], rows);
  const nodes = Object.keys(view.nodes).length;
  const devices = view.fleet.reduce((s, r) => s + r.devices, 0);
  const allocated = view.fleet.reduce((s, r) => s + r.allocated, 0);
  document.getElementById("summary").textContent =
    `${nodes} nodes · ${devices} devices · ${allocated.toFixed(1)} allocated · ${Object.keys(view.jobs).length} jobs`;
}

function render() {
  scheduled = false;
  if (dirty.layout) {
    buildLayout();
    Object.keys(view.nodes).forEach(drawNode);
  } else {
    dirty.nodes.forEach(drawNode);
  }
  if (dirty.tables) renderTables();
  dirty.layout = false; dirty.nodes.clear(); dirty.tables = false;
  suanli.renders += 1;
  if (suanli.rendered === null) suanli.rendered = performance.now();
}

function schedule() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(render); }
}

function applyKeyed(section, change) {
  const target = view[section];
  for (const key of change.removed) { delete target[key]; if (section === "nodes") dirty.layout = true; }
  for (const [key, value] of Object.entries(change.changed)) {
    const old = target[key];
    // A node that appears, or changes kind or device count, moves others: lay out again.
    if (section === "nodes" && (!old || old[0] !== value[0] || old[1].length !== value[1].length)) dirty.layout = true;
    target[key] = value;
    if (section === "nodes") dirty.nodes.add(key);
  }
}

function apply(change) {
  if (change.full) {
    Object.assign(view, change.full);
    dirty.layout = true; dirty.tables = true;
    return;
  }
  if (change.kinds) { view.kinds = change.kinds; dirty.layout = true; }
  if (change.nodes) applyKeyed("nodes", change.nodes);
  if (change.jobs) { applyKeyed("jobs", change.jobs); dirty.tables = true; }
  if (change.fleet) { view.fleet = change.fleet; dirty.tables = true; }
  if (change.queues) { view.queues = change.queues; dirty.tables = true; }
}

function connect() {
  const source = new EventSource("/events");
  const live = document.getElementById("live");
  source.addEventListener("delta", (event) => { apply(JSON.parse(event.data)); schedule(); });
  source.onopen = () => { suanli.connected = true; live.classList.add("on"); };
  source.onerror = () => { suanli.connected = false; live.classList.remove("on"); };
}

window.addEventListener("resize", () => { dirty.layout = true; schedule(); });
connect();
