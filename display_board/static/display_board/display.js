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
  teamFilter = teamFilter ? parseInt(teamFilter, 10) : null;
  var sound = params.get("sound") !== "0";
  var langs = (params.get("lang") || "vi").split(/[ ,+]/).filter(function (l) {
    return l === "vi" || l === "en";
  });
  if (!langs.length) langs = ["vi"];
  // playback speed (1 on a real TV; tests speed announcements up, Chromium allows up to 16)
  var audioRate = Math.min(16, Math.max(0.5, parseFloat(params.get("audio_rate")) || 1));

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
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var d = new Date(serverNow());
    $("time").textContent = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    $("date").textContent = DAYS[d.getDay()] + ", " + pad(d.getDate()) + "/" + pad(d.getMonth() + 1) +
      "/" + d.getFullYear();
    var day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    if (localDay === null) localDay = day;
    else if (day !== localDay) {  // past midnight: a fresh snapshot (yesterday's calls go)
      localDay = day;
      if (live && live.seq !== null) live.loadSnapshot().catch(function () {});
    }
  }

  // -- rendering ---------------------------------------------------------------------
  function renderNow(flash) {
    var c = state.calls[0];
    $("nowNumber").textContent = c ? c.number : "----";
    $("nowCounter").textContent = c ? c.counter : "--";
    $("nowRecall").hidden = !(c && c.type === "ticket.recalled");
    if (flash) {
      var box = $("now");
      box.classList.remove("flash");
      void box.offsetWidth; // restart the animation
      box.classList.add("flash");
    }
  }

  function renderCalls() {
    var list = $("calls");
    var frag = document.createDocumentFragment();
    state.calls.slice(0, SHOWN_CALLS).forEach(function (c, i) {
      var li = el("li", (i === 0 ? "latest " : "") + (c.type === "ticket.recalled" ? "recall" : ""));
      li.setAttribute("data-seq", c.seq);
      li.appendChild(el("span", "num", String(c.number)));
      li.appendChild(el("span", "ctr", "Quầy " + c.counter));
      frag.appendChild(li);
    });
    list.replaceChildren(frag);
  }

  function renderCounter(n) {
    var c = state.counters[n];
    if (!c || !c.tile) return;
    var t = c.ticket, cls = "tile ", label;
    if (c.status === "closed") { cls += "closed"; label = "Đóng · Closed"; }
    else if (c.status === "paused") { cls += "paused"; label = "Tạm dừng · Paused"; }
    else if (t && (t.status === "called" || t.status === "serving")) {
      cls += t.status; label = String(t.number);
    } else { cls += "idle"; label = "—"; }
    c.tile.className = cls;
    c.tile.lastChild.textContent = label;
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
      c.tile.appendChild(el("span", "tn", "—"));
      frag.appendChild(c.tile);
      renderCounter(n);
    });
    box.replaceChildren(frag);
  }

  function renderTeams() {
    var body = $("teams");
    var frag = document.createDocumentFragment();
    state.teams.forEach(function (t) {
      if (!mine(t.id)) return;
      var tr = el("tr");
      tr.setAttribute("data-team", t.id);
      tr.appendChild(el("td", "tname", t.name));
      tr.appendChild(el("td", "w", String(t.waiting)));
      tr.appendChild(el("td", "est", t.waiting ? minutes(t.perPerson * (t.waiting + 0.5)) : ""));
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
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
               perPerson: t.estimated_wait_s / (t.waiting + 0.5) };
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
    state.calls = s.last_calls.filter(function (c) { return mine(c.team_id); })
      .slice(0, MAX_CALLS);
    renderNow(false);
    renderCalls();
    renderCounters();
    renderTeams();
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
        if (c) { c.ticket = evt.ticket; c.status = "open"; renderCounter(c.number); }
        if (!mine(evt.team_id) && !(c && counterMine(c))) break;
        state.calls.unshift({ seq: evt.seq, at: evt.at, type: evt.type, number: evt.ticket.number,
                              counter: evt.counter, team_id: evt.team_id });
        if (state.calls.length > MAX_CALLS) state.calls.length = MAX_CALLS;
        renderNow(true);
        renderCalls();
        if (serverNow() - Date.parse(evt.at) < ANNOUNCE_MAX_AGE_MS) {
          langs.forEach(function (lang) {
            announce(evt.ticket.number, evt.counter, evt.type === "ticket.recalled", lang, evt.seq);
          });
        }
        break;
      case "ticket.started":
        if (c) { c.ticket = evt.ticket; renderCounter(c.number); }
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
