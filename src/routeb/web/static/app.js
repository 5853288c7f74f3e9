/* routeb dashboard: Now, Today, History and Meter pages over /api/v1 (docs/dashboard.md).
 * Plain JavaScript, no framework, no external requests. uPlot (vendored) draws the charts. */
"use strict";

(() => {
  const TZ = "Asia/Tokyo";
  const API = "/api/v1";
  const NEAR_LIMIT = 0.8; // warn at 80 % of the contract amperage

  // ---------------------------------------------------------------- i18n
  const I18N = {
    en: {
      "nav.now": "Now", "nav.today": "Today", "nav.history": "History", "nav.meter": "Meter",
      "theme.toggle": "Light / dark", "theme.auto": "auto", "theme.light": "light", "theme.dark": "dark",
      "stale.title": "No new readings.",
      "stale.detail": "The last reading was {age} ago.",
      "stale.never": "No reading has arrived yet.",
      "conn.lost": "Connection to routeb lost; retrying…",
      "now.power": "Power", "now.last": "Last reading", "now.currents": "Currents",
      "now.contract": "Contract", "now.nearLimit": "Close to the contract amperage",
      "now.link": "Link", "now.state": "State", "now.online": "Meter",
      "now.counters": "Counters", "now.bought": "Bought (total)", "now.sold": "Sold (total)",
      "now.lastSlot": "Last 30 min ends", "now.lastHour": "Last hour",
      "buying": "Buying", "selling": "Selling", "unavailable": "unavailable",
      "online": "online", "offline": "offline", "ago": "{n} ago", "never": "never",
      "today.energy": "Energy today", "today.cost": "Cost today", "today.sold": "Sold today",
      "today.chart": "30-minute energy, today and yesterday",
      "today.yesterday": "Yesterday at this time: {v} kWh",
      "today.period": "This billing period so far: {v}",
      "today.energyCost": "energy {v}", "today.credit": "Feed-in credit: {v}",
      "series.today": "Today (kWh)", "series.yesterday": "Yesterday (kWh)",
      "series.bought": "Bought (kWh)", "series.sold": "Sold (kWh)", "series.power": "Power (W)",
      "hist.view": "View", "hist.day": "Day", "hist.week": "Week", "hist.month": "Month",
      "hist.year": "Year", "hist.range": "Range", "hist.date": "Date", "hist.from": "From",
      "hist.to": "To", "hist.show": "Show", "hist.csv": "Download CSV", "hist.bought": "Bought",
      "hist.sold": "Sold", "hist.cost": "Cost", "hist.time": "Time", "hist.dateCol": "Date",
      "hist.monthCol": "Month", "hist.costCol": "Cost (yen)", "hist.complete": "Complete",
      "hist.boughtCol": "Bought (kWh)", "hist.soldCol": "Sold (kWh)", "hist.noData": "No data",
      "meter.info": "Meter", "meter.session": "Session", "meter.maps": "Property maps",
      "meter.events": "Session events (7 days)", "meter.time": "Time", "meter.kind": "Event",
      "meter.detail": "Detail", "meter.key": "Key", "meter.maker": "Maker code",
      "meter.serial": "Serial number", "meter.release": "Release", "meter.coefficient": "Coefficient",
      "meter.unit": "Unit", "meter.digits": "Digits", "meter.skew": "Clock skew",
      "meter.fault": "Fault status", "meter.fault.yes": "fault", "meter.fault.no": "no fault",
      "meter.firstSeen": "First seen", "meter.lastSeen": "Last seen", "meter.state": "State",
      "meter.connectedSince": "Connected since", "meter.joins": "Joins", "meter.scans": "Scans",
      "meter.rejoins": "Rejoins (why)", "meter.recovery": "Recovery steps",
      "meter.requests": "Requests", "meter.timeouts": "Timeouts",
      "meter.retransmissions": "Retransmissions", "meter.notifications": "Notifications",
      "meter.backfill": "Backfill (filled / missing)", "meter.none": "none",
      "meter.get": "Get", "meter.set": "Set", "meter.inf": "Notify",
      "error.load": "Could not load: {msg}", "logout": "Log out",
    },
    ja: {
      "nav.now": "現在", "nav.today": "今日", "nav.history": "履歴", "nav.meter": "メーター",
      "theme.toggle": "ライト / ダーク", "theme.auto": "自動", "theme.light": "ライト", "theme.dark": "ダーク",
      "stale.title": "新しい計測値がありません。",
      "stale.detail": "最後の計測は{age}前です。",
      "stale.never": "まだ計測値が届いていません。",
      "conn.lost": "routeb との接続が切れました。再接続しています…",
      "now.power": "瞬時電力", "now.last": "最終計測", "now.currents": "瞬時電流",
      "now.contract": "契約", "now.nearLimit": "契約アンペアに近づいています",
      "now.link": "通信", "now.state": "状態", "now.online": "メーター",
      "now.counters": "積算値", "now.bought": "買電 (積算)", "now.sold": "売電 (積算)",
      "now.lastSlot": "直近の30分の終わり", "now.lastHour": "過去1時間",
      "buying": "買電中", "selling": "売電中", "unavailable": "取得できません",
      "online": "接続中", "offline": "未接続", "ago": "{n}前", "never": "なし",
      "today.energy": "今日の使用量", "today.cost": "今日の電気代", "today.sold": "今日の売電量",
      "today.chart": "30分ごとの電力量（今日と昨日）",
      "today.yesterday": "昨日の同時刻まで: {v} kWh",
      "today.period": "今回の検針期間の累計: {v}",
      "today.energyCost": "電力量分 {v}", "today.credit": "売電収入: {v}",
      "series.today": "今日 (kWh)", "series.yesterday": "昨日 (kWh)",
      "series.bought": "買電 (kWh)", "series.sold": "売電 (kWh)", "series.power": "電力 (W)",
      "hist.view": "表示", "hist.day": "日", "hist.week": "週", "hist.month": "月",
      "hist.year": "年", "hist.range": "期間指定", "hist.date": "日付", "hist.from": "開始",
      "hist.to": "終了", "hist.show": "表示", "hist.csv": "CSV ダウンロード", "hist.bought": "買電",
      "hist.sold": "売電", "hist.cost": "電気代", "hist.time": "時刻", "hist.dateCol": "日付",
      "hist.monthCol": "月", "hist.costCol": "電気代 (円)", "hist.complete": "欠測なし",
      "hist.boughtCol": "買電 (kWh)", "hist.soldCol": "売電 (kWh)", "hist.noData": "データなし",
      "meter.info": "メーター", "meter.session": "セッション", "meter.maps": "プロパティマップ",
      "meter.events": "セッションの記録（7日間）", "meter.time": "時刻", "meter.kind": "イベント",
      "meter.detail": "詳細", "meter.key": "キー", "meter.maker": "メーカーコード",
      "meter.serial": "製造番号", "meter.release": "リリース", "meter.coefficient": "係数",
      "meter.unit": "単位", "meter.digits": "有効桁数", "meter.skew": "時計のずれ",
      "meter.fault": "異常発生状態", "meter.fault.yes": "異常あり", "meter.fault.no": "異常なし",
      "meter.firstSeen": "初回記録", "meter.lastSeen": "最終記録", "meter.state": "状態",
      "meter.connectedSince": "接続開始", "meter.joins": "接続回数", "meter.scans": "スキャン回数",
      "meter.rejoins": "再接続（理由）", "meter.recovery": "復旧手順",
      "meter.requests": "要求数", "meter.timeouts": "タイムアウト",
      "meter.retransmissions": "再送", "meter.notifications": "通知",
      "meter.backfill": "補完（済 / 欠測）", "meter.none": "なし",
      "meter.get": "Get", "meter.set": "Set", "meter.inf": "状変通知",
      "error.load": "読み込めません: {msg}", "logout": "ログアウト",
    },
  };

  const store = {
    get(key) { try { return localStorage.getItem("routeb." + key); } catch { return null; } },
    set(key, value) { try { localStorage.setItem("routeb." + key, value); } catch { /* private mode */ } },
  };

  const browserLang = ((navigator.languages && navigator.languages[0]) || navigator.language || "en").toLowerCase();
  let lang = store.get("lang");
  if (lang !== "en" && lang !== "ja") lang = browserLang.startsWith("ja") ? "ja" : "en";

  function t(key, vars) {
    let text = (I18N[lang] && I18N[lang][key]) || I18N.en[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) text = text.replace("{" + k + "}", v);
    return text;
  }

  function applyI18n() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
    $("lang-toggle").textContent = lang === "ja" ? "English" : "日本語";
    updateThemeButton();
  }

  // ---------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);
  const setText = (id, text) => { const el = $(id); if (el) el.textContent = text; };
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);

  function num(value, digits) {
    if (!isNum(value)) return "—";
    return new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
  }
  function yen(value) {
    if (!isNum(value)) return "—";
    return new Intl.NumberFormat(lang, { style: "currency", currency: "JPY", maximumFractionDigits: 0 }).format(value);
  }
  function fmtTime(iso, opts) {
    if (!iso) return "—";
    return new Intl.DateTimeFormat(lang, Object.assign({ timeZone: TZ }, opts || {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    })).format(new Date(iso));
  }
  function duration(seconds) {
    if (!isNum(seconds)) return t("never");
    const s = Math.max(0, Math.round(seconds));
    let text;
    if (s < 90) text = lang === "ja" ? `${s}秒` : `${s} s`;
    else if (s < 5400) text = lang === "ja" ? `${Math.round(s / 60)}分` : `${Math.round(s / 60)} min`;
    else if (s < 172800) text = lang === "ja" ? `${Math.round(s / 3600)}時間` : `${Math.round(s / 3600)} h`;
    else text = lang === "ja" ? `${Math.round(s / 86400)}日` : `${Math.round(s / 86400)} days`;
    return text;
  }
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // JST calendar helpers: a "day" is a YYYY-MM-DD string in Japan.
  function jstToday() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(Date.now() + clockOffset));
  }
  function addDays(day, n) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }
  function jstMidnight(day) { return Date.parse(day + "T00:00:00+09:00") / 1000; }
  function daysBetween(a, b) { return Math.round((Date.parse(b) - Date.parse(a)) / 86400000); }

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
    button.title = t("theme.toggle") + " (" + t("theme." + theme) + ")";
  }
  const charts = [];
  function redrawCharts() { for (const redraw of charts) redraw(); }

  // ---------------------------------------------------------------- charts
  function sizeOf(el, height) {
    return { width: Math.max(280, el.clientWidth || el.parentElement.clientWidth - 32), height };
  }
  function makeChart(el, opts, data, height) {
    el.textContent = "";
    if (typeof uPlot === "undefined") return null;
    const chart = new uPlot(Object.assign({ tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), TZ) }, opts, sizeOf(el, height)), data, el);
    el._chart = chart;
    return chart;
  }
  window.addEventListener("resize", () => {
    for (const el of document.querySelectorAll(".chart")) {
      if (el._chart) el._chart.setSize(sizeOf(el, el._chart.height));
    }
  });
  function axes() {
    const stroke = cssVar("--muted");
    const grid = { stroke: cssVar("--line"), width: 1 };
    return [
      { stroke, grid, ticks: grid },
      { stroke, grid, ticks: grid, size: 60 },
    ];
  }
  function barPaths() { return uPlot.paths.bars({ size: [0.8, 60], gap: 1 }); }
  function barSeries(label, color) {
    return { label, stroke: color, fill: color, width: 0, paths: barPaths(), points: { show: false } };
  }

  // ---------------------------------------------------------------- Now
  let live = null;
  let liveReceivedAt = 0;
  const nowPoints = { x: [], y: [] };

  function renderLive() {
    const s = live;
    if (!s) return;
    const unavailable = !s.online || !isNum(s.power_w) || s.stale;
    const power = $("power-value");
    power.textContent = isNum(s.power_w) && !unavailable ? num(Math.abs(s.power_w), 0) : t("unavailable");
    power.classList.toggle("unavailable", unavailable);
    setText("power-unit", unavailable ? "" : "W");
    const dir = $("direction");
    dir.className = "badge" + (s.direction && !unavailable ? " " + s.direction : "");
    dir.textContent = s.direction && !unavailable ? t(s.direction) : "—";

    const contract = s.contract_amperes;
    setText("contract", isNum(contract) ? contract + " A" : "—");
    let near = false;
    for (const [phase, value] of [["r", s.current_r_a], ["t", s.current_t_a]]) {
      const ok = isNum(value) && s.online && !s.stale;
      setText("current-" + phase, ok ? num(value, 1) + " A" : t("unavailable"));
      const bar = $("bar-" + phase);
      const ratio = ok && isNum(contract) && contract > 0 ? Math.abs(value) / contract : 0;
      bar.style.width = Math.min(100, ratio * 100) + "%";
      bar.classList.toggle("near", ratio >= NEAR_LIMIT && ratio < 1);
      bar.classList.toggle("over", ratio >= 1);
      if (ratio >= NEAR_LIMIT) near = true;
    }
    $("current-warning").hidden = !near;

    const link = s.link || {};
    setText("link-state", link.state || "—");
    setText("link-lqi", isNum(link.lqi) ? String(link.lqi) : "—");
    setText("link-rssi", isNum(link.rssi_dbm) ? num(link.rssi_dbm, 0) + " dBm" : "—");
    setText("online", s.online ? t("online") : t("offline"));
    setText("energy-import", isNum(s.energy_import_kwh) ? num(s.energy_import_kwh, 1) + " kWh" : t("unavailable"));
    setText("energy-export", isNum(s.energy_export_kwh) ? num(s.energy_export_kwh, 1) + " kWh" : "—");
    setText("last-slot", s.last_slot_end ? fmtTime(s.last_slot_end, { hour: "2-digit", minute: "2-digit" }) : "—");
    tick();
  }

  function currentAge() {
    if (!live) return null;
    const last = live.last_seen || live.power_at;
    if (!last) return null;
    const serverNow = Date.now() + clockOffset;
    return Math.max(0, (serverNow - Date.parse(last)) / 1000);
  }

  function tick() {
    if (!live) return;
    const age = currentAge();
    setText("age", age === null ? t("never") : t("ago", { n: duration(age) }));
    const stale = age === null || age > live.stale_after_s;
    const banner = $("stale-banner");
    if (stale !== !banner.hidden) {
      banner.hidden = !stale;
      if (stale && !live.stale) { live = Object.assign({}, live, { stale: true }); renderLive(); return; }
    }
    if (stale) setText("stale-detail", age === null ? t("stale.never") : t("stale.detail", { age: duration(age) }));
    setText("server-time", fmtTime(new Date(Date.now() + clockOffset).toISOString(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }) + " JST");
  }

  function onState(state) {
    liveReceivedAt = Date.now();
    if (state.server_time) clockOffset = Date.parse(state.server_time) - liveReceivedAt;
    const previousSlot = live && live.last_slot_end;
    live = state;
    if (!meter) meter = state.meter;
    renderLive();
    $("conn-banner").hidden = true;
    if (isNum(state.power_w) && state.power_at && !state.stale) {
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
      if (source.readyState !== EventSource.OPEN) $("conn-banner").hidden = false;
    });
  }

  let nowChart = null;
  function drawNowChart() {
    const el = $("now-chart");
    if (page !== "now" || !el) return;
    const data = [nowPoints.x.slice(), nowPoints.y.slice()];
    if (nowChart) { nowChart.setData(data); return; }
    nowChart = makeChart(el, {
      series: [{}, { label: t("series.power"), stroke: cssVar("--import"), width: 2, fill: cssVar("--import") + "22" }],
      axes: axes(),
      legend: { show: false },
      // Always the hour up to the newest reading, however few readings there are yet.
      scales: { x: { time: true, range: (u, min, max) => [max - 3600, max] } },
    }, data, 180);
  }
  async function loadNow() {
    try {
      const body = await api("/readings", { resolution: "raw" });
      nowPoints.x = []; nowPoints.y = [];
      for (const r of body.readings) if (isNum(r.power_w)) { nowPoints.x.push(Date.parse(r.time) / 1000); nowPoints.y.push(r.power_w); }
      nowChart = null;
      drawNowChart();
    } catch (error) { /* no database yet: the live stream still works */ }
  }
  charts.push(() => { if (page === "now") { nowChart = null; drawNowChart(); } });

  // ---------------------------------------------------------------- Today
  let todayData = null;
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
      const [day, period] = await Promise.all([
        api("/cost", { from: today, to: today }),
        api("/cost", {}),
      ]);
      const bill = day.bills[0];
      setText("today-cost", yen(bill.total));
      setText("period-cost", t("today.period", { v: yen(period.total) }) + " · " + t("today.energyCost", { v: yen(bill.energy_cost) }));
      setText("today-credit", bill.feed_in_credit ? t("today.credit", { v: yen(bill.feed_in_credit) }) : "");
      $("today-cost-card").hidden = false;
    } catch (error) {
      $("today-cost-card").hidden = error.status === 404;
    }
  }
  function renderToday() {
    if (!todayData) return;
    const { now, before } = todayData;
    setText("today-energy", isNum(now.import_kwh) ? num(now.import_kwh, 2) : "—");
    const sold = now.export_kwh;
    $("today-sold-card").hidden = !(isNum(sold) && sold > 0) && !(isNum(before.export_kwh) && before.export_kwh > 0);
    setText("today-sold", num(sold, 2));
    // yesterday up to the same time of day
    const known = now.slots.filter((s) => isNum(s.import_kwh)).length;
    let until = 0;
    for (let i = 0; i < known && i < before.slots.length; i++) if (isNum(before.slots[i].import_kwh)) until += before.slots[i].import_kwh;
    setText("today-yesterday", t("today.yesterday", { v: num(until, 2) }));

    const xs = now.slots.map((s) => Date.parse(s.start) / 1000);
    const todayImport = now.slots.map((s) => (isNum(s.import_kwh) ? s.import_kwh : null));
    const yesterdayImport = xs.map((_, i) => (before.slots[i] && isNum(before.slots[i].import_kwh) ? before.slots[i].import_kwh : null));
    const series = [
      {},
      barSeries(t("series.today"), cssVar("--import")),
      { label: t("series.yesterday"), stroke: cssVar("--previous"), width: 2, dash: [6, 4], paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
    ];
    const data = [xs, todayImport, yesterdayImport];
    if (!$("today-sold-card").hidden) {
      series.push(barSeries(t("series.sold"), cssVar("--export")));
      data.push(now.slots.map((s) => (isNum(s.export_kwh) ? -s.export_kwh : null)));
    }
    makeChart($("today-chart"), { series, axes: axes(), scales: { x: { time: true } } }, data, 300);
  }
  charts.push(() => { if (page === "today") renderToday(); });

  // ---------------------------------------------------------------- History
  const hist = { view: "day", date: null, from: null, to: null, rows: [], columns: [], title: "" };

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
      const next = new Date(from + "T00:00:00Z"); next.setUTCMonth(next.getUTCMonth() + 1);
      return { from, to: addDays(next.toISOString().slice(0, 10), -1) };
    }
    if (hist.view === "year") return { from: d.slice(0, 4) + "-01-01", to: d.slice(0, 4) + "-12-31" };
    return { from: hist.from || d, to: hist.to || d };
  }
  function resolutionOf(span) {
    const days = daysBetween(span.from, span.to) + 1;
    if (hist.view === "day" || (hist.view === "range" && days <= 2)) return "slots";
    if (hist.view === "year" || (hist.view === "range" && days > 92)) return "monthly";
    return "daily";
  }
  function readHistoryForm() {
    hist.view = $("hist-view").value;
    hist.date = $("hist-date").value || jstToday();
    hist.from = $("hist-from").value || null;
    hist.to = $("hist-to").value || null;
    const range = hist.view === "range";
    for (const el of document.querySelectorAll("#history-form .range")) el.hidden = !range;
    for (const el of document.querySelectorAll("#history-form .single, #hist-prev, #hist-next")) el.hidden = range;
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
    else if (hist.view === "month") {
      const x = new Date(d.slice(0, 8) + "01T00:00:00Z"); x.setUTCMonth(x.getUTCMonth() + direction);
      next = x.toISOString().slice(0, 10);
    } else {
      next = (Number(d.slice(0, 4)) + direction) + d.slice(4);
    }
    $("hist-date").value = next;
    loadHistory();
  }

  async function loadHistory() {
    readHistoryForm();
    writeHistoryUrl();
    const span = historySpan();
    const kind = resolutionOf(span);
    const error = $("hist-error");
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
    let costs = null;
    try {
      const group = kind === "slots" ? "range" : kind === "daily" ? "day" : "month";
      costs = await api("/cost", { from: span.from, to: span.to, group });
    } catch (e) { costs = null; }
    $("hist-cost-card").hidden = !costs;
    setText("hist-cost", costs ? yen(costs.total) : "—");
    setText("hist-import", num(body.import_kwh, 2));
    setText("hist-export", num(body.export_kwh, 2));

    const rows = [];
    const costBy = {};
    if (costs) for (const b of costs.bills) costBy[kind === "monthly" ? b.from.slice(0, 7) : b.from] = b.total;
    if (kind === "slots") {
      for (const s of body.slots) rows.push({ key: s.start, x: Date.parse(s.start) / 1000, label: fmtTime(s.start, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }), imp: s.import_kwh, exp: s.export_kwh, cost: null });
    } else if (kind === "daily") {
      for (const d of body.days) rows.push({ key: d.date, x: jstMidnight(d.date), label: d.date, imp: d.import_kwh, exp: d.export_kwh, cost: costBy[d.date] ?? null, complete: d.complete });
    } else {
      for (const m of body.months) rows.push({ key: m.month, x: jstMidnight(m.first_day), label: m.month, imp: m.import_kwh, exp: m.export_kwh, cost: costBy[m.month] ?? null, complete: m.complete });
    }
    hist.rows = rows;
    hist.kind = kind;
    hist.span = span;
    hist.hasCost = !!costs && kind !== "slots";
    hist.title = span.from === span.to ? span.from : span.from + " – " + span.to;
    renderHistory();
  }

  function renderHistory() {
    if (!hist.rows) return;
    const kind = hist.kind;
    setText("hist-title", hist.title);
    const hasExport = hist.rows.some((r) => isNum(r.exp) && r.exp > 0);
    const series = [{}, barSeries(t("series.bought"), cssVar("--import"))];
    const data = [hist.rows.map((r) => r.x), hist.rows.map((r) => (isNum(r.imp) ? r.imp : null))];
    if (hasExport) {
      series.push(barSeries(t("series.sold"), cssVar("--export")));
      data.push(hist.rows.map((r) => (isNum(r.exp) ? -r.exp : null)));
    }
    const xValues = kind === "monthly"
      ? (u, splits) => splits.map((v) => fmtTime(new Date(v * 1000).toISOString(), { year: "numeric", month: "2-digit" }))
      : kind === "daily"
        ? (u, splits) => splits.map((v) => fmtTime(new Date(v * 1000).toISOString(), { month: "2-digit", day: "2-digit" }))
        : undefined;
    const ax = axes();
    if (xValues) ax[0].values = xValues;
    const chart = makeChart($("history-chart"), { series, axes: ax, scales: { x: { time: true } } }, data, 300);
    if (chart) window.routebHistoryChart = chart;

    const first = kind === "slots" ? t("hist.time") : kind === "daily" ? t("hist.dateCol") : t("hist.monthCol");
    const columns = [first, t("hist.boughtCol"), t("hist.soldCol")];
    if (hist.hasCost) columns.push(t("hist.costCol"));
    const thead = $("history-table").tHead;
    thead.textContent = "";
    const head = thead.insertRow();
    for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
    const tbody = $("history-table").tBodies[0];
    tbody.textContent = "";
    for (const r of hist.rows) {
      const tr = tbody.insertRow();
      const cells = [r.label, isNum(r.imp) ? num(r.imp, kind === "slots" ? 3 : 2) : "—", isNum(r.exp) ? num(r.exp, kind === "slots" ? 3 : 2) : "—"];
      if (hist.hasCost) cells.push(isNum(r.cost) ? yen(r.cost) : "—");
      for (const c of cells) tr.insertCell().textContent = c;
    }
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
    $("hist-date").value = /^\d{4}-\d{2}-\d{2}$/.test(date || "") ? date : jstToday();
    if (params.get("from")) $("hist-from").value = params.get("from");
    if (params.get("to")) $("hist-to").value = params.get("to");
    $("hist-view").addEventListener("change", loadHistory);
    $("hist-date").addEventListener("change", loadHistory);
    $("hist-prev").addEventListener("click", () => step(-1));
    $("hist-next").addEventListener("click", () => step(1));
    $("hist-csv").addEventListener("click", downloadCsv);
    $("history-form").addEventListener("submit", (event) => { event.preventDefault(); loadHistory(); });
    loadHistory();
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
  function counts(map) {
    const entries = Object.entries(map || {});
    return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(", ") : t("meter.none");
  }
  async function loadMeter() {
    let body;
    try { body = await api("/meter"); } catch (e) {
      fillKv("meter-info", [[t("meter.info"), t("error.load", { msg: e.message })]]);
      return;
    }
    const m = body.metadata || {};
    const s = body.live || {};
    const unit = isNum(m.unit_kwh) ? m.unit_kwh + " kWh" : null;
    fillKv("meter-info", [
      [t("meter.key"), body.meter],
      [t("meter.maker"), m.maker_code_hex],
      [t("meter.serial"), m.serial],
      [t("meter.release"), m.release],
      [t("meter.coefficient"), m.coefficient],
      [t("meter.unit"), unit],
      [t("meter.digits"), m.digits],
      [t("meter.skew"), isNum(s.clock_skew_s) ? num(s.clock_skew_s, 1) + " s" : null],
      [t("meter.fault"), s.fault === true ? t("meter.fault.yes") : s.fault === false ? t("meter.fault.no") : null],
      [t("meter.firstSeen"), body.first_seen ? fmtTime(body.first_seen) : null],
      [t("meter.lastSeen"), body.last_seen ? fmtTime(body.last_seen) : null],
    ]);
    const link = s.link || {};
    fillKv("meter-session", [
      [t("meter.state"), link.state],
      [t("meter.connectedSince"), link.connected_since ? fmtTime(link.connected_since) : null],
      ["LQI / RSSI", (isNum(link.lqi) ? link.lqi : "—") + " / " + (isNum(link.rssi_dbm) ? link.rssi_dbm + " dBm" : "—")],
      [t("meter.joins"), link.joins],
      [t("meter.scans"), link.scans],
      [t("meter.rejoins"), counts(link.rejoins)],
      [t("meter.recovery"), counts(link.recovery_steps)],
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
      for (const e of events.events) {
        const tr = tbody.insertRow();
        tr.insertCell().textContent = fmtTime(e.time);
        tr.insertCell().textContent = e.kind;
        tr.insertCell().textContent = e.detail;
      }
    } catch (e) { /* shown empty */ }
  }

  // ---------------------------------------------------------------- start
  const PAGES = { "/": "now", "/today": "today", "/history": "history", "/meter": "meter" };
  const page = PAGES[location.pathname] || "now";

  async function chooseMeter() {
    const select = $("meter-select");
    try {
      const body = await api("/meters");
      const saved = store.get("meter");
      const keys = body.meters.map((m) => m.key);
      meter = keys.includes(saved) ? saved : body.default;
      $("logout-form").hidden = !body.login;
      if (keys.length > 1) {
        select.textContent = "";
        for (const key of keys) select.add(new Option(key, key, false, key === meter));
        select.hidden = false;
        select.addEventListener("change", () => { store.set("meter", select.value); location.reload(); });
      }
    } catch (e) { /* the stream still tells us the meter */ }
  }

  async function start() {
    applyTheme();
    applyI18n();
    for (const a of document.querySelectorAll(".tabs a")) {
      if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    }
    $("page-" + page).hidden = false;
    $("lang-toggle").addEventListener("click", () => {
      lang = lang === "ja" ? "en" : "ja";
      store.set("lang", lang);
      applyI18n();
      renderLive();
      redrawCharts();
      if (page === "meter") loadMeter();
    });
    $("theme-toggle").addEventListener("click", () => {
      const order = ["auto", "light", "dark"];
      const next = order[(order.indexOf(store.get("theme") || "auto") + 1) % order.length];
      store.set("theme", next);
      applyTheme();
      redrawCharts();
    });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redrawCharts);
    await chooseMeter();
    connectStream();
    setInterval(tick, 1000);
    if (page === "now") loadNow();
    if (page === "today") { loadToday(); setInterval(loadToday, 60000); }
    if (page === "history") initHistory();
    if (page === "meter") { loadMeter(); setInterval(loadMeter, 30000); }
  }

  // Exposed for the browser tests and for curious users.
  window.routeb = { t, get live() { return live; }, get history() { return hist; }, csvOfHistory };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
