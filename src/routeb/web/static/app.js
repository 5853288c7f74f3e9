/* routeb dashboard: Now, Today, History, Bill and Meter pages over /api/v1 (docs/dashboard.md).
 * Plain JavaScript, no framework, no external requests. uPlot (vendored) draws the charts.
 * Every word comes from the one glossary (routeb/glossary.py, /static/glossary.js). */
"use strict";

(() => {
  const TZ = "Asia/Tokyo";
  const API = "/api/v1";
  const NEAR_LIMIT = 0.8; // warn at 80 % of the contract amperage
  const MIN_SPAN_W = 200; // the "Last hour" y axis spans at least this: a 2 W wobble is no cliff
  const SLOT_S = 1800; // the meters' 30-minute values (protocol.md §B.1 0xE2)
  const DAY_S = 86400;

  // ---------------------------------------------------------------- i18n (the glossary)
  const I18N = window.ROUTEB_GLOSSARY || { en: {}, ja: {} }; // loaded before this script
  const store = {
    get(key) { try { return localStorage.getItem("routeb." + key); } catch { return null; } },
    set(key, value) { try { localStorage.setItem("routeb." + key, value); } catch { /* private mode */ } },
  };
  const browserLang = ((navigator.languages && navigator.languages[0]) || navigator.language || "en").toLowerCase();
  let lang = store.get("lang");
  if (lang !== "en" && lang !== "ja") lang = browserLang.startsWith("ja") ? "ja" : "en";

  function t(key, vars) {
    let text = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) text = text.split("{" + k + "}").join(v);
    return text;
  }

  const PAGES = { "/": "now", "/today": "today", "/history": "history", "/bill": "bill", "/meter": "meter" };
  const page = PAGES[location.pathname] || "now";

  function applyI18n() {
    document.documentElement.lang = lang;
    document.title = t("title." + page) + " — routeb";
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
    const toggle = $("lang-toggle");
    toggle.textContent = t("lang.switch"); // the visible name is the accessible name
    toggle.lang = lang === "ja" ? "en" : "ja";
    toggle.title = t("lang.switchLabel");
    updateThemeButton();
    dateFields.relabel();
  }

  // ---------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);
  const setText = (id, text) => { const el = $(id); if (el) el.textContent = text; };
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const locale = () => (lang === "ja" ? "ja-JP" : "en-US");

  // ---------------------------------------------------------------- date fields
  // A native <input type=date> writes its date in the browser's locale, not the page's:
  // mm/dd/yyyy in an English Chromium showing the Japanese page. So each date field is text in
  // the page language's order — ja 2026/12/03 (年/月/日, as Japanese forms write it), en ISO
  // 2026-12-03 — read back as ISO; the button beside it opens the browser's own calendar (a
  // hidden date input), and either separator (or 2026年12月3日) is accepted when typed.
  const DATE_TEXT = /^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$/;
  function isoDate(text) {
    const m = DATE_TEXT.exec(text || "");
    if (!m) return null;
    const iso = `${m[1]}-${m[2].padStart(2, "0")}-${m[3].padStart(2, "0")}`;
    const d = new Date(iso + "T00:00:00Z"); // a real calendar day: 2026-02-30 is not
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso ? iso : null;
  }
  const dateFields = {
    all: () => document.querySelectorAll("input.date"),
    show(el, iso) {
      el.value = iso ? iso.replaceAll("-", lang === "ja" ? "/" : "-") : "";
      el.removeAttribute("aria-invalid");
      el.setCustomValidity("");
    },
    set(id, iso) { dateFields.show($(id), iso); },
    // The ISO date in the field; "" when empty; null (and the field marked) when not a date.
    get(id) {
      const el = $(id);
      if (!el.value.trim()) return "";
      const iso = isoDate(el.value);
      if (iso === null) {
        el.setAttribute("aria-invalid", "true");
        el.setCustomValidity(dateFields.invalid());
      }
      return iso;
    },
    invalid: () => t("date.invalid", { format: t("date.format") }),
    relabel() {
      for (const el of dateFields.all()) {
        el.placeholder = t("date.format");
        const iso = isoDate(el.value);
        if (iso) dateFields.show(el, iso);
      }
    },
    init() {
      for (const el of dateFields.all()) {
        const picker = document.createElement("input");
        picker.type = "date";
        picker.className = "date-picker";
        picker.tabIndex = -1;
        picker.setAttribute("aria-hidden", "true");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "date-open";
        button.dataset.i18nAria = "date.pick";
        button.textContent = "▾"; // in every font the page may get (an emoji calendar is not)
        button.addEventListener("click", () => {
          picker.value = isoDate(el.value) || "";
          try { picker.showPicker(); } catch { picker.focus(); }
        });
        picker.addEventListener("change", () => {
          if (!picker.value) return;
          dateFields.show(el, picker.value);
          el.dispatchEvent(new Event("change", { bubbles: true }));
        });
        el.after(button, picker);
      }
    },
  };

  // Intl formatters are costly to build: one per language and options, reused.
  const formatters = new Map();
  function formatter(kind, options) {
    const key = kind + locale() + JSON.stringify(options);
    let f = formatters.get(key);
    if (!f) {
      f = kind === "n" ? new Intl.NumberFormat(locale(), options) : new Intl.DateTimeFormat(locale(), options);
      formatters.set(key, f);
    }
    return f;
  }
  function num(value, digits) {
    if (!isNum(value)) return "—";
    return formatter("n", { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
  }
  // Money as Japanese bills write it: 1,234円 (ja), ¥1,234 (en); sen only when there are some.
  function yen(value, digits) {
    if (!isNum(value)) return "—";
    const places = digits ?? (Math.round(value * 100) % 100 === 0 ? 0 : 2);
    const text = num(Math.abs(value), places);
    const sign = value < 0 ? "−" : "";
    return lang === "ja" ? `${sign}${text}円` : `${sign}¥${text}`;
  }
  function fmtTime(iso, opts) {
    if (!iso) return "—";
    return formatter("d", Object.assign({ timeZone: TZ, hourCycle: "h23" }, opts || {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    })).format(new Date(iso));
  }
  const fmtSec = (s, opts) => fmtTime(new Date(s * 1000).toISOString(), opts);
  const hhmm = (s) => fmtSec(s, { hour: "2-digit", minute: "2-digit" });
  function dayLabel(s, withWeekday) {
    const opts = { month: "numeric", day: "numeric" };
    if (withWeekday) opts.weekday = "short";
    return fmtSec(s + 43200, opts);
  }
  function monthLabel(s, withYear) {
    const opts = withYear ? { year: "numeric", month: lang === "ja" ? "long" : "short" } : { month: lang === "ja" ? "long" : "short" };
    return fmtSec(s + 14 * DAY_S, opts);
  }
  function duration(seconds) {
    if (!isNum(seconds)) return t("never");
    const s = Math.max(0, Math.round(seconds));
    if (s < 90) return lang === "ja" ? `${s}秒` : `${s} s`;
    if (s < 5400) return lang === "ja" ? `${Math.round(s / 60)}分` : `${Math.round(s / 60)} min`;
    if (s < 172800) return lang === "ja" ? `${Math.round(s / 3600)}時間` : `${Math.round(s / 3600)} h`;
    return lang === "ja" ? `${Math.round(s / 86400)}日` : `${Math.round(s / 86400)} days`;
  }
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  // JST calendar helpers: a "day" is a YYYY-MM-DD string in Japan.
  const jstDay = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
  const serverNow = () => Date.now() + clockOffset;
  function jstToday() {
    return jstDay.format(new Date(serverNow()));
  }
  function addDays(day, n) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function addMonths(day, n) {
    const d = new Date(day.slice(0, 8) + "01T00:00:00Z");
    d.setUTCMonth(d.getUTCMonth() + n);
    return d.toISOString().slice(0, 10);
  }
  function jstMidnight(day) { return Date.parse(day + "T00:00:00+09:00") / 1000; }
  function daysBetween(a, b) { return Math.round((Date.parse(b) - Date.parse(a)) / 86400000); }
  function dayText(day) { return dayLabel(jstMidnight(day), false); }

  let meter = null;
  let clockOffset = 0; // server clock − browser clock (ms)

  async function api(path, params) {
    const query = new URLSearchParams();
    if (meter) query.set("meter", meter);
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null) query.set(k, v);
    const qs = query.toString();
    const response = await fetch(API + path + (qs ? "?" + qs : ""), { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("login"); }
    let body = null;
    try { body = await response.json(); } catch { body = null; }
    if (!response.ok) {
      const error = new Error((body && body.error) || response.statusText);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // ---------------------------------------------------------------- theme
  function applyTheme() {
    const theme = store.get("theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
    updateThemeButton();
  }
  function updateThemeButton() {
    const theme = store.get("theme") || "auto";
    const button = $("theme-toggle");
    button.textContent = theme === "dark" ? "☾" : theme === "light" ? "☀" : "◐";
    const label = t("theme.toggle") + " (" + t("theme." + theme) + ")";
    button.title = label;
    button.setAttribute("aria-label", label);
  }
  const charts = [];
  function redrawCharts() { for (const redraw of charts) redraw(); }

  // ---------------------------------------------------------------- charts
  function sizeOf(el, height) {
    return { width: Math.max(280, el.clientWidth || el.parentElement.clientWidth - 32), height };
  }
  function noData(el) {
    el.textContent = "";
    if (el._chart) { el._chart.destroy(); el._chart = null; }
    const box = document.createElement("div");
    box.className = "no-data";
    box.textContent = t("chart.noData");
    el.appendChild(box);
    el.setAttribute("aria-label", t("chart.noData"));
    return null;
  }
  function makeChart(el, opts, data, height, alt) {
    el.textContent = "";
    if (el._chart) { el._chart.destroy(); el._chart = null; }
    el.setAttribute("aria-label", alt || "");
    if (typeof uPlot === "undefined") return null;
    const chart = new uPlot(Object.assign({ tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TZ) }, opts, sizeOf(el, height)), data, el);
    el._chart = chart;
    return chart;
  }
  window.addEventListener("resize", () => {
    for (const el of document.querySelectorAll(".chart")) {
      if (el._chart) el._chart.setSize(sizeOf(el, el._chart.height));
    }
    redrawCharts(); // tick labels depend on the width
  });
  function yAxis(unitKey, digits) {
    const stroke = cssVar("--muted");
    const grid = { stroke: cssVar("--line"), width: 1 };
    return {
      stroke, grid, ticks: grid, size: 56, label: t(unitKey), labelSize: 18, labelFont: "12px system-ui, sans-serif",
      values: (u, splits) => splits.map((v) => num(v, digits)),
    };
  }
  function xAxis(splits, labels) {
    const stroke = cssVar("--muted");
    const grid = { stroke: cssVar("--line"), width: 1 };
    const axis = { stroke, grid, ticks: grid };
    if (splits) {
      axis.splits = () => splits;
      axis.values = () => labels;
    }
    return axis;
  }
  // A hatch in the series colour: bars of intervals whose readings are incomplete.
  function hatch(color) {
    const c = document.createElement("canvas");
    c.width = c.height = 8;
    const g = c.getContext("2d");
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.beginPath(); g.moveTo(0, 8); g.lineTo(8, 0); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
    return g.createPattern(c, "repeat");
  }
  // Bars that cover exactly their interval [x, end): never centred on the interval's start.
  function intervalBars(ends) {
    return (u, seriesIdx, idx0, idx1) => {
      const xs = u.data[0];
      const ys = u.data[seriesIdx];
      const fill = new Path2D();
      const zero = u.valToPos(0, "y", true);
      const gap = Math.max(1, Math.round(devicePixelRatio));
      for (let i = idx0; i <= idx1; i++) {
        const v = ys[i];
        if (v === null || v === undefined || !isNum(ends[i])) continue;
        const left = Math.round(u.valToPos(xs[i], "x", true));
        const right = Math.round(u.valToPos(ends[i], "x", true));
        const top = Math.round(u.valToPos(v, "y", true));
        const width = Math.max(1, right - left - gap);
        fill.rect(left + (right - left - width > 0 ? Math.floor(gap / 2) : 0), Math.min(top, zero), width, Math.max(1, Math.abs(zero - top)));
      }
      return { stroke: fill, fill };
    };
  }
  function barSeries(label, color, ends, unit) {
    return {
      label, stroke: color, fill: color, width: 0, paths: intervalBars(ends), points: { show: false },
      value: (u, v) => (isNum(v) ? num(Math.abs(v), 3) + " " + unit : "—"),
    };
  }
  // Tick positions: one per interval (its middle), thinned to fit, each label once.
  function ticks(rows, label, width, minPx) {
    if (!rows.length) return { splits: [], labels: [] };
    const span = rows[rows.length - 1].end - rows[0].x;
    const px = (width - 70) / span;
    const splits = [];
    const labels = [];
    let lastRight = -Infinity;
    for (const r of rows) {
      const mid = (r.x + r.end) / 2;
      const pos = (mid - rows[0].x) * px;
      if (pos - minPx / 2 < lastRight) continue;
      splits.push(mid);
      labels.push(label(r));
      lastRight = pos + minPx / 2;
    }
    return { splits, labels };
  }
  function summaryOf(rows) {
    const known = rows.filter((r) => isNum(r.imp));
    if (!known.length) return t("chart.noData");
    const bought = known.reduce((a, r) => a + r.imp, 0);
    const peak = known.reduce((a, r) => (r.imp > a.imp ? r : a), known[0]);
    let text = t("chart.summary", { bought: num(bought, 2), n: known.length, peak: num(peak.imp, 2), at: peak.label });
    const sold = rows.reduce((a, r) => a + (isNum(r.exp) ? r.exp : 0), 0);
    if (sold > 0) text += t("chart.summarySold", { sold: num(sold, 2) });
    return text;
  }

  // One bar chart for today, a day, a week, a month, a year or a range.
  function energyChart(el, rows, { kind, height, yesterday, altKey }) {
    if (!rows.some((r) => isNum(r.imp) || isNum(r.exp))) return noData(el);
    const width = sizeOf(el, height).width;
    const xs = rows.map((r) => r.x);
    const ends = rows.map((r) => r.end);
    const lastEnd = ends[ends.length - 1];
    // one more x at the end of the last interval: the step line reaches it
    const xData = xs.concat([lastEnd]);
    const pad = (a) => a.concat([null]);
    const solid = pad(rows.map((r) => (isNum(r.imp) && r.complete !== false ? r.imp : null)));
    const partial = pad(rows.map((r) => (isNum(r.imp) && r.complete === false ? r.imp : null)));
    const endsPad = ends.concat([null]);
    const importColor = cssVar("--import");
    const exportColor = cssVar("--export");
    const rowLabel = (i) => (i === null || i === undefined || !rows[i] ? "" : rows[i].range);
    const series = [
      { label: t(kind === "slots" ? "chart.time" : kind === "monthly" ? "chart.month" : "chart.date"), value: (u, v, si, i) => rowLabel(i) },
      barSeries(t(yesterday ? "series.today" : "series.bought"), importColor, endsPad, "kWh"),
    ];
    const data = [xData, solid];
    if (partial.some((v) => v !== null)) {
      const s = barSeries(t("series.boughtIncomplete"), importColor, endsPad, "kWh");
      s.fill = hatch(importColor);
      series.push(s);
      data.push(partial);
    }
    if (yesterday) {
      const values = pad(yesterday.slice(0, rows.length));
      values[values.length - 1] = values[values.length - 2]; // the last step reaches 24:00
      series.push({
        label: t("series.yesterday"), stroke: cssVar("--previous"), width: 2, dash: [6, 4],
        paths: uPlot.paths.stepped({ align: 1 }), points: { show: false },
        value: (u, v) => (isNum(v) ? num(v, 3) + " kWh" : "—"),
      });
      data.push(values);
    }
    if (rows.some((r) => isNum(r.exp) && r.exp > 0)) {
      series.push(barSeries(t("series.sold"), exportColor, endsPad, "kWh"));
      data.push(pad(rows.map((r) => (isNum(r.exp) ? -r.exp : null))));
    }
    let tick;
    if (kind === "slots") {
      const every = width < 500 ? 12 : 6; // 6 h or 3 h
      const picked = rows.filter((r, i) => i % every === 0);
      tick = { splits: picked.map((r) => r.x), labels: picked.map((r) => hhmm(r.x)) };
    } else if (kind === "daily") {
      const week = rows.length <= 7;
      tick = ticks(rows, (r) => dayLabel(r.x, week), width, week ? 70 : 34);
    } else {
      const years = new Set(rows.map((r) => fmtSec(r.x + 14 * DAY_S, { year: "numeric" }))).size;
      tick = ticks(rows, (r) => monthLabel(r.x, years > 1), width, years > 1 ? 64 : 40);
    }
    const opts = {
      series,
      axes: [xAxis(tick.splits, tick.labels), yAxis("chart.kwhAxis", 1)],
      scales: { x: { time: true, range: () => [xs[0], lastEnd] } },
      cursor: { points: { show: false } },
    };
    return makeChart(el, opts, data, height, t(altKey, { summary: summaryOf(rows) }));
  }

  // ---------------------------------------------------------------- the one state
  let live = null;
  let disconnected = false;
  const nowPoints = { x: [], y: [] };

  function currentAge() {
    if (!live) return null;
    const last = live.last_seen || live.power_at;
    if (!last) return null;
    return Math.max(0, (serverNow() - Date.parse(last)) / 1000);
  }
  // The server derives the status once (jsonout.live_status); between updates only time moves
  // it on (live/recovering → stale), and a lost stream makes everything unknown.
  function status() {
    if (disconnected) return "disconnected";
    if (!live) return "waiting";
    const age = currentAge();
    if ((live.status === "live" || live.status === "recovering") && (age === null || age > live.stale_after_s)) return "stale";
    return live.status || "waiting";
  }
  function linkState(state) { return state ? t("link." + state) : "—"; }

  function renderLive() {
    const s = live;
    const st = status();
    const line = $("status-line");
    line.dataset.status = st;
    setText("status-text", t("status." + st));
    const reason = s && st !== "live" && s.reason ? t("status.reason", { reason: reasonText(s.reason) }) : "";
    setText("status-reason", reason);
    document.body.dataset.status = st;
    if (!s) return;
    const current = st === "live";
    const shown = current || st === "recovering"; // greyed: the last values, not live ones
    const power = $("power-value");
    const hasPower = isNum(s.power_w) && shown;
    power.textContent = hasPower ? num(Math.abs(s.power_w), 0) : t("unavailable");
    power.classList.toggle("unavailable", !hasPower);
    power.parentElement.classList.toggle("dim", hasPower && !current);
    setText("power-unit", hasPower ? "W" : "");
    const dir = $("direction");
    dir.className = "badge" + (s.direction && hasPower ? " " + s.direction : "") + (hasPower && !current ? " dim" : "");
    dir.textContent = s.direction && hasPower ? t(s.direction) : "—";

    const contract = s.contract_amperes;
    setText("contract", isNum(contract) ? contract + " A" : "—");
    let worst = 0;
    for (const [phase, value] of [["r", s.current_r_a], ["t", s.current_t_a]]) {
      const ok = isNum(value) && shown;
      const el = $("current-" + phase);
      el.textContent = ok ? num(Math.abs(value), 1) + " A" : t("unavailable");
      el.classList.toggle("dim", ok && !current);
      const bar = $("bar-" + phase);
      const ratio = ok && isNum(contract) && contract > 0 ? Math.abs(value) / contract : 0;
      bar.style.width = Math.min(100, ratio * 100) + "%";
      bar.classList.toggle("near", ratio >= NEAR_LIMIT && ratio < 1);
      bar.classList.toggle("over", ratio >= 1);
      bar.classList.toggle("dim", ok && !current);
      worst = Math.max(worst, ratio);
    }
    const warning = $("current-warning");
    warning.hidden = worst < NEAR_LIMIT;
    warning.textContent = worst >= 1 ? t("now.overLimit") : t("now.nearLimit");

    const link = s.link || {};
    const linkKnown = st !== "disconnected";
    setText("online", t("status." + st));
    setText("link-state", linkKnown ? linkState(link.state) : "—");
    setText("link-lqi", linkKnown && isNum(link.lqi) ? String(link.lqi) : "—");
    setText("link-rssi", linkKnown && isNum(link.rssi_dbm) ? num(link.rssi_dbm, 0) + " dBm" : "—");
    for (const [id, value] of [["energy-import", s.energy_import_kwh], ["energy-export", s.energy_export_kwh]]) {
      const el = $(id);
      el.textContent = isNum(value) ? num(value, 1) + " kWh" : id === "energy-import" ? t("unavailable") : "—";
      el.classList.toggle("dim", !current);
    }
    setText("last-slot", s.last_slot_end ? fmtTime(s.last_slot_end, { hour: "2-digit", minute: "2-digit" }) + (isNum(s.last_slot_import_kwh) ? " · " + num(s.last_slot_import_kwh, 2) + " kWh" : "") : "—");
    tick();
  }

  let lastShownStatus = null;
  function tick() {
    const age = currentAge();
    setText("age", age === null ? t("never") : t("ago", { n: duration(age) }));
    const st = status();
    const banner = $("stale-banner");
    const stale = st === "stale" || st === "latched" || (st === "waiting" && live !== null);
    banner.hidden = !stale;
    if (stale) {
      setText("stale-title", t("status." + st));
      setText("stale-detail", age === null ? t("stale.never") : t("stale.detail", { age: duration(age) }));
    }
    if (st !== lastShownStatus) { lastShownStatus = st; if (live) renderLive(); }
    setText("server-time", fmtTime(new Date(serverNow()).toISOString(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }) + " JST");
  }

  function onState(state) {
    const receivedAt = Date.now();
    if (state.server_time) clockOffset = Date.parse(state.server_time) - receivedAt;
    const previousSlot = live && live.last_slot_end;
    live = state;
    disconnected = false;
    if (!meter) meter = state.meter;
    $("conn-banner").hidden = true;
    renderLive();
    if (isNum(state.power_w) && state.power_at && state.status === "live") {
      const x = Date.parse(state.power_at) / 1000;
      if (!nowPoints.x.length || x > nowPoints.x[nowPoints.x.length - 1]) {
        nowPoints.x.push(x); nowPoints.y.push(state.power_w);
        const cutoff = x - 3600;
        while (nowPoints.x.length && nowPoints.x[0] < cutoff) { nowPoints.x.shift(); nowPoints.y.shift(); }
        drawNowChart();
      }
    }
    if (page === "today" && previousSlot && state.last_slot_end !== previousSlot) loadToday();
  }

  let source = null;
  function connectStream() {
    if (source) source.close();
    source = new EventSource(API + "/stream" + (meter ? "?meter=" + encodeURIComponent(meter) : ""));
    source.addEventListener("state", (event) => onState(JSON.parse(event.data)));
    source.addEventListener("open", () => { $("conn-banner").hidden = true; });
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.OPEN) {
        disconnected = true;
        $("conn-banner").hidden = false;
        renderLive();
      }
    });
  }

  // ---------------------------------------------------------------- Now: the last hour
  function gapLimit() { return live && isNum(live.stale_after_s) ? live.stale_after_s : 60; }
  function drawNowChart() {
    const el = $("now-chart");
    if (page !== "now" || !el) return;
    // Draw nothing where there was no reading: a null between readings further apart than
    // the stale limit (the same rule that marks the state stale).
    const xs = [];
    const ys = [];
    const gaps = [];
    for (let i = 0; i < nowPoints.x.length; i++) {
      if (i && nowPoints.x[i] - nowPoints.x[i - 1] > gapLimit()) {
        xs.push((nowPoints.x[i] + nowPoints.x[i - 1]) / 2); ys.push(null);
        gaps.push([nowPoints.x[i - 1], nowPoints.x[i]]);
      }
      xs.push(nowPoints.x[i]); ys.push(nowPoints.y[i]);
    }
    if (!xs.length) return noData(el);
    const known = ys.filter(isNum);
    let alt = t("now.chartSummary", { min: num(Math.min(...known), 0), max: num(Math.max(...known), 0), last: num(known[known.length - 1], 0) });
    for (const [a, b] of gaps) alt += "; " + t("now.gap", { from: hhmm(a), to: hhmm(b) });
    el.dataset.gaps = String(gaps.length);
    const color = cssVar("--import");
    const last = xs[xs.length - 1];
    makeChart(el, {
      series: [
        { label: t("chart.time"), value: (u, v) => (isNum(v) ? fmtSec(v, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "") },
        { label: t("series.power"), stroke: color, width: 2, spanGaps: false, value: (u, v) => (isNum(v) ? num(v, 0) + " W" : "—") },
      ],
      axes: [Object.assign(xAxis(null, null), { values: (u, splits) => splits.map(hhmm) }), yAxis("chart.wAxis", 0)],
      legend: { show: false },
      scales: {
        x: { time: true, range: () => [last - 3600, last] },
        y: {
          range: (u, min, max) => {
            if (!isNum(min) || !isNum(max)) return [0, MIN_SPAN_W];
            const span = Math.max(max - min, MIN_SPAN_W) * 1.1;
            const mid = (min + max) / 2;
            return [Math.floor((mid - span / 2) / 50) * 50, Math.ceil((mid + span / 2) / 50) * 50];
          },
        },
      },
    }, [xs, ys], 180, t("now.chartAlt", { summary: alt }));
  }
  async function loadNow() {
    try {
      const body = await api("/readings", { resolution: "raw" });
      nowPoints.x = []; nowPoints.y = [];
      for (const r of body.readings) if (isNum(r.power_w)) { nowPoints.x.push(Date.parse(r.time) / 1000); nowPoints.y.push(r.power_w); }
      drawNowChart();
    } catch (error) { /* no database yet: the live stream still works */ }
  }
  charts.push(() => { if (page === "now") drawNowChart(); });

  // ---------------------------------------------------------------- Today
  let todayData = null;
  function slotRows(slots) {
    const now = serverNow() / 1000;
    return slots.map((s) => {
      const x = Date.parse(s.start) / 1000;
      return {
        key: s.start, x, end: x + SLOT_S, imp: s.import_kwh, exp: s.export_kwh,
        label: hhmm(x), range: hhmm(x) + "–" + hhmm(x + SLOT_S),
        over: x + SLOT_S <= now,
      };
    });
  }
  function isSolar(...values) { return values.some((v) => isNum(v) && v > 0); }
  async function loadToday() {
    const today = jstToday();
    const yesterday = addDays(today, -1);
    try {
      const [now, before] = await Promise.all([
        api("/slots", { from: today, to: today }),
        api("/slots", { from: yesterday, to: yesterday }),
      ]);
      todayData = { today, now, before };
      renderToday();
    } catch (error) {
      setText("today-energy", "—");
      setText("today-yesterday", t("error.load", { msg: error.message }));
    }
    try {
      const [day, period] = await Promise.all([api("/cost", { from: today, to: today }), api("/cost", {})]);
      const bill = day.bills[0];
      const fixed = bill.lines.filter((l) => l.kind === "fixed").reduce((a, l) => a + l.amount, 0);
      setText("today-cost", bill.known_slots ? yen(bill.total, 0) : "—");
      setText("today-cost-parts", t("today.costParts", { energy: yen(bill.energy_cost), base: yen(fixed), n: bill.known_slots }));
      const whole = period.bills[0];
      setText("period-cost", t("today.period", { from: dayText(whole.from), v: yen(period.total, 0) }) + " · " + t("today.periodEnergy", { v: yen(whole.energy_cost) }));
      setText("today-credit", bill.feed_in_credit ? t("today.credit", { v: yen(bill.feed_in_credit, 0) }) : "");
      $("today-cost-card").hidden = false;
    } catch (error) {
      $("today-cost-card").hidden = true;
    }
  }
  function renderToday() {
    if (!todayData) return;
    const { now, before } = todayData;
    const solar = isSolar(now.export_kwh, before.export_kwh, live && live.energy_export_kwh);
    setText("today-energy-title", t(solar ? "today.bought" : "today.used"));
    setText("today-energy", isNum(now.import_kwh) ? num(now.import_kwh, 2) : "—");
    $("today-sold-card").hidden = !solar;
    setText("today-sold", num(now.export_kwh, 2));
    // yesterday up to the same time of day
    const known = now.slots.filter((s) => isNum(s.import_kwh)).length;
    let until = 0;
    for (let i = 0; i < known && i < before.slots.length; i++) if (isNum(before.slots[i].import_kwh)) until += before.slots[i].import_kwh;
    setText("today-yesterday", t("today.yesterday", { v: num(until, 2) }));
    const rows = slotRows(now.slots);
    const yesterday = before.slots.map((s) => (isNum(s.import_kwh) ? s.import_kwh : null));
    energyChart($("today-chart"), rows, { kind: "slots", height: 300, yesterday, altKey: "today.chartAlt" });
  }
  charts.push(() => { if (page === "today") renderToday(); });

  // ---------------------------------------------------------------- History
  const hist = { view: "day", date: null, from: null, to: null, rows: [], title: "" };

  function historySpan() {
    const d = hist.date;
    if (hist.view === "day") return { from: d, to: d };
    if (hist.view === "week") {
      const weekday = (new Date(d + "T00:00:00Z").getUTCDay() + 6) % 7; // Monday first
      const from = addDays(d, -weekday);
      return { from, to: addDays(from, 6) };
    }
    if (hist.view === "month") {
      const from = d.slice(0, 8) + "01";
      return { from, to: addDays(addMonths(from, 1), -1) };
    }
    if (hist.view === "year") return { from: d.slice(0, 4) + "-01-01", to: d.slice(0, 4) + "-12-31" };
    let from = hist.from || d;
    let to = hist.to || d;
    if (to < from) [from, to] = [to, from];
    if (daysBetween(from, to) + 1 > 92) { // months: whole months, as /monthly counts them
      from = from.slice(0, 8) + "01";
      to = addDays(addMonths(to, 1), -1);
    }
    return { from, to };
  }
  function resolutionOf(span) {
    const days = daysBetween(span.from, span.to) + 1;
    if (hist.view === "day" || (hist.view === "range" && days <= 2)) return "slots";
    if (hist.view === "year" || (hist.view === "range" && days > 92)) return "monthly";
    return "daily";
  }
  // false (the field marked, the form left as it was) when a date field holds no date.
  function readHistoryForm() {
    hist.view = $("hist-view").value;
    const range = hist.view === "range";
    for (const el of document.querySelectorAll("#history-form .range")) el.hidden = !range;
    for (const el of document.querySelectorAll("#history-form .single")) el.hidden = range;
    const date = dateFields.get("hist-date");
    const from = dateFields.get("hist-from");
    const to = dateFields.get("hist-to");
    if ((range ? [from, to] : [date]).includes(null)) return false;
    hist.date = date || jstToday();
    hist.from = from || null;
    hist.to = to || null;
    dateFields.set("hist-date", hist.date); // as the page writes it (2026年12月1日 → 2026/12/01)
    dateFields.set("hist-from", hist.from);
    dateFields.set("hist-to", hist.to);
    return true;
  }
  function writeHistoryUrl() {
    const params = new URLSearchParams({ view: hist.view });
    if (hist.view === "range") { params.set("from", hist.from || ""); params.set("to", hist.to || ""); }
    else params.set("date", hist.date);
    history.replaceState(null, "", "/history?" + params.toString());
  }
  function step(direction) {
    const d = hist.date;
    let next;
    if (hist.view === "day") next = addDays(d, direction);
    else if (hist.view === "week") next = addDays(d, 7 * direction);
    else if (hist.view === "month") next = addMonths(d, direction);
    else next = (Number(d.slice(0, 4)) + direction) + d.slice(4);
    dateFields.set("hist-date", next);
    loadHistory();
  }
  // Whether a day's or month's readings are complete, so far, or still to come.
  function coverage(imported, expected, soFar) {
    if (soFar === 0) return { complete: null, text: t("hist.future"), cls: "" };
    if (!imported) return { complete: false, text: t("hist.noData"), cls: "missing" };
    if (imported >= expected) return { complete: true, text: t("hist.complete"), cls: "" };
    const missing = Math.max(0, soFar - imported);
    if (!missing) return { complete: false, text: t("hist.partial", { n: num(imported, 0), of: num(expected, 0) }), cls: "incomplete" };
    return { complete: false, text: t("hist.missing", { n: num(missing, 0) }), cls: "incomplete" };
  }
  function elapsedSlots(startSec, endSec) {
    const now = serverNow() / 1000;
    return Math.max(0, Math.min(endSec, now) - startSec) / SLOT_S | 0;
  }

  async function loadHistory() {
    const error = $("hist-error");
    if (!readHistoryForm()) {
      error.textContent = dateFields.invalid();
      error.hidden = false;
      return;
    }
    writeHistoryUrl();
    const span = historySpan();
    const kind = resolutionOf(span);
    error.hidden = true;
    let body;
    try {
      if (kind === "slots") body = await api("/slots", { from: span.from, to: span.to });
      else if (kind === "daily") body = await api("/daily", { from: span.from, to: span.to });
      else body = await api("/monthly", { from: span.from.slice(0, 7), to: span.to.slice(0, 7) });
    } catch (e) {
      error.textContent = t("error.load", { msg: e.message });
      error.hidden = false;
      return;
    }
    // One computation, one figure: a period's cost is its own bill (the same request the
    // year view makes for that month); rows are the bills of their days or months.
    let whole = null;
    let perRow = null;
    try {
      if (kind === "monthly") {
        perRow = await api("/cost", { from: span.from, to: span.to, group: "month" });
        whole = { total: perRow.total, known: perRow.bills.reduce((a, b) => a + b.known_slots, 0), of: perRow.bills.reduce((a, b) => a + b.period_slots, 0) };
      } else {
        const [range, rows] = await Promise.all([
          api("/cost", { from: span.from, to: span.to }),
          kind === "daily" ? api("/cost", { from: span.from, to: span.to, group: "day" }) : Promise.resolve(null),
        ]);
        whole = { total: range.total, known: range.bills[0].known_slots, of: range.bills[0].expected_slots };
        perRow = rows;
      }
    } catch (e) { whole = null; perRow = null; }
    $("hist-cost-card").hidden = !whole;
    setText("hist-cost", whole && whole.known ? yen(whole.total, 0) : "—");
    setText("hist-coverage", whole ? t("unit.halfHours", { n: num(whole.known, 0) }) : "");
    setText("hist-import", num(body.import_kwh, 2));
    setText("hist-export", num(body.export_kwh, 2));

    const costBy = {};
    if (perRow) for (const b of perRow.bills) costBy[kind === "monthly" ? b.from.slice(0, 7) : b.from] = b;
    const rows = [];
    if (kind === "slots") {
      for (const r of slotRows(body.slots)) {
        r.label = span.from === span.to ? hhmm(r.x) : dayLabel(r.x) + " " + hhmm(r.x);
        r.cover = !r.over ? coverage(0, 1, 0) : isNum(r.imp) ? { complete: true, text: "", cls: "" } : { complete: false, text: t("hist.noData"), cls: "missing" };
        rows.push(r);
      }
    } else if (kind === "daily") {
      for (const d of body.days) {
        const x = jstMidnight(d.date);
        const cover = coverage(d.import_slots, d.expected_slots, elapsedSlots(x, x + DAY_S));
        const bill = costBy[d.date];
        rows.push({ key: d.date, x, end: x + DAY_S, label: dayLabel(x, true), range: dayLabel(x, true), imp: d.import_kwh, exp: d.export_kwh, cost: bill && bill.known_slots ? bill.total : null, complete: cover.complete, cover });
      }
    } else {
      for (const m of body.months) {
        const x = jstMidnight(m.first_day);
        const end = jstMidnight(addMonths(m.first_day, 1));
        const cover = coverage(m.import_slots, m.expected_slots, elapsedSlots(x, end));
        const bill = costBy[m.month];
        const label = monthLabel(x, true);
        rows.push({ key: m.month, x, end, label, range: label, imp: m.import_kwh, exp: m.export_kwh, cost: bill && bill.known_slots ? bill.total : null, complete: cover.complete, cover });
      }
    }
    hist.rows = rows;
    hist.kind = kind;
    hist.span = span;
    hist.hasCost = !!perRow;
    hist.title = span.from === span.to ? dayText(span.from) : dayText(span.from) + " – " + dayText(span.to);
    renderHistory();
  }

  function renderHistory() {
    if (!hist.rows) return;
    const kind = hist.kind;
    setText("hist-title", hist.title + (hist.span && hist.span.from.slice(0, 4) !== jstToday().slice(0, 4) ? " (" + hist.span.from.slice(0, 4) + ")" : ""));
    const chart = energyChart($("history-chart"), hist.rows, { kind, height: 300, altKey: "today.chartAlt" });
    window.routebHistoryChart = chart;

    const first = kind === "slots" ? t("hist.time") : kind === "daily" ? t("hist.dateCol") : t("hist.monthCol");
    const columns = [first, t("hist.boughtCol"), t("hist.soldCol")];
    if (hist.hasCost) columns.push(t("hist.costCol"));
    columns.push(t("hist.dataCol"));
    const thead = $("history-table").tHead;
    thead.textContent = "";
    const head = thead.insertRow();
    for (const c of columns) { const th = document.createElement("th"); th.textContent = c; th.scope = "col"; head.appendChild(th); }
    const tbody = $("history-table").tBodies[0];
    tbody.textContent = "";
    const places = kind === "slots" ? 3 : 2;
    for (const r of hist.rows) {
      const tr = tbody.insertRow();
      const cells = [r.label, isNum(r.imp) ? num(r.imp, places) : "—", isNum(r.exp) ? num(r.exp, places) : "—"];
      if (hist.hasCost) cells.push(isNum(r.cost) ? yen(r.cost, 0) : "—");
      cells.push(r.cover ? r.cover.text : "");
      cells.forEach((c, i) => {
        const td = tr.insertCell();
        td.textContent = c;
        if (i === cells.length - 1 && r.cover && r.cover.cls) td.className = r.cover.cls;
      });
    }
    $("hist-cost-note").hidden = !hist.hasCost;
  }
  charts.push(() => { if (page === "history") renderHistory(); });

  function csvOfHistory() {
    const kind = hist.kind;
    const header = [kind === "slots" ? "slot_start" : kind === "daily" ? "date" : "month", "import_kwh", "export_kwh"];
    if (hist.hasCost) header.push("cost_yen");
    const lines = [header.join(",")];
    const kwh = (v) => (isNum(v) ? v.toFixed(4) : "");
    for (const r of hist.rows) {
      const cells = [r.key, kwh(r.imp), kwh(r.exp)];
      if (hist.hasCost) cells.push(isNum(r.cost) ? String(r.cost) : "");
      lines.push(cells.join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }
  function downloadCsv() {
    if (!hist.rows.length) return;
    const blob = new Blob([csvOfHistory()], { type: "text/csv;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `routeb-${meter || "meter"}-${hist.kind}-${hist.span.from}-${hist.span.to}.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  function initHistory() {
    const params = new URLSearchParams(location.search);
    const view = params.get("view");
    if (["day", "week", "month", "year", "range"].includes(view)) $("hist-view").value = view;
    const date = params.get("date");
    dateFields.set("hist-date", isoDate(date) || jstToday());
    dateFields.set("hist-from", isoDate(params.get("from")));
    dateFields.set("hist-to", isoDate(params.get("to")));
    $("hist-view").addEventListener("change", loadHistory);
    $("hist-date").addEventListener("change", loadHistory);
    $("hist-prev").addEventListener("click", () => step(-1));
    $("hist-next").addEventListener("click", () => step(1));
    $("hist-csv").addEventListener("click", downloadCsv);
    $("history-form").addEventListener("submit", (event) => { event.preventDefault(); loadHistory(); });
    loadHistory();
  }

  // ---------------------------------------------------------------- Bill (billing period)
  const billState = { body: null, bill: null };
  function billMonth(bill) {
    const last = jstMidnight(bill.to);
    return fmtSec(last + 43200, { year: "numeric", month: "long" });
  }
  function quantityText(line) {
    if (!isNum(line.quantity)) return "";
    if (line.unit === "kWh") return num(line.quantity, 2) + " kWh";
    return num(line.quantity, 0) + " " + (line.unit || "");
  }
  function priceText(line) {
    if (line.missing_price) return "—";
    if (!isNum(line.unit_price)) return "";
    const digits = Math.round(Math.abs(line.unit_price) * 100) % 100 === 0 && line.unit !== "kWh" ? 0 : 2;
    const text = yen(line.unit_price, digits);
    return line.unit === "kWh" ? t("bill.perKwh", { v: text }) : text;
  }
  async function loadBill() {
    const error = $("bill-error");
    const typed = dateFields.get("bill-date");
    if (typed === null) {
      error.textContent = dateFields.invalid();
      error.hidden = false;
      return;
    }
    const day = typed || jstToday();
    dateFields.set("bill-date", day);
    history.replaceState(null, "", "/bill?date=" + day);
    error.hidden = true;
    let body;
    try {
      body = await api("/cost", { from: day, to: day, group: "billing" });
    } catch (e) {
      error.textContent = e.status === 404 ? t("bill.noTariff") : t("error.load", { msg: e.message });
      error.hidden = false;
      $("bill-card").hidden = true;
      return;
    }
    $("bill-card").hidden = false;
    billState.body = body;
    billState.bill = body.bills[0];
    renderBill();
  }
  function renderBill() {
    const body = billState.body;
    const bill = billState.bill;
    if (!bill) return;
    const key = lang === "ja" ? "label_ja" : "label_en";
    setText("bill-title", t("bill.month", { month: billMonth(bill) }));
    fillKv("bill-head", [
      [t("bill.plan"), body.tariff],
      [t("bill.contract"), body.contract],
      [t("bill.period"), t("bill.periodRange", { from: dayText(bill.from), to: dayText(bill.to), days: daysBetween(bill.from, bill.end_exclusive) })],
      [t("bill.readDay"), t("bill.readDayValue", { day: body.read_day })],
    ]);
    setText("bill-coverage", bill.complete ? t("bill.completePeriod") : t("bill.soFar", { n: num(bill.known_slots, 0), of: num(bill.period_slots, 0) }));
    const missing = bill.lines.filter((l) => l.missing_price).map((l) => l[key]);
    $("bill-missing").hidden = !missing.length;
    setText("bill-missing", missing.length ? t("bill.missingPrice", { what: missing.join(" / ") }) : "");
    const table = $("bill-table");
    table.tHead.textContent = "";
    const head = table.tHead.insertRow();
    for (const [c, cls] of [[t("bill.item"), ""], [t("bill.quantity"), ""], [t("bill.unitPrice"), ""], [t("bill.amount"), ""], [t("bill.source"), "source"]]) {
      const th = document.createElement("th"); th.textContent = c; th.scope = "col"; if (cls) th.className = cls; head.appendChild(th);
    }
    const tbody = table.tBodies[0];
    tbody.textContent = "";
    const row = (cells, cls) => {
      const tr = tbody.insertRow();
      if (cls) tr.className = cls;
      cells.forEach((c, i) => { const td = tr.insertCell(); td.textContent = c; if (i === 4) td.className = "source"; });
      return tr;
    };
    for (const line of bill.lines) {
      row([line[key], quantityText(line), priceText(line), line.missing_price ? "—" : yen(line.amount), line.source || ""], line.missing_price ? "missing" : "");
    }
    const foot = table.tFoot;
    foot.textContent = "";
    const total = foot.insertRow();
    for (const [i, c] of [t("bill.total"), num(bill.import_kwh, 2) + " kWh", "", yen(bill.total, 0), ""].entries()) {
      const td = total.insertCell(); td.textContent = c; if (i === 4) td.className = "source";
    }
    if (isNum(bill.feed_in.unit_price)) {
      const credit = foot.insertRow();
      const cells = [t("bill.feedIn"), num(bill.export_kwh, 2) + " kWh", t("bill.perKwh", { v: yen(bill.feed_in.unit_price, 2) }), yen(bill.feed_in.amount, 0), bill.feed_in.source || ""];
      cells.forEach((c, i) => { const td = credit.insertCell(); td.textContent = c; if (i === 4) td.className = "source"; });
    }
  }
  charts.push(() => { if (page === "bill") renderBill(); });
  function stepBill(direction) {
    const bill = billState.bill;
    const d = dateFields.get("bill-date") || jstToday();
    dateFields.set("bill-date", bill ? (direction < 0 ? addDays(bill.from, -1) : bill.end_exclusive) : addMonths(d, direction));
    loadBill();
  }
  function initBill() {
    const date = new URLSearchParams(location.search).get("date");
    dateFields.set("bill-date", isoDate(date) || jstToday());
    $("bill-date").addEventListener("change", loadBill);
    $("bill-prev").addEventListener("click", () => stepBill(-1));
    $("bill-next").addEventListener("click", () => stepBill(1));
    loadBill();
  }

  // ---------------------------------------------------------------- Meter
  function fillKv(id, pairs) {
    const dl = $(id);
    dl.textContent = "";
    for (const [label, value] of pairs) {
      const dt = document.createElement("dt"); dt.textContent = label;
      const dd = document.createElement("dd"); dd.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
      dl.append(dt, dd);
    }
  }
  function counts(map, prefix) {
    const entries = Object.entries(map || {});
    const name = (k) => { const key = prefix + k; const text = t(key); return text === key ? k : text; };
    return entries.length ? entries.map(([k, v]) => `${name(k)}: ${v}`).join(", ") : t("meter.none");
  }
  // "ready (joined)" → 接続済み（接続完了）: the session's own words through the glossary.
  function eventDetail(kind, detail) {
    const known = "detail." + (detail || "");
    if (t(known) !== known) return t(known);
    if (kind !== "state") return detail;
    const m = /^(\w+) \((\w+)(?::\s*(.*))?\)$/.exec(detail || "");
    if (!m) return detail;
    const extra = m[3] ? (lang === "ja" ? "：" : ": ") + m[3] : "";
    const trigger = t("trigger." + m[2]);
    return lang === "ja" ? `${linkState(m[1])}（${trigger}${extra}）` : `${linkState(m[1])} (${trigger}${extra})`;
  }
  // "disconnected: OSError: …" (the newest session event the server found) in the page's words
  function reasonText(reason) {
    const at = reason.indexOf(": ");
    if (at < 0) return eventKind(reason);
    const kind = reason.slice(0, at);
    const key = "event." + kind;
    if (t(key) === key) return reason;
    return eventKind(kind) + (lang === "ja" ? "：" : ": ") + eventDetail(kind, reason.slice(at + 2));
  }
  function eventKind(kind) { const key = "event." + kind; const text = t(key); return text === key ? kind : text; }
  const isReauthStart = (e) => e.kind === "state" && /^reauthenticating \(/.test(e.detail || "");
  const isReauthDone = (e) => e.kind === "state" && /^ready \(joined/.test(e.detail || "");
  // PANA re-authentication comes as a pair of state changes every few hours: one row per run.
  function groupEvents(newestFirst) {
    const events = newestFirst.slice().reverse();
    const rows = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (isReauthStart(e) && events[i + 1] && isReauthDone(events[i + 1])) {
        const last = rows[rows.length - 1];
        const done = events[i + 1];
        if (last && last.reauth) { last.count += 1; last.time = done.time; } else rows.push({ reauth: true, count: 1, time: done.time, first: e.time });
        i += 1;
        continue;
      }
      rows.push(e);
    }
    return rows.reverse();
  }
  async function loadMeter() {
    let body;
    try { body = await api("/meter"); } catch (e) {
      fillKv("meter-info", [[t("meter.info"), t("error.load", { msg: e.message })]]);
      return;
    }
    const m = body.metadata || {};
    const s = body.live || {};
    const unit = isNum(m.unit_kwh) ? num(m.unit_kwh, 4).replace(/0+$/, "").replace(/[.,]$/, "") + " kWh" : null;
    fillKv("meter-info", [
      [t("meter.key"), body.meter],
      [t("meter.maker"), m.maker_code_hex],
      [t("meter.serial"), m.serial],
      [t("meter.release"), m.release],
      [t("meter.coefficient"), m.coefficient],
      [t("meter.unit"), unit],
      [t("meter.digits"), m.digits],
      [t("meter.skew"), isNum(s.clock_skew_s) ? num(s.clock_skew_s, 1) + (lang === "ja" ? " 秒" : " s") : null],
      [t("meter.fault"), s.fault === true ? t("meter.fault.yes") : s.fault === false ? t("meter.fault.no") : null],
      [t("meter.firstSeen"), body.first_seen ? fmtTime(body.first_seen) : null],
      [t("meter.lastSeen"), body.last_seen ? fmtTime(body.last_seen) : null],
    ]);
    const link = s.link || {};
    fillKv("meter-session", [
      [t("now.status"), t("status." + (s.status || "waiting")) + (s.reason && s.status !== "live" ? " — " + s.reason : "")],
      [t("now.state"), linkState(link.state)],
      [t("meter.connectedSince"), link.connected_since ? fmtTime(link.connected_since) : null],
      ["LQI / RSSI", (isNum(link.lqi) ? link.lqi : "—") + " / " + (isNum(link.rssi_dbm) ? link.rssi_dbm + " dBm" : "—")],
      [t("meter.joins"), link.joins],
      [t("meter.scans"), link.scans],
      [t("meter.rejoins"), counts(link.rejoins, "detail.")],
      [t("meter.recovery"), counts(link.recovery_steps, "trigger.recover_")],
      [t("meter.requests"), link.requests],
      [t("meter.timeouts"), link.timeouts],
      [t("meter.retransmissions"), link.retransmissions],
      [t("meter.notifications"), link.notifications],
      [t("meter.backfill"), (s.backfill_filled ?? "—") + " / " + (s.backfill_missing ?? "—")],
    ]);
    fillKv("meter-maps", [
      [t("meter.get"), m.get_map ? m.get_map.join(" ") : null],
      [t("meter.set"), m.set_map ? m.set_map.join(" ") : null],
      [t("meter.inf"), m.inf_map ? m.inf_map.join(" ") : null],
    ]);
    try {
      const events = await api("/events", { limit: 500 });
      const tbody = $("events-table").tBodies[0];
      tbody.textContent = "";
      for (const e of groupEvents(events.events)) {
        const tr = tbody.insertRow();
        tr.insertCell().textContent = fmtTime(e.time, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
        if (e.reauth) {
          tr.className = "grouped";
          tr.insertCell().textContent = t("event.reauth");
          tr.insertCell().textContent = e.count > 1 ? t("event.reauthTimes", { n: e.count, time: fmtTime(e.time, { hour: "2-digit", minute: "2-digit" }) }) : t("event.reauthOnce");
        } else {
          tr.insertCell().textContent = eventKind(e.kind);
          tr.insertCell().textContent = eventDetail(e.kind, e.detail);
        }
      }
    } catch (e) { /* shown empty */ }
  }

  // ---------------------------------------------------------------- start
  // The overview (Now page, several meters): each meter's status, live power and today's
  // energy from /api/v1/meters; a meter's name links to the pages scoped to it.
  let overview = null;
  function renderOverview() {
    const box = $("meters-overview");
    if (!overview || overview.length < 2) { box.hidden = true; return; }
    const body = $("meters-table").tBodies[0];
    body.textContent = "";
    for (const m of overview) {
      const tr = body.insertRow();
      tr.dataset.meter = m.key;
      const name = tr.insertCell();
      const a = document.createElement("a");
      a.href = "/?meter=" + encodeURIComponent(m.key);
      a.textContent = m.key;
      name.append(a);
      if (m.key === meter) {
        a.setAttribute("aria-current", "true");
        name.append(" (" + t("overview.chosen") + ")");
      }
      tr.insertCell().textContent = t("status." + m.status);
      const cells = [
        isNum(m.power_w) ? num(m.power_w, 0) + " W" : t("unavailable"),
        isNum(m.today_import_kwh) ? num(m.today_import_kwh, 2) + " kWh" : "—",
        isNum(m.today_export_kwh) ? num(m.today_export_kwh, 2) + " kWh" : "—",
      ];
      for (const text of cells) { const td = tr.insertCell(); td.className = "num"; td.textContent = text; }
    }
    box.hidden = false;
  }
  async function loadOverview() {
    try { overview = (await api("/meters")).meters; } catch (e) { return; }
    renderOverview();
  }
  async function chooseMeter() {
    const select = $("meter-select");
    try {
      const sentAt = Date.now();
      const body = await api("/meters");
      // The server's clock decides which JST day "today" is, before the stream's first state.
      if (body.server_time) clockOffset = Date.parse(body.server_time) - (sentAt + Date.now()) / 2;
      const keys = body.meters.map((m) => m.key);
      // ?meter=KEY (a shared link, the overview) wins over the choice saved in this browser.
      const asked = new URLSearchParams(location.search).get("meter");
      if (asked && keys.includes(asked)) store.set("meter", asked);
      const saved = store.get("meter");
      meter = keys.includes(saved) ? saved : body.default;
      overview = body.meters;
      $("logout-form").hidden = !body.login;
      if (keys.length > 1) {
        select.textContent = "";
        for (const key of keys) select.add(new Option(key, key, false, key === meter));
        select.hidden = false;
        select.addEventListener("change", () => {
          store.set("meter", select.value);
          const url = new URL(location.href);
          url.searchParams.set("meter", select.value);
          location.href = url.toString();
        });
      }
    } catch (e) { /* the stream still tells us the meter */ }
  }
  async function start() {
    applyTheme();
    for (const a of document.querySelectorAll(".tabs a")) {
      if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    }
    $("page-" + page).hidden = false;
    dateFields.init();
    applyI18n();
    renderLive();
    await chooseMeter();
    $("lang-toggle").addEventListener("click", () => {
      lang = lang === "ja" ? "en" : "ja";
      store.set("lang", lang);
      applyI18n();
      renderLive();
      redrawCharts();
      if (page === "history") loadHistory();
      if (page === "meter") loadMeter();
      if (page === "now") renderOverview();
    });
    $("theme-toggle").addEventListener("click", () => {
      const order = ["auto", "light", "dark"];
      const next = order[(order.indexOf(store.get("theme") || "auto") + 1) % order.length];
      store.set("theme", next);
      applyTheme();
      redrawCharts();
    });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawCharts);
    connectStream();
    setInterval(tick, 1000);
    if (page === "now") { loadNow(); renderOverview(); setInterval(loadOverview, 10000); }
    if (page === "today") { loadToday(); setInterval(loadToday, 60000); }
    if (page === "history") initHistory();
    if (page === "bill") initBill();
    if (page === "meter") { loadMeter(); setInterval(loadMeter, 30000); }
  }

  // Exposed for the browser tests and for curious users.
  window.routeb = { t, status, get live() { return live; }, get history() { return hist; }, get bill() { return billState.bill; }, csvOfHistory };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
