/* Shared by the counter console and the rating screen: bilingual text, sign-in, and
 * commands that are never lost nor done twice (one Idempotency-Key per click, reused on
 * every retry). */
(function (global) {
  "use strict";

  function newKey() {
    var b = new Uint8Array(16);
    (global.crypto || global.msCrypto).getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); })
      .join("");
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  /* fetch JSON with the bearer token; rejects with {status, code, message, network}. */
  function api(token, method, path, body, headers) {
    var h = Object.assign({ "Accept": "application/json" }, headers || {});
    if (token) h["Authorization"] = "Bearer " + token;
    var init = { method: method, headers: h, cache: "no-store" };
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("/api/v1" + path, init).then(function (res) {
      if (res.status === 204) return { status: 204, data: null };
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.ok) return { status: res.status, data: data };
        var err = (data && data.error) || {};
        throw { status: res.status, code: err.code || "http_" + res.status,
                message: err.message || ("HTTP " + res.status) };
      });
    }, function () {
      throw { status: 0, code: "network", message: "network", network: true };
    });
  }

  var RETRY_MS = [250, 500, 1000, 2000, 2000, 3000, 3000, 4000, 5000, 5000, 5000, 5000];

  /* A command: the same Idempotency-Key on every retry, retried on network errors and
   * 5xx answers; onRetry(attempt) lets the page say it is still trying. */
  function command(token, path, body, onRetry) {
    var key = newKey();
    var attempt = 0;
    function go() {
      return api(token, "POST", path, body || {}, { "Idempotency-Key": key })
        .catch(function (err) {
          var transient = err.network || err.status >= 500 || err.status === 429;
          if (!transient || attempt >= RETRY_MS.length) throw err;
          var wait = RETRY_MS[attempt++];
          if (onRetry) onRetry(attempt, err);
          return sleep(wait).then(go);
        });
    }
    var p = go();
    p.key = key;
    return p;
  }

  /* Bilingual text: elements with data-t="key" get the text of the current language;
   * Vietnamese is the default, English the second language. */
  function I18n(dict, storageKey) {
    this.dict = dict;
    this.storageKey = storageKey;
    this.lang = (global.localStorage && localStorage.getItem(storageKey)) || "vi";
  }
  I18n.prototype.t = function (key, vars) {
    var entry = this.dict[key];
    var s = entry ? (entry[this.lang] || entry.vi) : key;
    if (vars) Object.keys(vars).forEach(function (k) { s = s.split("{" + k + "}").join(vars[k]); });
    return s;
  };
  I18n.prototype.other = function (key) {
    var entry = this.dict[key];
    return entry ? entry[this.lang === "vi" ? "en" : "vi"] : "";
  };
  I18n.prototype.apply = function (root) {
    var self = this;
    document.documentElement.lang = this.lang;
    (root || document).querySelectorAll("[data-t]").forEach(function (el) {
      el.textContent = self.t(el.getAttribute("data-t"));
      var other = self.other(el.getAttribute("data-t"));
      if (other) el.title = other;
    });
    (root || document).querySelectorAll("[data-t-ph]").forEach(function (el) {
      el.placeholder = self.t(el.getAttribute("data-t-ph"));
    });
  };
  I18n.prototype.toggle = function () {
    this.lang = this.lang === "vi" ? "en" : "vi";
    if (global.localStorage) localStorage.setItem(this.storageKey, this.lang);
    this.apply();
  };

  /* The server's messages read "Vietnamese (English)": pick the current language's half. */
  function pickLang(message, lang) {
    var m = /^(.*)\(([^()]*)\)\s*$/.exec(message || "");
    if (!m) return message;
    return lang === "en" ? m[2].trim() : m[1].trim();
  }

  function mmss(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    var two = function (x) { return (x < 10 ? "0" : "") + x; };
    return (h ? h + ":" + two(m) : m) + ":" + two(s);
  }

  global.QMSCounter = { newKey: newKey, api: api, command: command, I18n: I18n,
                        pickLang: pickLang, mmss: mmss, sleep: sleep };
})(window);
