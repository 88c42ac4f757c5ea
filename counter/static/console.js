/* The officer's counter console: sign in at a counter, call and serve tickets, live state
 * over Socket.IO (QMSLive, with catch-up after reconnect), today's figures. */
(function () {
  "use strict";
  var C = window.QMSCounter;
  var STORE = "qms.counter.session";

  var T = new C.I18n(window.QMSConsoleText, "qms.counter.lang");

  var PAUSE_REASONS = ["r_break", "r_meeting", "r_lunch", "r_support", "r_technical"];
  var CALL_REASONS = ["c_returned", "c_missed", "c_priority", "c_other"];
  var SCORE_KEYS = { 4: "Rất hài lòng", 3: "Hài lòng", 2: "Bình thường", 1: "Không hài lòng" };

  var $ = function (id) { return document.getElementById(id); };
  var S = {
    session: null, counter: null, teams: {}, teamOrder: [], counters: [], status: "closed",
    reason: null, ticket: null, live: null, procNames: {}, busy: false, online: false,
    offsetMs: 0, queuesAt: 0, today: null, devices: {}, deviceNames: []
  };
  var stats = { renders: 0, lastRender: 0 };
  window.qmsConsole = { state: S, stats: stats };

  // ----------------------------------------------------------------- sign-in
  function loadSession() {
    try { return JSON.parse(sessionStorage.getItem(STORE)); } catch (e) { return null; }
  }

  function showSignin(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    var q = new URLSearchParams(location.search).get("counter");
    if (q && !$("counter-no").value) $("counter-no").value = q;
    $("username").focus();
  }

  function login(username, password, counter) {
    var body = { username: username, password: password };
    if (counter !== null && counter !== undefined) body.counter = counter;
    return C.api(null, "POST", "/auth/login", body).then(function (r) { return r.data; });
  }

  function signedIn(data) {
    var session = { token: data.token, user: data.user, counter: data.user.counter };
    sessionStorage.setItem(STORE, JSON.stringify(session));
    $("password").value = "";
    $("counter-pick").hidden = true;
    start(session);
  }

  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var user = $("username").value.trim(), pw = $("password").value;
    var n = parseInt($("counter-no").value, 10);
    $("signin-error").textContent = "";
    var onError = function (err) {
      $("signin-error").textContent = C.pickLang(err.message, T.lang);
    };
    if (!isNaN(n)) { login(user, pw, n).then(signedIn, onError); return; }
    // No counter given: learn the user's counters, then sign in at the one chosen.
    login(user, pw, null).then(function (probe) {
      C.api(probe.token, "POST", "/auth/logout").catch(function () {});
      var mine = probe.user.counters || [];
      if (mine.length === 1) return login(user, pw, mine[0]).then(signedIn);
      var pick = $("counter-pick");
      pick.innerHTML = "";
      var label = document.createElement("p");
      label.textContent = T.t("pick_counter");
      pick.appendChild(label);
      mine.forEach(function (c) {
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = T.t("counter") + " " + c;
        b.addEventListener("click", function () { login(user, pw, c).then(signedIn, onError); });
        pick.appendChild(b);
      });
      pick.hidden = false;
    }).catch(onError);
  });

  $("signout").addEventListener("click", function () {
    var s = S.session;
    sessionStorage.removeItem(STORE);
    if (S.live && S.live.socket) S.live.socket.disconnect();
    S.live = null;
    if (s) C.api(s.token, "POST", "/auth/logout").catch(function () {});
    showSignin();
  });

  document.querySelectorAll(".lang").forEach(function (b) {
    b.addEventListener("click", function () { T.toggle(); fillDialogs(); renderAll(); });
  });

  // ----------------------------------------------------------------- live state
  function start(session) {
    S.session = session;
    S.counter = session.counter;
    $("signin").hidden = true;
    $("app").hidden = false;
    $("officer").textContent = session.user.full_name || session.user.username;
    S.live = new window.QMSLive({
      token: session.token, onSnapshot: onSnapshot, onEvent: onEvent, onStatus: onStatus
    });
    S.live.start();
    window.qmsConsole.live = S.live;
    loadToday();
  }

  function onStatus(status) {
    S.online = status === "online";
    if (status === "unauthorized") {
      sessionStorage.removeItem(STORE);
      if (S.live && S.live.socket) S.live.socket.disconnect();
      showSignin(T.t("session_over"));
      return;
    }
    if (S.online) { refreshQueues(); loadToday(); }
    renderConn();
  }

  function onSnapshot(state) {
    S.offsetMs = Date.parse(state.at) - Date.now();
    S.teams = {};
    state.teams.forEach(function (t) { S.teams[t.id] = t; });
    S.counters = state.counters.map(function (c) { return c.number; });
    var me = state.counters.filter(function (c) { return c.number === S.counter; })[0];
    if (me) {
      S.teamOrder = me.teams;
      S.status = me.status;
      S.reason = me.reason;
      S.ticket = me.ticket;
      $("counter-name").textContent = me.name;
      document.title = me.name + " · Quầy phục vụ";
    }
    S.queuesAt = Date.now();
    fillDialogs();
    renderAll();
  }

  function mine(evt) { return evt.counter === S.counter; }

  function onEvent(evt) {
    if (evt.waiting) {
      Object.keys(evt.waiting).forEach(function (id) {
        if (S.teams[id]) S.teams[id].waiting = evt.waiting[id];
      });
    }
    var type = evt.type;
    if (mine(evt)) {
      if (type === "ticket.called" || type === "ticket.recalled" || type === "ticket.started") {
        S.ticket = keepName(evt.ticket);
        if (evt.step) { S.ticket.step = evt.step; S.ticket.next_step = evt.next_step || null; }
        if (S.status === "closed") S.status = "open";
      } else if (type === "ticket.finished" || type === "ticket.no_show" ||
                 type === "ticket.transferred" || type === "ticket.step_moved") {
        if (S.ticket && S.ticket.id === evt.ticket_id) S.ticket = null;
      } else if (type === "counter.opened") {
        S.status = "open"; S.reason = null;
      } else if (type === "counter.paused") {
        S.status = "paused"; S.reason = evt.reason;
      } else if (type === "counter.closed") {
        S.status = "closed"; S.reason = null; S.ticket = null;
      }
      if (type === "ticket.rated") {
        say(T.t("rated", { n: evt.ticket.number, s: SCORE_KEYS[evt.score] || evt.score }));
      }
      if (/^ticket\.(finished|no_show|rated|called|transferred|step_moved)$/.test(type)) {
        loadTodaySoon();
      }
    }
    if (type === "device.status" && S.deviceNames.indexOf(evt.device) >= 0) {
      S.devices[evt.device + "/" + evt.part] = evt;
      renderDevices();
    }
    if (/^ticket\.(issued|called|transferred|cancelled)$/.test(type)) refreshQueuesSoon();
    renderAll();
  }

  function keepName(t) {
    if (t && S.ticket && S.ticket.id === t.id && S.ticket.procedure_name) {
      t.procedure_name = S.ticket.procedure_name;
    }
    // a visit of several steps: the events' ticket has no step, the answers and snapshot do
    if (t && S.ticket && S.ticket.id === t.id && S.ticket.step && !t.step) {
      t.step = S.ticket.step;
      t.next_step = S.ticket.next_step;
    }
    return t;
  }

  var queueTimer = null, todayTimer = null;
  function refreshQueuesSoon() {
    if (!queueTimer) queueTimer = setTimeout(function () { queueTimer = null; refreshQueues(); }, 400);
  }
  function refreshQueues() {
    if (!S.session) return;
    C.api(S.session.token, "GET", "/state").then(function (r) {
      if (S.live && r.data.seq < S.live.seq) return refreshQueuesSoon(); // older than what we show
      r.data.teams.forEach(function (t) { S.teams[t.id] = t; });
      S.offsetMs = Date.parse(r.data.at) - Date.now();
      S.queuesAt = Date.now();
      renderQueues();
    }).catch(function () {});
  }
  function loadTodaySoon() {
    if (!todayTimer) todayTimer = setTimeout(function () { todayTimer = null; loadToday(); }, 300);
  }
  function loadToday() {
    if (!S.session) return;
    C.api(S.session.token, "GET", "/counters/" + S.counter + "/today").then(function (r) {
      S.today = r.data;
      S.deviceNames = r.data.device_names || [];
      S.devices = {};
      (r.data.devices || []).forEach(function (d) { S.devices[d.device + "/" + d.part] = d; });
      renderToday();
      renderDevices();
    }).catch(function () {});
  }

  // ----------------------------------------------------------------- actions
  var DONE = { "call-next": "done_call", "call-number": "done_call", recall: "done_recall",
               start: "done_start", finish: "done_finish", "no-show": "done_noshow",
               transfer: "done_transfer", pause: "done_pause", resume: "done_resume" };

  function act(action, body) {
    if (S.busy || !S.session) return null;
    S.busy = true;
    renderButtons();
    say(T.t("sending"));
    var p = C.command(S.session.token, "/counters/" + S.counter + "/" + action, body,
      function (attempt) { say(T.t("retrying", { n: attempt }), true); renderConn(true); });
    p.then(function (res) {
      S.busy = false;
      var t = res.data;
      if (res.status === 204) {
        S.ticket = null;
        say(T.t("nobody"));
      } else if (action === "pause" || action === "resume") {
        S.status = t.status; S.reason = t.reason;
        say(T.t(DONE[action]));
      } else {
        if (t.procedure_code && t.procedure_name) S.procNames[t.procedure_code] = t.procedure_name;
        var active = t.status === "called" || t.status === "serving";
        if (active && t.counter === S.counter) { S.ticket = t; S.status = "open"; }
        else if (S.ticket && S.ticket.id === t.id) S.ticket = null;
        if (t.status === "waiting" && t.step && (action === "finish" || action === "next-step")) {
          // sent on to the next step of the visit, under the same number
          say(T.t("done_step", { n: t.number, step: t.step.name, where: t.step.counter_hint }));
        } else {
          say(T.t(DONE[action], { n: t.number }));
        }
      }
      renderConn();
      renderAll();
    }, function (err) {
      S.busy = false;
      if (err.status === 401) { onStatus("unauthorized"); return; }
      say(err.network ? T.t("failed") : C.pickLang(err.message, T.lang), true);
      renderAll();
    });
    return p;
  }
  window.qmsConsole.act = act;

  // A no-show soon after the call asks first and says why (the citizen may be on the way).
  var NO_SHOW_CONFIRM_S = 120;
  function run(action) {
    var t = S.ticket;
    if (action === "no-show" && t && t.status === "called" && !S.busy) {
      var since = t.called_at ? (serverNow() - Date.parse(t.called_at)) / 1000 : 0;
      if (since < NO_SHOW_CONFIRM_S) {
        $("noshow-why").textContent = T.t("noshow_why", { n: t.number, t: C.mmss(Math.max(0, since)) });
        openDialog("noshow");
        return null;
      }
    }
    return act(action);
  }
  window.qmsConsole.run = run;

  document.querySelectorAll("[data-action]").forEach(function (b) {
    b.addEventListener("click", function () { run(b.getAttribute("data-action")); });
  });
  document.querySelectorAll("[data-dialog]").forEach(function (b) {
    b.addEventListener("click", function () { openDialog(b.getAttribute("data-dialog")); });
  });

  // ----------------------------------------------------------------- dialogs
  var openDlg = null;
  function openDialog(name) {
    if (S.busy) return;
    if (name === "pause" && S.status === "paused") { act("resume"); return; }
    closeDialog();
    var dlg = $("dlg-" + name);
    dlg.hidden = false;
    openDlg = dlg;
    var first = dlg.querySelector("input, select, button");
    if (name === "callnum") { $("cn-number").value = ""; first = $("cn-number"); }
    if (first) first.focus();
  }
  function closeDialog() {
    if (openDlg) openDlg.hidden = true;
    openDlg = null;
  }
  document.querySelectorAll(".dialog .cancel").forEach(function (b) {
    b.addEventListener("click", closeDialog);
  });

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value; o.textContent = text;
    return o;
  }
  function fillDialogs() {
    var team = $("tr-team"), ctr = $("tr-counter"), cn = $("cn-reason"), pr = $("pause-reasons");
    team.innerHTML = ""; ctr.innerHTML = ""; cn.innerHTML = ""; pr.innerHTML = "";
    team.appendChild(option("", T.t("none")));
    Object.keys(S.teams).forEach(function (id) {
      team.appendChild(option(id, teamName(S.teams[id])));
    });
    ctr.appendChild(option("", T.t("none")));
    S.counters.forEach(function (n) {
      if (n !== S.counter) ctr.appendChild(option(n, T.t("counter") + " " + n));
    });
    CALL_REASONS.forEach(function (k) { cn.appendChild(option(T.t(k), T.t(k))); });
    PAUSE_REASONS.forEach(function (k) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "reason";
      b.textContent = T.t(k);
      b.setAttribute("data-reason", T.dict[k].vi);
      b.addEventListener("click", function () {
        closeDialog();
        act("pause", { reason: b.getAttribute("data-reason") });
      });
      pr.appendChild(b);
    });
  }
  $("tr-team").addEventListener("change", function () { if (this.value) $("tr-counter").value = ""; });
  $("tr-counter").addEventListener("change", function () { if (this.value) $("tr-team").value = ""; });

  document.querySelector("[data-form=transfer]").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = { note: $("tr-note").value.trim() };
    if ($("tr-counter").value) body.counter = parseInt($("tr-counter").value, 10);
    else if ($("tr-team").value) body.team_id = parseInt($("tr-team").value, 10);
    else { $("tr-team").focus(); return; }
    closeDialog();
    $("tr-note").value = "";
    act("transfer", body);
  });
  document.querySelector("[data-form=pause]").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var r = $("pause-other").value.trim();
    if (!r) return;
    closeDialog();
    $("pause-other").value = "";
    act("pause", { reason: r });
  });
  document.querySelector("[data-form=noshow]").addEventListener("submit", function (ev) {
    ev.preventDefault();
    closeDialog();
    act("no-show");
  });
  $("noshow-recall").addEventListener("click", function () { closeDialog(); act("recall"); });
  document.querySelector("[data-form=callnum]").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var n = parseInt($("cn-number").value, 10);
    if (isNaN(n)) return;
    closeDialog();
    act("call-number", { number: n, reason: $("cn-reason").value });
  });

  // ----------------------------------------------------------------- keyboard
  var KEYS = { F1: "call-next", " ": "call-next", r: "recall", s: "start", f: "finish",
               n: "no-show" };
  var DIALOG_KEYS = { t: "transfer", p: "pause", c: "callnum" };
  document.addEventListener("keydown", function (ev) {
    if ($("app").hidden) return;
    if (ev.key === "Escape") { closeDialog(); return; }
    if (openDlg || ev.ctrlKey || ev.altKey || ev.metaKey) return;
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    var key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (KEYS[key]) { ev.preventDefault(); run(KEYS[key]); }
    else if (DIALOG_KEYS[key]) { ev.preventDefault(); openDialog(DIALOG_KEYS[key]); }
  });

  // ----------------------------------------------------------------- rendering
  function teamName(t) { return (T.lang === "en" && t.name_en) ? t.name_en : t.name; }
  function serverNow() { return Date.now() + S.offsetMs; }

  function say(text, warn) {
    var m = $("msg");
    m.textContent = text;
    m.className = "msg" + (warn ? " warn" : "");
  }

  function renderConn(trouble) {
    var c = $("conn");
    c.textContent = S.online ? T.t("online") : T.t("offline_short");
    c.className = "pill conn " + (S.online ? "ok" : "bad");
    $("banner").hidden = S.online && !trouble;
  }

  function renderButtons() {
    var t = S.ticket, paused = S.status === "paused";
    var set = function (sel, enabled) {
      document.querySelectorAll(sel).forEach(function (b) { b.disabled = S.busy || !enabled; });
    };
    set("[data-action=call-next]", !paused);
    set("[data-dialog=callnum]", !paused);
    set("[data-action=recall]", t && t.status === "called");
    set("[data-action=start]", t && t.status === "called");
    set("[data-action=no-show]", t && t.status === "called");
    set("[data-action=finish]", !!t);
    // a visit of several steps: "Xong bước → Thu phí" sends the citizen on to the next step
    var fb = document.querySelector("[data-action=finish] [data-t]");
    var onward = !!(t && t.next_step);
    fb.setAttribute("data-t", onward ? "finish_step" : "finish");
    fb.textContent = T.t(onward ? "finish_step" : "finish");
    $("finish-next").textContent = onward ? "→ " + t.next_step.name : "";
    set("[data-dialog=transfer]", !!t);
    set("#btn-pause", true);
    var pb = $("btn-pause").querySelector("[data-t]");
    pb.setAttribute("data-t", paused ? "resume" : "pause");
    pb.textContent = T.t(paused ? "resume" : "pause");
  }

  function renderTicket() {
    var t = S.ticket, box = $("ticket");
    box.className = "ticket" + (t ? " " + t.status : " empty");
    $("t-number").textContent = t ? t.number : "—";
    // paused, "Gọi số tiếp theo" is disabled: the empty card says how to carry on
    $("t-state").textContent = t ? T.t(t.status === "serving" ? "t_serving" : "t_called")
                                 : T.t(S.status === "paused" ? "no_ticket_paused" : "no_ticket");
    $("t-step").hidden = !(t && t.step);
    $("t-step").textContent = t && t.step ? T.t("step", { i: t.step.index, c: t.step.count,
                                                          name: t.step.name }) : "";
    $("t-priority").hidden = !(t && t.priority);
    $("t-priority").textContent = t && t.priority ? T.t("prio") + ": " + T.t(t.priority) : "";
    var team = t && S.teams[t.team_id];
    // the team's name already says "Tổ …": no "Tổ 5 · Tổ …"
    $("t-team").textContent = team ? teamName(team) : "";
    var proc = "";
    if (t && t.procedure_code) {
      proc = t.procedure_name || S.procNames[t.procedure_code] || t.procedure_code;
      if (!S.procNames[t.procedure_code] && !t.procedure_name) fetchProc(t.procedure_code);
    }
    $("t-proc").textContent = proc;
    tick();
  }

  function fetchProc(code) {
    S.procNames[code] = null;
    C.api(S.session.token, "GET", "/procedures/" + encodeURIComponent(code)).then(function (r) {
      S.procNames[code] = r.data.name;
      renderTicket();
    }).catch(function () { delete S.procNames[code]; });
  }

  function tick() {
    var t = S.ticket, now = serverNow();
    $("t-wait").textContent = t ? C.mmss(((t.called_at ? Date.parse(t.called_at) : now) -
                                           Date.parse(t.wait_from)) / 1000) : "—";
    $("t-serve").textContent = t && t.called_at ? C.mmss((now - Date.parse(t.called_at)) / 1000)
                                                : "—";
    document.querySelectorAll("[data-longest]").forEach(function (el) {
      var base = parseInt(el.getAttribute("data-longest"), 10);
      el.textContent = base > 0 ? C.mmss(base + (Date.now() - S.queuesAt) / 1000) : "—";
    });
  }

  function renderQueues() {
    var body = $("queues");
    body.innerHTML = "";
    S.teamOrder.forEach(function (id) {
      var t = S.teams[id];
      if (!t) return;
      var tr = document.createElement("tr");
      var prio = t.priority_waiting ? " (" + t.priority_waiting + " " +
                 T.t("prio").toLowerCase() + ")" : "";
      tr.innerHTML = "<td></td><td class='n'></td><td class='n'></td>";
      tr.children[0].textContent = teamName(t);  // the name says "Tổ …": no number before it
      tr.children[1].textContent = t.waiting + prio;
      tr.children[2].setAttribute("data-longest", t.waiting ? t.longest_wait_s : 0);
      tr.setAttribute("data-team", id);
      body.appendChild(tr);
    });
    tick();
  }

  function renderToday() {
    var d = S.today;
    if (!d) return;
    $("d-served").textContent = d.served;
    $("d-service").textContent = d.avg_service_s === null ? "—" : C.mmss(d.avg_service_s);
    $("d-wait").textContent = d.avg_wait_s === null ? "—" : C.mmss(d.avg_wait_s);
    $("d-noshow").textContent = d.no_show;
    $("d-ratings").textContent = d.rated ? d.rating_avg.toFixed(2) + " / 4 (" + d.rated + ") · " +
      [4, 3, 2, 1].map(function (s) { return s + "★ " + d.ratings[s]; }).join(" ") : "—";
  }

  function renderDevices() {
    var list = $("devices"), keys = Object.keys(S.devices).sort();
    list.innerHTML = "";
    keys.forEach(function (k) {
      var d = S.devices[k], li = document.createElement("li");
      li.className = d.online ? "ok" : "bad";
      li.textContent = d.part + " — " + T.t(d.online ? "dev_on" : "dev_off") +
                       (d.detail && !d.online ? " (" + d.detail + ")" : "");
      list.appendChild(li);
    });
    $("devices-card").hidden = !keys.length;
  }

  function renderAll() {
    T.apply();
    var st = $("counter-status");
    st.textContent = T.t("st_" + S.status) + (S.status === "paused" && S.reason ? ": " + S.reason : "");
    st.className = "pill status-" + S.status;
    renderTicket();
    renderQueues();
    renderButtons();
    renderToday();
    renderDevices();
    renderConn();
    stats.renders += 1;
    stats.lastRender = performance.now();
  }

  setInterval(tick, 1000);
  T.apply();
  var saved = loadSession();
  if (saved && saved.token) start(saved); else showSignin();
})();
