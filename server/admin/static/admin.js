/* Admin page: configuration, catalogue, users and devices. Changes apply live; the page
 * reloads its data when a config.changed event arrives (QMSLive). */
(function () {
  "use strict";
  var KEY = "qms.admin.token";
  var token = sessionStorage.getItem(KEY);
  var cfg = null;
  var $ = function (id) { return document.getElementById(id); };
  var DAYS = [["mon", "Thứ Hai"], ["tue", "Thứ Ba"], ["wed", "Thứ Tư"], ["thu", "Thứ Năm"],
              ["fri", "Thứ Sáu"], ["sat", "Thứ Bảy"], ["sun", "Chủ Nhật"]];

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function say(text, bad) { var m = $("msg"); m.textContent = text; m.classList.toggle("offline", !!bad); }
  function nums(text) {
    var out = [];
    String(text || "").split(",").forEach(function (part) {
      var r = part.trim().split("-").map(Number);
      if (!part.trim()) return;
      if (r.length === 2) { for (var i = r[0]; i <= r[1]; i++) out.push(i); } else out.push(r[0]);
    });
    return out;
  }
  function api(path, method, body, raw) {
    var opts = { method: method || "GET", headers: { "Authorization": "Bearer " + token } };
    if (body !== undefined && !raw) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    if (raw) opts.body = body;
    return fetch("/api/v1" + path, opts).then(function (res) {
      return res.json().then(function (b) {
        if (!res.ok) { var e = new Error((b.error && b.error.message) || res.status); say(e.message, true); throw e; }
        return b;
      });
    });
  }
  // a refused change is shown by api() (Vietnamese first); nothing is left uncaught
  function shown(p) { return p.catch(function (e) { if (e && e.message === "Failed to fetch") say("Mất kết nối (offline)", true); }); }
  function saved(what) { say("Đã lưu: " + what + " (saved)"); }
  function teamName(id) {
    var t = cfg && cfg.teams.filter(function (x) { return x.id === id; })[0];
    return t ? t.name : "Tổ " + id;
  }
  // "30/11/2026 lúc 16:29" in the centre's time zone
  function viTime(at) {
    var tz = (cfg && cfg.timezone) || "Asia/Ho_Chi_Minh", p = {};
    try {
      new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hour12: false }).formatToParts(new Date(at))
        .forEach(function (x) { p[x.type] = x.value; });
    } catch (e) { return esc(at); }
    return p.day + "/" + p.month + "/" + p.year + " lúc " + p.hour + ":" + p.minute;
  }
  function putConfig(changes, what) {
    return shown(api("/admin/config", "PUT", changes).then(function (c) { cfg = c; render(); saved(what); }));
  }

  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: f.username.value, password: f.password.value }) })
      .then(function (r) { return r.json().then(function (b) { return [r, b]; }); })
      .then(function (rb) {
        if (!rb[0].ok) throw new Error(rb[1].error.message);
        if (rb[1].user.role !== "admin") throw new Error("Chỉ quản trị viên (admins only)");
        token = rb[1].token; sessionStorage.setItem(KEY, token); boot();
      }).catch(function (e) { $("signin-error").textContent = e.message; });
  });

  function boot() {
    api("/auth/me").then(function (me) {
      if (me.role !== "admin") { sessionStorage.removeItem(KEY); location.reload(); return; }
      $("who").textContent = me.name; $("signin").hidden = true; $("app").hidden = false;
      loadAll();
      new QMSLive({ token: token, onEvent: function (e) {
        if (e.type === "config.changed") loadAll();
      }, onStatus: function (s) { if (s !== "online") say("Mất kết nối (offline)", true); } }).start();
    }).catch(function () { $("signin").hidden = false; });
  }

  function loadAll() {
    return shown(Promise.all([api("/admin/config").then(function (c) { cfg = c; render(); }),
      loadUsers(), loadDevices(), loadAudit(), loadFields(), searchProcs()])
      .then(function () { document.body.dataset.loaded = "1"; if ($("msg").textContent === "…") say("Sẵn sàng (ready)"); }));
  }

  function render() {
    var g = $("general");
    ["name", "target_wait_min", "notice", "announcement_vi", "announcement_en", "announce_repeat"].forEach(function (k) { g[k].value = cfg[k]; });
    g.enforce_hours.checked = cfg.enforce_hours;
    $("hours").innerHTML = DAYS.map(function (d) {
      var spans = (cfg.hours[d[0]] || []).map(function (s) { return s[0] + "-" + s[1]; }).join(", ");
      return '<label>' + d[1] + '<input name="' + d[0] + '" value="' + esc(spans) + '"></label>';
    }).join("") + '<button type="submit">Lưu <small>Save</small></button>';
    var p = $("priority");
    p.policy.value = cfg.priority.policy; p.ratio.value = cfg.priority.ratio; p.bonus_s.value = cfg.priority.bonus_s;
    $("teams").innerHTML = "<thead><tr><th>Mã</th><th>Tên tổ <small>Name</small></th><th>Số từ</th><th>đến</th><th>Mục tiêu (phút)</th><th>Lĩnh vực <small>Fields</small></th></tr></thead><tbody>" +
      cfg.teams.map(teamRow).join("") + "</tbody>";
    $("counters").innerHTML = "<thead><tr><th>Quầy</th><th>Tên</th><th>Tổ phục vụ, theo thứ tự <small>Teams in order</small></th></tr></thead><tbody>" +
      cfg.counters.map(counterRow).join("") + "</tbody>";
    wireTeamPicks($("counters"));
    document.querySelectorAll(".team-select").forEach(function (s) {
      s.innerHTML = cfg.teams.map(function (t) { return '<option value="' + t.id + '">' + esc(t.name) + "</option>"; }).join("");
    });
  }
  function teamRow(t) {
    return '<tr><td><input name="id" type="number" value="' + t.id + '"></td><td><input name="name" value="' + esc(t.name) +
      '"></td><td><input name="b0" type="number" value="' + t.band[0] + '"></td><td><input name="b1" type="number" value="' + t.band[1] +
      '"></td><td><input name="target" type="number" value="' + (t.target_wait_min || "") + '"></td><td class="fields"><input name="fields" value="' +
      esc((t.fields || []).join("; ")) + '"></td></tr>';
  }
  // a team chosen by its name (one select per team served, in the counter's order)
  function teamPick(id) {
    var known = cfg.teams.some(function (t) { return t.id === id; });
    return '<select class="team-pick"><option value="">(bỏ tổ này · remove)</option>' +
      cfg.teams.map(function (t) {
        return '<option value="' + t.id + '"' + (t.id === id ? " selected" : "") + ">" + esc(t.name) + "</option>";
      }).join("") + (id && !known ? '<option value="' + id + '" selected>Tổ ' + id + " (không còn · gone)</option>" : "") + "</select>";
  }
  function counterRow(c) {
    return '<tr><td><input name="number" type="number" value="' + c.number + '"></td><td><input name="name" value="' + esc(c.name) +
      '"></td><td class="team-picks">' + c.teams.map(teamPick).join("") +
      '<button type="button" class="pick-add" title="Thêm tổ (add a team)">+ Tổ</button></td></tr>';
  }
  function wireTeamPicks(table) {
    table.querySelectorAll(".pick-add").forEach(function (b) {
      if (b.dataset.wired) return;
      b.dataset.wired = "1";
      b.addEventListener("click", function () { b.insertAdjacentHTML("beforebegin", teamPick(null)); });
    });
  }

  $("general").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var g = ev.target;
    putConfig({ name: g.name.value, target_wait_min: Number(g.target_wait_min.value), notice: g.notice.value,
      announcement_vi: g.announcement_vi.value, announcement_en: g.announcement_en.value,
      announce_repeat: Number(g.announce_repeat.value), enforce_hours: g.enforce_hours.checked }, "thông tin chung");
  });
  $("hours").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var hours = {};
    DAYS.forEach(function (d) {
      var v = ev.target[d[0]].value.trim();
      if (v) hours[d[0]] = v.split(",").map(function (s) { return s.trim().split("-").map(function (x) { return x.trim(); }); });
    });
    putConfig({ hours: hours }, "giờ làm việc");
  });
  $("priority").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = ev.target;
    putConfig({ priority: { policy: p.policy.value, ratio: Number(p.ratio.value), bonus_s: Number(p.bonus_s.value) } }, "chính sách ưu tiên");
  });
  $("team-add").addEventListener("click", function () {
    var id = Math.max.apply(null, cfg.teams.map(function (t) { return t.id; }).concat([0])) + 1;
    $("teams").tBodies[0].insertAdjacentHTML("beforeend", teamRow({ id: id, name: "Tổ mới", band: [id * 1000 + 1, id * 1000 + 999], fields: [] }));
  });
  $("teams-save").addEventListener("click", function () {
    var teams = Array.prototype.map.call($("teams").tBodies[0].rows, function (r) {
      var v = function (n) { return r.querySelector('[name="' + n + '"]').value; };
      var t = { id: Number(v("id")), name: v("name"), band: [Number(v("b0")), Number(v("b1"))],
        fields: v("fields").split(";").map(function (s) { return s.trim(); }).filter(Boolean) };
      if (v("target")) t.target_wait_min = Number(v("target"));
      var old = cfg.teams.filter(function (x) { return x.id === t.id; })[0];
      if (old && old.name_en) t.name_en = old.name_en;
      if (old && old.site) t.site = old.site;
      return t;
    });
    putConfig({ teams: teams }, "tổ");
  });
  $("counter-add").addEventListener("click", function () {
    var n = Math.max.apply(null, cfg.counters.map(function (c) { return c.number; }).concat([0])) + 1;
    $("counters").tBodies[0].insertAdjacentHTML("beforeend", counterRow({ number: n, name: "Quầy " + n, teams: [cfg.teams[0].id] }));
    wireTeamPicks($("counters"));
  });
  $("counters-save").addEventListener("click", function () {
    var counters = Array.prototype.map.call($("counters").tBodies[0].rows, function (r) {
      var v = function (n) { return r.querySelector('[name="' + n + '"]').value; };
      var teams = [];
      r.querySelectorAll(".team-pick").forEach(function (s) {
        var id = Number(s.value);
        if (s.value && teams.indexOf(id) < 0) teams.push(id);
      });
      return { number: Number(v("number")), name: v("name"), teams: teams };
    });
    putConfig({ counters: counters }, "quầy");
  });

  // -- catalogue --------------------------------------------------------------------------
  function loadFields() {
    return api("/procedures/fields").then(function (d) {
      $("route-field").innerHTML = d.items.map(function (f) {
        return '<option value="' + esc(f.field) + '">' + esc(f.field || "(trống)") + " (" + f.count + ")</option>";
      }).join("");
    });
  }
  function searchProcs() {
    var qv = $("proc-search").q.value;
    return api("/procedures?limit=15&q=" + encodeURIComponent(qv)).then(function (d) {
      var opts = cfg ? cfg.teams.map(function (t) { return '<option value="' + t.id + '">' + esc(t.name) + "</option>"; }).join("") : "";
      $("procs").innerHTML = "<thead><tr><th>Thủ tục <small>Procedure</small> (" + d.total + ")</th><th>Mã</th><th>Lĩnh vực</th><th>Tổ</th></tr></thead><tbody>" +
        d.items.map(function (p) {
          return '<tr data-code="' + esc(p.code) + '"><td>' + esc(p.name) + "</td><td>" + esc(p.code) + "</td><td>" + esc(p.field) +
            '</td><td><select class="proc-team">' + opts.replace('value="' + p.team_id + '"', 'value="' + p.team_id + '" selected') + "</select></td></tr>";
        }).join("") + "</tbody>";
      document.querySelectorAll(".proc-team").forEach(function (s) {
        s.addEventListener("change", function () {
          var code = s.closest("tr").dataset.code;
          shown(api("/admin/procedures/" + encodeURIComponent(code), "PATCH", { team_id: Number(s.value) }).then(function () { saved(code); }));
        });
      });
    });
  }
  $("proc-search").addEventListener("submit", function (ev) { ev.preventDefault(); searchProcs(); });
  $("route").addEventListener("submit", function (ev) {
    ev.preventDefault();
    shown(api("/admin/procedures/route", "POST", { field: ev.target.field.value, team_id: Number(ev.target.team_id.value) })
      .then(function (r) { saved(r.count + " thủ tục → " + teamName(r.team_id)); }));
  });
  $("import").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var fd = new FormData(ev.target);
    shown(api("/admin/procedures/import", "POST", fd, true).then(function (job) {
      var poll = function () {
        shown(api("/admin/imports/" + job.job).then(function (s) {
          $("import-progress").value = s.total ? Math.round(100 * s.done / s.total) : 0;
          if (s.state === "running") { setTimeout(poll, 200); return; }
          $("import-msg").textContent = s.state === "done" ? "Đã nhập " + s.count + " thủ tục (imported)" : "Lỗi: " + s.error;
          if (s.state === "done") { $("import-progress").value = 100; shown(loadFields()); shown(searchProcs()); shown(loadAudit()); }
        }));
      };
      poll();
    }));
  });

  // -- users, devices, audit --------------------------------------------------------------
  function loadUsers() {
    return api("/admin/users").then(function (d) {
      $("users").innerHTML = "<thead><tr><th>Tên đăng nhập</th><th>Họ tên</th><th>Vai trò</th><th>Quầy</th><th>Trạng thái</th><th></th></tr></thead><tbody>" +
        d.items.map(function (u) {
          return '<tr data-user="' + esc(u.username) + '"><td>' + esc(u.username) + "</td><td>" + esc(u.full_name) + "</td><td>" + u.role +
            "</td><td>" + u.counters.join(", ") + "</td><td>" + (u.active ? "Hoạt động" : "Đã khóa") +
            '</td><td><button class="u-toggle">' + (u.active ? "Khóa" : "Mở khóa") + '</button> <button class="u-pw">Đặt lại mật khẩu</button></td></tr>';
        }).join("") + "</tbody>";
      document.querySelectorAll(".u-toggle").forEach(function (b) {
        b.addEventListener("click", function () {
          var name = b.closest("tr").dataset.user;
          shown(api("/admin/users/" + name, "PATCH", { active: b.textContent !== "Khóa" }).then(function () { saved(name); return loadUsers(); }));
        });
      });
      document.querySelectorAll(".u-pw").forEach(function (b) {
        b.addEventListener("click", function () {
          var name = b.closest("tr").dataset.user, pw = prompt("Mật khẩu mới cho " + name);
          if (pw) shown(api("/admin/users/" + name, "PATCH", { password: pw }).then(function () { saved(name); }));
        });
      });
    });
  }
  $("user-add").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    shown(api("/admin/users", "POST", { username: f.username.value, full_name: f.full_name.value, role: f.role.value,
      counters: nums(f.counters.value), password: f.password.value }).then(function () { f.reset(); saved("người dùng"); return loadUsers(); }));
  });
  function loadDevices() {
    return api("/admin/devices").then(function (d) {
      $("devices-table").innerHTML = "<thead><tr><th>Thiết bị</th><th>Loại</th><th>Quầy</th><th>Trạng thái</th><th></th></tr></thead><tbody>" +
        d.items.map(function (x) {
          return '<tr data-device="' + esc(x.name) + '"><td>' + esc(x.name) + "</td><td>" + x.kind + "</td><td>" + x.counters.join(", ") +
            "</td><td>" + (x.active ? "Đang dùng" : "Đã thu hồi") + "</td><td>" + (x.active ? '<button class="d-revoke">Thu hồi mã <small>Revoke</small></button>' : "") + "</td></tr>";
        }).join("") + "</tbody>";
      document.querySelectorAll(".d-revoke").forEach(function (b) {
        b.addEventListener("click", function () {
          var name = b.closest("tr").dataset.device;
          shown(api("/admin/devices/" + encodeURIComponent(name) + "/revoke", "POST").then(function () { saved(name); return loadDevices(); }));
        });
      });
    });
  }
  $("device-add").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    shown(api("/admin/devices", "POST", { name: f.name.value, kind: f.kind.value, counters: nums(f.counters.value) }).then(function (d) {
      $("new-token").textContent = "Mã của " + d.name + " (chỉ hiện một lần / shown once): " + d.token;
      f.reset(); return loadDevices();
    }));
  });
  function loadAudit() {
    return api("/admin/audit?limit=30").then(function (d) {
      $("audit").innerHTML = "<thead><tr><th>Thời gian</th><th>Người thực hiện</th><th>Thao tác</th><th>Thay đổi <small>cũ → mới (old → new)</small></th></tr></thead><tbody>" +
        d.items.map(function (a) {
          var s = a.summary || { title: a.action, changes: [] };
          var lines = s.changes.map(function (c) {
            if (!c.old && !c.new) return "<li>" + esc(c.what) + "</li>";
            if (!c.old) return "<li>" + esc(c.what) + ": " + esc(c.new) + "</li>";
            return '<li>' + esc(c.what) + ': <span class="old">' + esc(c.old) + '</span> → <span class="new">' + esc(c.new) + "</span></li>";
          }).join("");
          return '<tr data-action="' + esc(a.action) + '"><td>' + viTime(a.at) + "</td><td>" + esc(a.actor) + "</td><td>" +
            esc(s.title) + ' <small>' + esc(a.action) + "</small></td><td><ul class=\"changes\">" + lines + "</ul></td></tr>";
        }).join("") + "</tbody>";
    });
  }

  if (token) boot(); else $("signin").hidden = false;
})();
