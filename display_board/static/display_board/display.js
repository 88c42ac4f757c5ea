/* Hall display board.
 *
 * State comes from QMSLive (snapshot + events strictly in seq order, catch-up after a
 * reconnect or a gap). Every structure is bounded (10 calls, 50 audio log entries, one tile
 * per counter), so a TV left on for days does not grow. Calls are announced one after
 * another from a queue (never overlapping); the WAV (chime + sentence) comes from
 * GET /api/v1/announcements/audio. Test hooks: window.qmsDisplay.{calls, audioLog, live}.
 */
(function () {
  "use strict";

  var MAX_CALLS = 10, SHOWN_CALLS = 6, MAX_LOG = 50, MAX_QUEUED = 12, ANNOUNCE_MAX_AGE_MS = 90000;
  var TOKEN_KEY = "qms.display.token";
  var params = new URLSearchParams(location.search);
  var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
  var teamFilter = document.body.getAttribute("data-team");
  var layout = document.body.getAttribute("data-layout") || "hall";
  // the centre's time zone (centre.toml), never the TV's own
  var timeZone = document.body.getAttribute("data-tz") || undefined;
  teamFilter = teamFilter ? parseInt(teamFilter, 10) : null;
  var sound = params.get("sound") !== "0";
  var langs = (params.get("lang") || "vi").split(/[ ,+]/).filter(function (l) {
    return l === "vi" || l === "en";
  });
  if (!langs.length) langs = ["vi"];
  // playback speed (1 on a real TV; tests speed announcements up, Chromium allows up to 16)
  var audioRate = Math.min(16, Math.max(0.5, parseFloat(params.get("audio_rate")) || 1));
  // what does not fit the screen at the minimum text size (the waiting list of 8-12 teams,
  // the tiles or rows of many open counters) is shown a page at a time, turning every
  // PAGE_MS (?page_s=2..30; 8 s by default), never cut off
  var PAGE_MS = 1000 * Math.min(30, Math.max(2, parseFloat(params.get("page_s")) || 8));

  var $ = function (id) { return document.getElementById(id); };
  var state = { teams: [], counters: {}, counterOrder: [], calls: [], skewMs: 0, day: null };
  var audioLog = [];
  var live = null;

  // -- token -------------------------------------------------------------------------
  var token = params.get("token") || hash.get("token");
  if (token) {
    try { localStorage.setItem(TOKEN_KEY, token); } catch (e) { /* private mode */ }
    params.delete("token");
    var q = params.toString();
    history.replaceState(null, "", location.pathname + (q ? "?" + q : ""));
  } else {
    try { token = localStorage.getItem(TOKEN_KEY); } catch (e) { token = null; }
  }

  function askToken(why) {
    $("tokenWhy").textContent = why;
    $("tokenForm").hidden = false;
  }
  $("tokenForm").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var value = $("tokenInput").value.trim();
    if (!value) return;
    try { localStorage.setItem(TOKEN_KEY, value); } catch (e) { /* ignore */ }
    location.reload();
  });

  // -- helpers -----------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function serverNow() { return Date.now() + state.skewMs; }
  function mine(teamId) { return teamFilter === null || teamId === teamFilter; }
  function counterMine(c) { return teamFilter === null || c.teams.indexOf(teamFilter) >= 0; }
  function minutes(s) {
    if (!s) return "";
    var m = Math.max(1, Math.round(s / 60));
    return "~" + m + " phút";
  }

  // -- clock -------------------------------------------------------------------------
  var localDay = null;
  var DAYS = ["Chủ nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"];
  var WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  var fmt = null;
  try {
    fmt = new Intl.DateTimeFormat("en-GB", { timeZone: timeZone, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", weekday: "short",
      hour12: false });
  } catch (e) { fmt = null; }  // an unknown zone: the TV's own
  function wallClock(ms) {
    var d = new Date(ms);
    if (!fmt) {
      return { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), h: d.getHours(),
               mi: d.getMinutes(), s: d.getSeconds(), wd: d.getDay() };
    }
    var p = {};
    fmt.formatToParts(d).forEach(function (x) { p[x.type] = x.value; });
    return { y: +p.year, mo: +p.month, d: +p.day, h: (+p.hour) % 24, mi: +p.minute, s: +p.second,
             wd: WEEKDAYS.indexOf(p.weekday) };
  }
  function tick() {
    var w = wallClock(serverNow());
    $("time").textContent = pad(w.h) + ":" + pad(w.mi) + ":" + pad(w.s);
    $("date").textContent = DAYS[w.wd] + ", " + pad(w.d) + "/" + pad(w.mo) + "/" + w.y;
    var day = w.y + "-" + pad(w.mo) + "-" + pad(w.d);
    if (localDay === null) localDay = day;
    else if (day !== localDay) {  // past midnight: a fresh snapshot (yesterday's calls go)
      localDay = day;
      if (live && live.seq !== null) live.loadSnapshot().catch(function () {});
    }
  }

  // -- rendering ---------------------------------------------------------------------
  // The flash after a call: the box switches between white on dark red and navy on yellow
  // every 300 ms, 12 times (3.6 s); no fading, so the number keeps its contrast throughout.
  // `flash` marks a running flash (removing it stops the flash).
  var FLASH_STEP_MS = 300, FLASH_STEPS = 12;
  function flash(box) {
    if (!box) return;
    if (box._flashTimer) clearInterval(box._flashTimer);
    var step = 0;
    box.classList.add("flash", "flash-on");
    box._flashTimer = setInterval(function () {
      step += 1;
      if (step >= FLASH_STEPS || !box.classList.contains("flash") || !box.isConnected) {
        clearInterval(box._flashTimer);
        box._flashTimer = null;
        box.classList.remove("flash", "flash-on");
        return;
      }
      box.classList.toggle("flash-on", step % 2 === 0);
    }, FLASH_STEP_MS);
  }

  // a visit of several steps (issue #15): a number sent on to its next step shows in the
  // recent list as "1023 → Quầy 22 · Thu phí" (never in the big "now calling" box)
  var MOVED = "ticket.step_moved";
  function moveEntry(m) {
    var to = m.to || {};
    return { seq: m.seq, at: m.at, type: MOVED, number: m.ticket ? m.ticket.number : m.number,
             counter: null, team_id: m.team_id, hint: to.counter_hint || "",
             team_name: to.team_name || "", step: m.step ? m.step.name : "" };
  }

  function renderNow(doFlash) {
    var c = state.calls.filter(function (x) { return x.type !== MOVED; })[0];
    $("nowNumber").textContent = c ? c.number : "----";
    $("nowCounter").textContent = c ? c.counter : "--";
    $("nowRecall").hidden = !(c && c.type === "ticket.recalled");
    if (doFlash && layout === "hall") flash($("now"));
  }

  function renderCalls() {
    var list = $("calls");
    var frag = document.createDocumentFragment();
    // SHOWN_CALLS rows; a number sent on takes two (its step on a line of its own)
    var slots = 0;
    state.calls.filter(function (c) {
      var need = c.type === MOVED ? 2 : 1;
      if (slots + need > SHOWN_CALLS) { slots = SHOWN_CALLS; return false; }
      slots += need;
      return true;
    }).forEach(function (c, i) {
      if (c.type === MOVED) {
        var mv = el("li", "move");
        mv.setAttribute("data-seq", c.seq);
        mv.appendChild(el("span", "num", String(c.number)));
        mv.appendChild(el("span", "ctr", c.hint || c.team_name));
        var what = c.step || c.team_name;
        mv.appendChild(el("span", "step", "Sang bước " + what + " · Next step"));
        frag.appendChild(mv);
        return;
      }
      var li = el("li", (i === 0 ? "latest " : "") + (c.type === "ticket.recalled" ? "recall" : ""));
      li.setAttribute("data-seq", c.seq);
      li.appendChild(el("span", "num", String(c.number)));
      li.appendChild(el("span", "ctr", "Quầy " + c.counter));
      frag.appendChild(li);
    });
    list.replaceChildren(frag);
  }

  // what a counter shows: its number being called or served, or in words why there is none
  // (an open counter with nobody: "Sẵn sàng", ready for the next number)
  function counterLabel(c) {
    var t = c.ticket;
    if (c.status === "closed") return { cls: "closed", vi: "Đóng", en: "Closed" };
    if (c.status === "paused") return { cls: "paused", vi: "Tạm dừng", en: "Paused" };
    if (t && (t.status === "called" || t.status === "serving")) {
      return { cls: t.status, vi: String(t.number), en: null };
    }
    return { cls: "idle", vi: "Sẵn sàng", en: "Ready" };
  }

  function setLabel(node, label) {
    node.textContent = label.vi;
    if (label.en) node.appendChild(el("span", "en", " · " + label.en));
  }

  function renderCounter(n) {
    var c = state.counters[n];
    if (!c) return;
    var label = counterLabel(c);
    if (c.tile) {
      var wasShown = c.tile.className.indexOf("closed") < 0;
      var offPage = c.tile.classList.contains("off-page");
      c.tile.className = "tile " + label.cls + (offPage ? " off-page" : "");
      setLabel(c.tile.lastChild, label);
      if (wasShown !== (label.cls !== "closed")) fitTiles();
    }
    if (layout === "counters") renderRows();
  }

  function renderCounters() {
    var box = $("counters");
    var frag = document.createDocumentFragment();
    state.counterOrder.forEach(function (n) {
      var c = state.counters[n];
      if (!counterMine(c)) { c.tile = null; return; }
      c.tile = el("div", "tile");
      c.tile.setAttribute("data-counter", n);
      c.tile.appendChild(el("span", "cn", "Quầy " + n));
      c.tile.appendChild(el("span", "tn", ""));
      frag.appendChild(c.tile);
    });
    box.replaceChildren(frag);
    state.counterOrder.forEach(function (n) { if (state.counters[n].tile) renderCounter(n); });
    fitTiles();
  }

  // the smallest text on the board (display.css --min: 4 % of the height, of the width on a
  // portrait TV)
  function minTextPx() {
    var portrait = window.innerHeight > window.innerWidth;
    return 0.04 * (portrait ? window.innerWidth : window.innerHeight);
  }

  // -- pages: what does not fit is shown a page at a time ------------------------------
  // pagers[name] = {page, pages, show(page)}; one timer turns them all
  var pagers = {};
  function setPages(name, pages, show, indicator) {
    var p = pagers[name] || (pagers[name] = { page: 0 });
    p.pages = pages;
    p.show = show;
    p.indicator = indicator;
    if (p.page >= pages) p.page = 0;
    turnTo(name, p.page);
  }
  function turnTo(name, page) {
    var p = pagers[name];
    p.page = page;
    p.show(page);
    if (p.indicator) {
      p.indicator.textContent = p.pages > 1 ? (page + 1) + "/" + p.pages : "";
    }
  }
  setInterval(function () {
    Object.keys(pagers).forEach(function (name) {
      var p = pagers[name];
      if (p.pages > 1) turnTo(name, (p.page + 1) % p.pages);
    });
  }, PAGE_MS);

  // `n` items in the fewest pages whose `per` items fit (`fits(per)`), as even as can be:
  // the number of items on a page
  function perPage(n, fits) {
    var m = n;
    while (m > 1 && !fits(m)) m -= 1;
    var pages = Math.ceil(n / m);
    return Math.ceil(n / pages);
  }

  // the tiles' grid for `n` tiles: as many columns as give the largest tiles; k is the
  // tiles' scale (1: "Tạm dừng" at the minimum size fits across, about 5.2 min-sizes, and
  // the counter's name above its number, about 2.4 down)
  function tileGrid(n, w, h, minPx) {
    var best = { cols: 1, k: 0 };
    for (var cols = 1; cols <= n; cols++) {
      var rows = Math.ceil(n / cols);
      var k = Math.min((w / cols) / (5.2 * minPx), (h / rows) / (2.4 * minPx));
      if (k > best.k) best = { cols: cols, k: k };
    }
    return best;
  }

  // the tiles of the counters shown (closed ones are not), in pages when too many for
  // tiles of scale 1 (23 counters on a 1366x768 TV)
  function fitTiles() {
    var box = $("counters");
    var tiles = Array.prototype.slice.call(box.querySelectorAll(".tile:not(.closed)"));
    var n = tiles.length;
    var empty = box.parentNode.querySelector(".tiles-empty");
    if (!n && !empty) {
      empty = el("div", "tiles-empty", "Chưa có quầy mở");
      box.parentNode.appendChild(empty);
    }
    if (empty) empty.hidden = n > 0;
    var indicator = box.parentNode.querySelector("h2 .page");
    if (!n || layout !== "hall") {  // the per-counter layout shows no tiles
      setPages("tiles", 1, function () {}, indicator);
      return;
    }
    var w = box.clientWidth, h = box.clientHeight;
    var minPx = minTextPx();
    var per = perPage(n, function (m) { return tileGrid(m, w, h, minPx).k >= 1; });
    var grid = tileGrid(per, w, h, minPx);
    box.style.setProperty("--cols", grid.cols);
    box.style.setProperty("--tile-k", Math.max(0.8, Math.min(2, grid.k)).toFixed(2));
    tiles.forEach(function (t, i) { t.setAttribute("data-page", Math.floor(i / per)); });
    setPages("tiles", Math.ceil(n / per), function (page) {
      box.querySelectorAll(".tile").forEach(function (t) {
        t.classList.toggle("off-page", t.getAttribute("data-page") !== String(page));
      });
    }, indicator);
  }

  // -- the per-counter layout: one large row per open (or paused) counter ---------------------
  var rowsShown = "";
  function renderRows() {
    var box = $("rows");
    var open = state.counterOrder.map(function (n) { return state.counters[n]; })
      .filter(function (c) { return counterMine(c) && c.status !== "closed"; });
    var key = open.map(function (c) { return c.number; }).join(",");
    if (key !== rowsShown) {  // the set of rows changed: rebuild and fit
      rowsShown = key;
      var frag = document.createDocumentFragment();
      open.forEach(function (c) {
        var row = el("div", "row");
        row.setAttribute("data-counter", c.number);
        row.appendChild(el("span", "cn", "QUẦY " + c.number));
        row.appendChild(el("span", "arrow", "→"));
        row.appendChild(el("span", "tn", ""));
        frag.appendChild(row);
      });
      if (!open.length) frag.appendChild(el("div", "rows-empty", "Chưa có quầy mở"));
      box.replaceChildren(frag);
      fitRows(open.length);
    }
    open.forEach(function (c) {
      var row = box.querySelector('.row[data-counter="' + c.number + '"]');
      var label = counterLabel(c);
      var flashing = row.classList.contains("flash");
      row.className = "row " + label.cls + (flashing ? " flash" : "") +
        (row.classList.contains("flash-on") ? " flash-on" : "") +
        (row.classList.contains("off-page") ? " off-page" : "");
      setLabel(row.lastChild, label);
    });
  }

  // the page with the counter just called (its tile or row flashes in view)
  function showCounter(n) {
    [["tiles", "#counters .tile"], ["rows", "#rows .row"]].forEach(function (x) {
      var p = pagers[x[0]];
      var e = document.querySelector(x[1] + '[data-counter="' + n + '"]');
      if (p && p.pages > 1 && e && e.hasAttribute("data-page")) {
        turnTo(x[0], +e.getAttribute("data-page"));
      }
    });
  }

  // the rows' grid for `n` rows: the columns (up to 4) that give the largest text
  function rowGrid(n, w, h) {
    var best = { cols: 1, font: 0 };
    for (var cols = 1; cols <= Math.min(n, 4); cols++) {
      var rows = Math.ceil(n / cols);
      // "QUẦY 12 → 1023" is about 8.5 em wide; a row is 1.3 em high
      var font = Math.min((w / cols) / 8.5, (h / rows) / 1.3);
      if (font > best.font) best = { cols: cols, font: font };
    }
    return best;
  }

  // in pages when too many rows for the minimum text size
  function fitRows(n) {
    var box = $("rows");
    if (!n) { setPages("rows", 1, function () {}, null); return; }
    var w = box.clientWidth, h = box.clientHeight, minPx = minTextPx();
    var per = perPage(n, function (m) { return rowGrid(m, w, h).font >= minPx; });
    var grid = rowGrid(per, w, h);
    box.style.setProperty("--cols", grid.cols);
    box.style.setProperty("--rows", Math.ceil(per / grid.cols));
    box.style.setProperty("--row-font", Math.floor(grid.font) + "px");
    var rows = box.querySelectorAll(".row");
    rows.forEach(function (r, i) { r.setAttribute("data-page", Math.floor(i / per)); });
    setPages("rows", Math.ceil(n / per), function (page) {
      rows.forEach(function (r) {
        r.classList.toggle("off-page", r.getAttribute("data-page") !== String(page));
      });
    }, null);
  }

  window.addEventListener("resize", function () {
    fitTiles();
    pageTeams();
    rowsShown = "";
    if (layout === "counters") renderRows();
  });

  // honest waits (issue #16): the open counters serving a team, from the counters' states
  // (kept live by the counter events); with none, no wait is estimated: the wait column says
  // "Chưa có quầy mở" instead
  function countersOpen(teamId) {
    return state.counterOrder.filter(function (n) {
      var c = state.counters[n];
      return c.status === "open" && c.teams.indexOf(teamId) >= 0;
    }).length;
  }

  function renderTeams() {
    var body = $("teams");
    var frag = document.createDocumentFragment();
    var unknown = false;
    state.teams.forEach(function (t) {
      if (!mine(t.id)) return;
      t.countersOpen = countersOpen(t.id);
      var tr = el("tr", t.countersOpen ? "" : "no-counter");
      tr.setAttribute("data-team", t.id);
      tr.appendChild(el("td", "tname", t.name));
      tr.appendChild(el("td", "w", String(t.waiting)));
      var est = "";
      if (!t.countersOpen) {
        est = "Chưa có quầy mở";  // on two lines (display.css): the names keep their room
      } else if (t.waiting) {
        if (t.perPerson === null) unknown = true;
        else est = minutes(t.perPerson * (t.waiting + 0.5));
      }
      tr.appendChild(el("td", "est", est));
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    pageTeams();
    if (unknown) refreshEstimates();
  }

  // the waiting list in pages of the teams that fit its panel (names wrap, never cut):
  // 8 teams on a 1366x768 TV take two or three
  function pageTeams() {
    var body = $("teams");
    var section = body.closest("section");
    var rows = Array.prototype.slice.call(body.children);
    rows.forEach(function (r) { r.hidden = false; });
    var indicator = section.querySelector("h2 .page");
    if (layout !== "hall" || !rows.length) {
      setPages("teams", 1, function () {}, indicator);
      return;
    }
    var style = getComputedStyle(section);
    var room = section.clientHeight - parseFloat(style.paddingTop) -
      parseFloat(style.paddingBottom) - section.querySelector("h2").offsetHeight -
      parseFloat(getComputedStyle(section.querySelector("h2")).marginBottom);
    var heights = rows.map(function (r) { return r.getBoundingClientRect().height; });
    // the fewest pages, then as even as they can be (not 4 + 3 + 1)
    function split(cap) {
      var page = 0, used = 0;
      var of = heights.map(function (hgt) {
        if (used > 0 && used + hgt > cap) { page += 1; used = 0; }
        used += hgt;
        return page;
      });
      return { of: of, pages: page + 1 };
    }
    var best = split(room), lo = Math.max.apply(null, heights), hi = room;
    while (hi - lo > 1) {
      var mid = (lo + hi) / 2, trial = split(mid);
      if (trial.pages <= best.pages) { hi = mid; best = trial; } else { lo = mid; }
    }
    rows.forEach(function (r, i) { r.setAttribute("data-page", best.of[i]); });
    setPages("teams", best.pages, function (p) {
      rows.forEach(function (r) { r.hidden = r.getAttribute("data-page") !== String(p); });
    }, indicator);
  }

  // a team's first counter opened after the snapshot (which had no wait for it): read the
  // teams' estimates again from /state. Only the estimates are taken from it: events keep
  // flowing meanwhile (reloading the whole snapshot would swallow the calls made during the
  // read, unannounced)
  var refreshing = false;
  function refreshEstimates() {
    if (refreshing || !live || live.seq === null) return;
    refreshing = true;
    var query = live.site ? "?site=" + encodeURIComponent(live.site) : "";
    live.api("/state" + query).then(function (s) {
      refreshing = false;
      s.teams.forEach(function (fresh) {
        state.teams.forEach(function (t) {
          if (t.id !== fresh.id) return;
          t.perPerson = fresh.estimated_wait_s === null ? null
            : fresh.estimated_wait_s / (fresh.waiting + 0.5);
        });
      });
      renderTeams();
    }, function () { refreshing = false; });
  }

  function setNotice(text) {
    var n = $("notice");
    if (n.textContent === text) return;
    n.textContent = text || "";
    n.style.setProperty("--ticker-s", Math.max(15, Math.round((text || "").length / 5)) + "s");
  }

  // -- state from the snapshot -------------------------------------------------------
  function onSnapshot(s) {
    state.skewMs = Date.parse(s.at) - Date.now();
    state.day = s.day;
    $("centre").textContent = s.centre || "";
    document.title = (s.centre || "") + " · Bảng hiển thị";
    setNotice(s.notice || "");
    state.teams = s.teams.map(function (t) {
      return { id: t.id, name: t.name, waiting: t.waiting,
               perPerson: t.estimated_wait_s === null ? null
                 : t.estimated_wait_s / (t.waiting + 0.5) };
    });
    var team = state.teams.filter(function (t) { return t.id === teamFilter; })[0];
    $("teamTitle").textContent = team ? team.name : "";
    document.body.classList.toggle("one-team", teamFilter !== null);
    state.counters = {};
    state.counterOrder = [];
    s.counters.forEach(function (c) {
      state.counters[c.number] = { number: c.number, teams: c.teams, status: c.status,
                                   ticket: c.ticket, tile: null };
      state.counterOrder.push(c.number);
    });
    var seen = {};
    state.calls = s.last_calls.filter(function (c) {
      // a recall is the same call again: one row (the latest, marked), never two
      var key = c.number + "@" + c.counter;
      if (!mine(c.team_id) || seen[key]) return false;
      seen[key] = true;
      return true;
    });
    (s.last_moves || []).forEach(function (m) {
      if (mine(m.team_id)) state.calls.push(moveEntry(m));
    });
    state.calls.sort(function (a, b) { return b.seq - a.seq; });
    state.calls = state.calls.slice(0, MAX_CALLS);
    renderNow(false);
    renderCalls();
    renderCounters();
    renderTeams();
    rowsShown = "";
    if (layout === "counters") renderRows();
  }

  // -- events ------------------------------------------------------------------------
  function onEvent(evt) {
    if (evt.waiting) {
      state.teams.forEach(function (t) {
        var w = evt.waiting[String(t.id)];
        if (w !== undefined) t.waiting = w;
      });
      renderTeams();
    }
    var c = evt.counter !== null && evt.counter !== undefined ? state.counters[evt.counter] : null;
    switch (evt.type) {
      case "ticket.called":
      case "ticket.recalled":
        if (c) {
          var wasOpen = c.status === "open";
          c.ticket = evt.ticket; c.status = "open"; renderCounter(c.number);
          if (!wasOpen) renderTeams();
        }
        if (!mine(evt.team_id) && !(c && counterMine(c))) break;
        // a recall updates the call's row (moved to the top, marked ↻): no second row
        for (var i = state.calls.length - 1; i >= 0; i--) {
          var old = state.calls[i];
          if (old.number === evt.ticket.number && old.counter === evt.counter) {
            state.calls.splice(i, 1);
          }
        }
        state.calls.unshift({ seq: evt.seq, at: evt.at, type: evt.type, number: evt.ticket.number,
                              counter: evt.counter, team_id: evt.team_id });
        if (state.calls.length > MAX_CALLS) state.calls.length = MAX_CALLS;
        renderNow(true);
        renderCalls();
        showCounter(evt.counter);
        if (layout === "counters") {
          flash($("rows").querySelector('.row[data-counter="' + evt.counter + '"]'));
        }
        if (serverNow() - Date.parse(evt.at) < ANNOUNCE_MAX_AGE_MS) {
          langs.forEach(function (lang) {
            announce(evt.ticket.number, evt.counter, evt.type === "ticket.recalled", lang, evt.seq);
          });
        }
        break;
      case "ticket.started":
        if (c) { c.ticket = evt.ticket; renderCounter(c.number); }
        break;
      case "ticket.step_moved":
        if (mine(evt.team_id) || (c && counterMine(c))) {
          state.calls.unshift(moveEntry(evt));
          if (state.calls.length > MAX_CALLS) state.calls.length = MAX_CALLS;
          renderCalls();
        }
        if (c && c.ticket && c.ticket.id === evt.ticket_id) {
          c.ticket = null;
          renderCounter(c.number);
        }
        break;
      case "ticket.finished":
      case "ticket.no_show":
      case "ticket.transferred":
        if (c && c.ticket && c.ticket.id === evt.ticket_id) {
          c.ticket = null;
          renderCounter(c.number);
        }
        break;
      case "counter.opened":
      case "counter.paused":
      case "counter.closed":
        if (c) {
          c.status = evt.type.split(".")[1] === "opened" ? "open" : evt.type.split(".")[1];
          if (c.status === "closed") c.ticket = null;
          renderCounter(c.number);
          renderTeams();
        }
        break;
      default:
        break;
    }
  }

  // -- audio: one announcement at a time ---------------------------------------------
  var player = $("voice");
  player.defaultPlaybackRate = audioRate;
  var audioQueue = [], playing = null, playTimer = null;

  function logEntry(entry) {
    audioLog.push(entry);
    if (audioLog.length > MAX_LOG) audioLog.splice(0, audioLog.length - MAX_LOG);
  }

  function fetchWav(entry) {
    var url = "/api/v1/announcements/audio?number=" + entry.number + "&counter=" + entry.counter +
      "&recall=" + (entry.recall ? 1 : 0) + "&lang=" + entry.lang;
    return fetch(url, { headers: { "Authorization": "Bearer " + token } }).then(function (res) {
      if (!res.ok) throw new Error("HTTP " + res.status);
      return res.blob();
    }).then(function (blob) { return URL.createObjectURL(blob); });
  }

  function announce(number, counter, recall, lang, seq) {
    var entry = { seq: seq, number: number, counter: counter, recall: recall, lang: lang,
                  state: sound ? "queued" : "muted", queuedAt: performance.now(),
                  startedAt: null, endedAt: null };
    logEntry(entry);
    if (!sound) return;
    var job = { entry: entry, wav: fetchWav(entry) }; // fetched now, played in turn
    job.wav.catch(function () {});
    audioQueue.push(job);
    while (audioQueue.length > MAX_QUEUED) {  // a backlog (audio stuck): drop the oldest
      var old = audioQueue.shift();
      old.entry.state = "dropped";
      old.wav.then(function (u) { URL.revokeObjectURL(u); }, function () {});
    }
    pump();
  }

  function pump() {
    if (playing || !audioQueue.length) return;
    var job = playing = audioQueue.shift();
    job.entry.state = "loading";
    job.wav.then(function (url) {
      if (playing !== job) { URL.revokeObjectURL(url); return; }
      job.url = url;
      job.entry.state = "playing";
      job.entry.startedAt = performance.now();
      player.src = url;
      player.playbackRate = audioRate;
      playTimer = setTimeout(function () { done(job, "timeout"); }, 30000);
      var p = player.play();
      if (p && p.catch) p.catch(function (e) { done(job, "blocked: " + e.name); });
    }).catch(function (e) { done(job, "error: " + e.message); });
  }

  function done(job, how) {
    if (playing !== job) return;
    clearTimeout(playTimer);
    job.entry.state = how;
    job.entry.endedAt = performance.now();
    if (job.url) URL.revokeObjectURL(job.url);
    player.removeAttribute("src");
    playing = null;
    pump();
  }

  player.addEventListener("ended", function () { if (playing) done(playing, "ended"); });
  player.addEventListener("error", function () { if (playing && playing.url) done(playing, "error"); });

  // -- start -------------------------------------------------------------------------
  function onStatus(s) {
    $("offline").hidden = s === "online";
    if (s === "unauthorized") askToken("Mã thiết bị không hợp lệ (invalid display token).");
  }

  window.qmsDisplay = {
    calls: state.calls, audioLog: audioLog, state: state, team: teamFilter,
    audioQueueLength: function () { return audioQueue.length + (playing ? 1 : 0); },
  };

  tick();
  setInterval(tick, 1000);
  if (!token) {
    askToken("Nhập mã thiết bị hiển thị (display device token).");
    return;
  }
  live = new QMSLive({ token: token, onSnapshot: function (s) {
    onSnapshot(s);
    window.qmsDisplay.calls = state.calls;
  }, onEvent: onEvent, onStatus: onStatus });
  window.qmsDisplay.live = live;
  live.start();
})();
