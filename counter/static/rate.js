/* Citizen rating screen for a counter without a rating pad: four faces for 30 s after a
 * ticket is finished at this counter; a low score asks for a reason.
 * The counter's officer switches the screen on with their name and password, which buy a
 * rating token (POST /counters/<n>/rating-token): it can rate the ticket just finished at
 * this counter and follow the queue, nothing else. The officer's session never reaches this
 * citizen-facing screen, and the officer's own session cannot rate. */
(function () {
  "use strict";
  var C = window.QMSCounter;
  var counter = parseInt(document.body.getAttribute("data-counter"), 10);
  var STORE = "qms.rate." + counter;
  var SHOW_S = 30, WHY_S = 20, THANKS_MS = 4000;
  var $ = function (id) { return document.getElementById(id); };
  var S = { token: null, live: null, ticket: null, until: 0, score: null, offsetMs: 0,
            timer: null, sending: false };
  window.qmsRate = { state: S };

  function screen(name) {
    ["signin", "idle", "ask", "why", "thanks"].forEach(function (s) { $(s).hidden = s !== name; });
    S.screen = name;
  }

  function signin(message) {
    screen("signin");
    $("signin-error").textContent = message || "";
  }

  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    C.api(null, "POST", "/counters/" + counter + "/rating-token",
          { username: $("username").value.trim(), password: $("password").value })
      .then(function (r) {
        sessionStorage.setItem(STORE, r.data.token);
        $("password").value = "";
        start(r.data.token);
      }, function (err) { $("signin-error").textContent = err.message; });
  });

  function start(token) {
    S.token = token;
    screen("idle");
    S.live = new window.QMSLive({
      token: token,
      onSnapshot: function (state) { S.offsetMs = Date.parse(state.at) - Date.now(); },
      onEvent: onEvent,
      onStatus: function (status) {
        $("banner").hidden = status !== "offline";
        if (status === "unauthorized") {
          sessionStorage.removeItem(STORE);
          if (S.live.socket) S.live.socket.disconnect();
          signin("Phiên đăng nhập đã hết · Session ended");
        }
      }
    });
    S.live.start();
  }

  function onEvent(evt) {
    if (evt.counter !== counter || evt.type !== "ticket.finished") return;
    var age = (Date.now() + S.offsetMs - Date.parse(evt.at)) / 1000;
    if (age > SHOW_S) return; // caught up late: the citizen has gone
    ask(evt.ticket, SHOW_S - Math.max(0, age));
  }

  function ask(ticket, seconds) {
    S.ticket = ticket;
    S.score = null;
    S.until = Date.now() + seconds * 1000;
    $("ask-number").textContent = ticket.number;
    screen("ask");
    countdown();
  }

  function countdown() {
    clearTimeout(S.timer);
    var left = Math.ceil((S.until - Date.now()) / 1000);
    if (left <= 0) { S.ticket = null; screen("idle"); return; }
    $("ask-left").textContent = left;
    S.timer = setTimeout(countdown, 250);
  }

  document.querySelectorAll(".face").forEach(function (b) {
    b.addEventListener("click", function () {
      if (!S.ticket) return;
      S.score = parseInt(b.getAttribute("data-score"), 10);
      if (S.score <= 2) {
        S.until = Math.max(S.until, Date.now() + WHY_S * 1000);
        clearTimeout(S.timer);
        S.timer = setTimeout(function () { send(""); }, WHY_S * 1000);
        screen("why");
      } else {
        send("");
      }
    });
  });
  document.querySelectorAll(".reason").forEach(function (b) {
    b.addEventListener("click", function () { send(b.getAttribute("data-reason")); });
  });

  function send(reason) {
    if (!S.ticket || S.sending) return;
    var ticket = S.ticket, score = S.score;
    clearTimeout(S.timer);
    S.ticket = null;
    S.sending = true;
    screen("thanks");
    C.command(S.token, "/tickets/" + ticket.id + "/rating", { score: score, reason: reason })
      .catch(function () { /* already rated or gone: nothing the citizen can do */ })
      .then(function () { S.sending = false; });
    S.timer = setTimeout(function () { if (!S.ticket) screen("idle"); }, THANKS_MS);
  }

  var saved = sessionStorage.getItem(STORE);
  if (saved && saved.indexOf("r_") !== 0) { // an officer's session from an older page
    sessionStorage.removeItem(STORE);
    saved = null;
  }
  if (saved) start(saved); else signin();
})();
