/* QMSLive: the one realtime client for every page (display board, counter console,
 * manager dashboard).
 *
 * It loads a snapshot (GET /api/v1/state), connects to Socket.IO with the token, and hands
 * events to `onEvent` strictly in `seq` order. After a reconnect, or when an event arrives
 * with a gap in `seq`, it first catches up through GET /api/v1/events?since=<seq> and only
 * then delivers anything new, so a page never shows a later state before an earlier one.
 * If catching up is impossible (too far behind), it reloads the snapshot.
 *
 * A push can also be lost without a gap to show it (the last one before a quiet spell, or
 * every push from another server process while the message queue is down): after
 * `idlePollMs` (default 5 s, jittered up to +40 %) without any event, it asks
 * GET /api/v1/events?since=<seq> itself, so a lost push is a delay of seconds, never a
 * stale board. 20 boards and 23 consoles polling every 5-7 s cost the server ~8 cheap reads
 * a second, and only while the hall is quiet.
 *
 *   const live = new QMSLive({token, onSnapshot, onEvent, onStatus});
 *   live.start();
 *
 * `site` (optional): the site to follow; by default the token's own site (the server refuses
 * rooms of a site the token may not follow, see docs/security.md). Events are the staff view:
 * the server never pushes the commands' idempotency keys.
 */
(function (global) {
  "use strict";

  function QMSLive(opts) {
    this.token = opts.token;
    this.site = opts.site || null;  // null: the token's own site (learnt from the snapshot)
    this.base = opts.base || "";
    this.onSnapshot = opts.onSnapshot || function () {};
    this.onEvent = opts.onEvent || function () {};
    this.onStatus = opts.onStatus || function () {};
    this.seq = null;
    this.pending = [];
    this.catchingUp = false;
    this.socket = null;
    this.idlePollMs = opts.idlePollMs === undefined ? 5000 : opts.idlePollMs;  // 0: never
    this.idleTimer = null;
    this.stats = { events: 0, catchups: 0, snapshots: 0, reconnects: 0, polls: 0 };
  }

  QMSLive.prototype.api = function (path) {
    var headers = { "Accept": "application/json" };
    if (this.token) headers["Authorization"] = "Bearer " + this.token;
    return fetch(this.base + "/api/v1" + path, { headers: headers, cache: "no-store" })
      .then(function (res) {
        if (!res.ok) {
          var err = new Error("HTTP " + res.status);
          err.status = res.status;
          throw err;
        }
        return res.json();
      });
  };

  QMSLive.prototype.loadSnapshot = function () {
    var self = this;
    var query = this.site ? "?site=" + encodeURIComponent(this.site) : "";
    return this.api("/state" + query).then(function (state) {
      if (!self.site) self.site = state.site;
      self.seq = state.seq;
      self.stats.snapshots += 1;
      self.onSnapshot(state);
      return state;
    });
  };

  QMSLive.prototype.start = function () {
    var self = this;
    this.socket = global.io(this.base || undefined, {
      auth: this.site ? { token: this.token, rooms: ["site:" + this.site] } : { token: this.token },
      transports: ["websocket"],
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    this.socket.on("connect", function () {
      self.onStatus("online");
      if (self.seq === null) {
        self.catchingUp = true;
        self.loadSnapshot().then(function () { self.catchingUp = false; self.drain(); },
                                 function () { self.catchingUp = false; self.retryLater(); });
      } else {
        self.stats.reconnects += 1;
        self.catchUp();
      }
    });
    this.socket.on("disconnect", function () { self.onStatus("offline"); });
    this.socket.on("connect_error", function (err) {
      // the server refuses with ConnectionRefusedError({"code": "unauthorized"}): python-socketio
      // sends it as the message text "{'code': 'unauthorized'}", so match the code anywhere
      var why = err ? String(err.message || "") + " " + JSON.stringify(err.data || "") : "";
      self.onStatus(/unauthorized|forbidden_room/.test(why) ? "unauthorized" : "offline");
    });
    this.socket.on("event", function (evt) { self.receive(evt); });
    this.armIdlePoll();
    return this;
  };

  QMSLive.prototype.armIdlePoll = function () {
    var self = this;
    if (!this.idlePollMs) return;
    clearTimeout(this.idleTimer);
    // jittered: boards that went quiet together do not all ask at the same moment
    this.idleTimer = setTimeout(function () { self.idlePoll(); },
                                this.idlePollMs * (1 + Math.random() * 0.4));
  };

  QMSLive.prototype.idlePoll = function () {
    if (this.seq !== null && !this.catchingUp) {
      this.stats.polls += 1;
      this.catchUp(true);
    }
    this.armIdlePoll();
  };

  QMSLive.prototype.receive = function (evt) {
    if (evt.site && this.site && evt.site !== this.site) return;
    this.armIdlePoll();  // the stream is alive: no need to ask
    this.pending.push(evt);
    this.drain();
  };

  QMSLive.prototype.drain = function () {
    if (this.catchingUp || this.seq === null) return;
    this.pending.sort(function (a, b) { return a.seq - b.seq; });
    while (this.pending.length) {
      var evt = this.pending[0];
      if (evt.seq <= this.seq) { this.pending.shift(); continue; }
      if (evt.seq > this.seq + 1) { this.catchUp(); return; }
      this.pending.shift();
      this.apply(evt);
    }
  };

  QMSLive.prototype.apply = function (evt) {
    this.seq = evt.seq;
    this.stats.events += 1;
    try { this.onEvent(evt); } catch (e) { if (global.console) console.error(e); }
  };

  QMSLive.prototype.catchUp = function (poll) {
    // poll: an idle check; if it fails the next idle check tries again (no retry loop)
    var self = this;
    if (this.catchingUp) return;
    this.catchingUp = true;
    if (!poll) this.stats.catchups += 1;
    var fetchPage = function () {
      return self.api("/events?site=" + encodeURIComponent(self.site) + "&since=" + self.seq +
                      "&limit=1000").then(function (page) {
        page.items.forEach(function (evt) { if (evt.seq === self.seq + 1) self.apply(evt); });
        if (page.more) return fetchPage();
        if (page.seq < self.seq) return self.loadSnapshot(); // database was reset
        return null;
      });
    };
    fetchPage().then(function () { self.catchingUp = false; self.drain(); },
                     function () { self.catchingUp = false; if (!poll) self.retryLater(); });
  };

  QMSLive.prototype.retryLater = function () {
    var self = this;
    setTimeout(function () {
      if (self.seq === null) self.loadSnapshot().then(function () { self.drain(); },
                                                      function () { self.retryLater(); });
      else self.catchUp();
    }, 1000);
  };

  global.QMSLive = QMSLive;
})(window);
