/* Manager page: live dashboard (pushed through QMSLive) and reports (Chart.js, exports). */
(function () {
  "use strict";
  var KEY = "qms.manager.token";
  var token = sessionStorage.getItem(KEY);
  var $ = function (id) { return document.getElementById(id); };
  var charts = {};
  var heat = null;
  var refreshTimer = null;

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }
  function dur(s) {
    if (s === null || s === undefined) return "–";
    s = Math.round(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(sec).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }
  function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%"; }
  // Vietnamese dates (issue #16): "30/11/2026", "tháng 11/2026", never raw ISO
  function viDay(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || "");
    return m ? m[3] + "/" + m[2] + "/" + m[1] : (iso || "");
  }
  function viMonth(ym) {
    var m = /^(\d{4})-(\d{2})$/.exec(ym || "");
    return m ? "tháng " + m[2] + "/" + m[1] : (ym || "");
  }
  // a long name on a chart's axis: whole words on up to 3 lines, never cut mid-name
  function wrapLabel(text, width) {
    var lines = [], line = "";
    String(text).split(" ").forEach(function (w) {
      if (line && (line + " " + w).length > width) { lines.push(line); line = w; }
      else line = line ? line + " " + w : w;
    });
    if (line) lines.push(line);
    if (lines.length > 3) lines = lines.slice(0, 2).concat([lines.slice(2).join(" ")]);
    return lines;
  }

  function api(path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({ "Authorization": "Bearer " + token }, opts.headers || {});
    return fetch("/api/v1" + path, opts).then(function (res) {
      if (res.status === 401) { signOut(); throw new Error("unauthorized"); }
      return res.json().then(function (body) {
        if (!res.ok) throw new Error((body.error && body.error.message) || res.status);
        return body;
      });
    });
  }

  function download(path) {
    return fetch("/api/v1" + path, { headers: { "Authorization": "Bearer " + token } })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        var cd = res.headers.get("Content-Disposition") || "";
        var m = /filename="([^"]+)"/.exec(cd);
        return res.blob().then(function (blob) {
          var a = document.createElement("a");
          a.href = URL.createObjectURL(blob);
          a.download = m ? m[1] : "report";
          document.body.appendChild(a);
          a.click();
          setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
        });
      });
  }

  // -- sign-in ----------------------------------------------------------------------------
  function signOut() { sessionStorage.removeItem(KEY); token = null; location.reload(); }

  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    fetch("/api/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: f.username.value, password: f.password.value })
    }).then(function (res) { return res.json().then(function (b) { return [res, b]; }); })
      .then(function (rb) {
        if (!rb[0].ok) throw new Error(rb[1].error.message);
        if (["manager", "admin"].indexOf(rb[1].user.role) < 0)
          throw new Error("Chỉ lãnh đạo/quản trị được xem báo cáo (managers only)");
        token = rb[1].token;
        sessionStorage.setItem(KEY, token);
        boot();
      }).catch(function (e) { $("signin-error").textContent = e.message; });
  });

  function boot() {
    api("/auth/me").then(function (me) {
      if (["manager", "admin"].indexOf(me.role) < 0) { signOut(); return; }
      $("who").textContent = me.name + " (" + me.role + ")";
      $("signin").hidden = true;
      $("app").hidden = false;
      $("tabs").hidden = false;
      startLive();
      initReports();
    }).catch(function () { $("signin").hidden = false; });
  }

  document.querySelectorAll("#tabs button").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll("#tabs button").forEach(function (x) {
        x.classList.toggle("on", x === b);
      });
      document.querySelectorAll(".tab").forEach(function (t) { t.hidden = t.id !== b.dataset.tab; });
    });
  });

  // -- live dashboard ---------------------------------------------------------------------
  function startLive() {
    var live = new QMSLive({
      token: token,
      onSnapshot: function () { refreshDashboard(); },
      onEvent: function () { scheduleRefresh(); },
      onStatus: function (s) {
        var el = $("live-status");
        el.textContent = s === "online" ? "Trực tuyến (live)" : "Mất kết nối (offline)";
        el.classList.toggle("offline", s !== "online");
      }
    });
    live.start();
    window.qmsLive = live;
    setInterval(refreshDashboard, 15000);
  }

  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refreshDashboard(); }, 100);
  }

  function refreshDashboard() {
    return api("/dashboard").then(renderDashboard);
  }

  function renderDashboard(d) {
    var cc = d.counter_counts, t = d.today || {};
    $("d-waiting").textContent = d.waiting_total;
    $("d-longest").textContent = dur(d.longest_wait_s);
    $("d-open").textContent = cc.open + " / " + cc.serving + " / " + cc.idle;
    $("d-paused").textContent = cc.paused + " / " + cc.closed;
    $("d-issued").textContent = (t.issued || 0) + " / " + (t.served || 0);
    $("d-within").textContent = pct(t.within_target);
    var alerts = d.alerts.map(function (a) {
      return '<li class="' + a.kind + '">' + esc(a.message) + "</li>";
    });
    $("alerts").innerHTML = alerts.join("") ||
      '<li class="ok">Không có cảnh báo <small>no alerts</small></li>';
    $("team-table").tBodies[0].innerHTML = d.teams.map(function (t) {
      var cls = (t.over_target ? "over " : "") + (t.no_counter_open && t.waiting ? "no-counter" : "");
      return '<tr data-team="' + t.id + '"' + (cls ? ' class="' + cls.trim() + '"' : "") + "><td>" +
        esc(t.name) + "</td><td class=\"waiting\">" + t.waiting + "</td><td>" +
        t.priority_waiting + "</td><td>" + dur(t.longest_wait_s) + "</td><td>" +
        dur(t.target_wait_s) + "</td><td>" + t.counters.join(", ") + ' <small class="open-n">(' +
        (t.counters_open || 0) + " mở · open)</small></td></tr>";
    }).join("");
    var labels = { open: "Mở", paused: "Tạm dừng", closed: "Đóng" };
    $("counter-grid").innerHTML = d.counters.map(function (c) {
      var state = c.status === "open" ? (c.ticket ? "serving" : "idle") : c.status;
      var what = c.ticket ? "Đang phục vụ số " + c.ticket.number :
        (state === "idle" ? "Rảnh (idle)" : labels[c.status] || c.status);
      return '<div class="counter ' + state + '" data-counter="' + c.number + '"><b>' +
        esc(c.name) + "</b><br>" + esc(what) + (c.reason ? " – " + esc(c.reason) : "") +
        "<br><small>" + esc(c.officer || "chưa có cán bộ") + "</small></div>";
    }).join("");
    $("devices").innerHTML = d.devices.map(function (x) {
      return '<li class="' + (x.online ? "on" : "off") + '">' + esc(x.device) + " – " +
        esc(x.part) + ": " + (x.online ? "hoạt động" : "mất kết nối") +
        (x.detail ? " (" + esc(x.detail) + ")" : "") + "</li>";
    }).join("") || "<li>Chưa có báo cáo thiết bị <small>no device reports</small></li>";
  }

  // -- reports ----------------------------------------------------------------------------
  function q(extra) {
    var p = new URLSearchParams({ from: $("r-from").value, to: $("r-to").value });
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return p.toString();
  }

  function initReports() {
    var today = new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 10);
    if (!$("r-from").value) { $("r-from").value = today; $("r-to").value = today; }
    if (!$("m-month").value) $("m-month").value = today.slice(0, 7);
    document.querySelectorAll(".exp").forEach(function (span) {
      span.innerHTML = '<button type="button" data-fmt="csv">CSV</button>' +
        '<button type="button" data-fmt="xlsx">XLSX</button> <small class="exp-status"></small>';
      span.querySelectorAll("button").forEach(function (b) {
        b.addEventListener("click", function () { exportReport(span.dataset.report, b.dataset.fmt, span); });
      });
    });
    $("report-form").addEventListener("submit", function (ev) { ev.preventDefault(); loadReports(); });
    $("r-print").addEventListener("click", function () { window.print(); });
    $("sat-by").addEventListener("change", loadSatisfaction);
    $("m-load").addEventListener("click", loadMonthly);
    document.querySelectorAll('input[name="hm"]').forEach(function (r) {
      r.addEventListener("change", renderHeat);
    });
  }

  // Exports are jobs (issue #14): POST creates one (202), the report worker writes the file
  // outside the serving process, the page shows its progress and downloads it when done.
  function exportReport(name, fmt, span) {
    var params;
    if (name === "monthly") params = { month: $("m-month").value };
    else {
      params = {};
      new URLSearchParams(q(name === "journeys" ? {} : {
        by: name === "satisfaction" ? $("sat-by").value : $("r-by").value
      })).forEach(function (v, k) { params[k] = v; });
    }
    params.report = name;
    params.format = fmt;
    var status = span && span.querySelector(".exp-status");
    var show = function (text) { if (status) status.textContent = text; };
    show("0 %");
    return api("/reports/exports", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(params)
    }).then(function (body) { return poll(body.job, show); })
      .then(function (job) { show(""); return download("/reports/exports/" + job.id + "/file"); })
      .catch(function (err) { show("Lỗi: " + err.message); });
  }

  function poll(job, show) {
    if (job.status === "done") return Promise.resolve(job);
    if (job.status === "failed")
      return Promise.reject(new Error((job.error && job.error.message) || "export failed"));
    show((job.progress || 0) + " %" + (job.rows ? " (" + job.rows + " dòng)" : ""));
    return new Promise(function (resolve) { setTimeout(resolve, 400); })
      .then(function () { return api("/reports/exports/" + job.id); })
      .then(function (body) { return poll(body.job, show); });
  }

  function groupTable(el, data, opts) {
    opts = opts || {};
    var head = "<thead><tr><th>Nhóm <small>Group</small></th><th>Lấy số</th><th>Đã gọi</th>" +
      "<th>Phục vụ</th><th>Vắng</th><th>Chuyển</th><th>Hủy</th><th>Chờ TB</th>" +
      "<th>Chờ trung vị</th><th>Chờ p90</th><th>Chờ max</th><th>Phục vụ TB</th>" +
      "<th>Phục vụ p90</th><th>Đúng hạn</th><th>Hài lòng</th></tr></thead>";
    var row = function (r, cls) {
      return '<tr class="' + (cls || "") + '" data-key="' + esc(r.key) + '"><td>' + esc(r.label || r.key) +
        "</td><td>" + r.issued + "</td><td>" + r.called + "</td><td>" + r.served + "</td><td>" +
        r.no_show + "</td><td>" + r.transferred + "</td><td>" + r.cancelled + "</td><td>" +
        dur(r.wait_s.mean) + "</td><td>" + dur(r.wait_s.p50) + "</td><td>" + dur(r.wait_s.p90) +
        "</td><td>" + dur(r.wait_s.max) + "</td><td>" + dur(r.service_s.mean) + "</td><td>" +
        dur(r.service_s.p90) + "</td><td>" + pct(r.within_target) + "</td><td>" +
        pct(r.satisfied_share) + "</td></tr>";
    };
    var body = data.rows.map(function (r) { return row(r); }).join("");
    if (data.total && !opts.noTotal) body += row(Object.assign({ label: "Tổng cộng (total)", key: "all" }, data.total), "total");
    el.innerHTML = head + "<tbody>" + body + "</tbody>";
  }

  function chart(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart($(id), config);
  }

  function loadReports() {
    $("r-note").textContent = "Đang tải… (loading)";
    var by = $("r-by").value;
    var oneDay = $("r-from").value === $("r-to").value;
    $("print-title").textContent = oneDay ? "Báo cáo ngày " + viDay($("r-from").value) :
      "Báo cáo từ " + viDay($("r-from").value) + " đến " + viDay($("r-to").value);
    return Promise.all([
      api("/reports/summary?" + q({ by: by })).then(function (d) {
        groupTable($("summary-table"), d);
        $("def-target").textContent = Math.round(d.target_wait_s / 60);
        var rows = d.rows.slice(0, 40);
        chart("chart-bars", { type: "bar", data: {
          labels: rows.map(function (r) { return wrapLabel(r.label || r.key, 24); }),
          datasets: [
            { label: "Chờ TB (phút) / mean wait", data: rows.map(function (r) { return r.wait_s.mean === null ? null : r.wait_s.mean / 60; }), backgroundColor: "#4a78c2" },
            { label: "Chờ p90 (phút)", data: rows.map(function (r) { return r.wait_s.p90 === null ? null : r.wait_s.p90 / 60; }), backgroundColor: "#e0a800" }]
        }, options: { animation: false, maintainAspectRatio: false } });
        $("r-note").textContent = d.exact ? "Số liệu chính xác (exact)" :
          "Khoảng dài: trung vị/p90 theo phút (long range: p50/p90 to the minute)";
      }),
      // one day: hour by hour as bars (a line over one day is a single dot); longer: by day
      api("/reports/summary?" + q({ by: oneDay ? "hour" : "day" })).then(function (d) {
        chart("chart-days", { type: oneDay ? "bar" : "line", data: {
          labels: d.rows.map(function (r) { return oneDay ? r.key + "h" : viDay(r.key); }),
          datasets: [
            { label: "Lấy số / issued", data: d.rows.map(function (r) { return r.issued; }), borderColor: "#0b4f8a", yAxisID: "y" },
            { label: "Đã phục vụ / served", data: d.rows.map(function (r) { return r.served; }), borderColor: "#2f7a3a", yAxisID: "y" },
            { label: "Chờ TB (phút)", data: d.rows.map(function (r) { return r.wait_s.mean === null ? null : r.wait_s.mean / 60; }), borderColor: "#c62828", yAxisID: "y1", type: "line" }].map(function (ds) {
              if (oneDay && !ds.type) ds.backgroundColor = ds.borderColor;
              return ds;
            })
        }, options: { animation: false, maintainAspectRatio: false, scales: {
          y: { beginAtZero: true, position: "left" }, y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } } } });
      }),
      api("/reports/heatmap?" + q()).then(function (d) { heat = d; renderHeat(); }),
      api("/reports/occupancy?" + q()).then(renderOccupancy),
      loadSatisfaction(),
      api("/reports/priority?" + q()).then(function (d) {
        groupTable($("priority-table"), { rows: d.rows.concat(d.classes.filter(function (c) { return c.key !== "normal"; })) }, { noTotal: true });
      }),
      loadMonthly()
    ]).then(function () { document.body.dataset.loaded = "1"; })
      .catch(function (e) { $("r-note").textContent = "Lỗi: " + e.message; });
  }

  function renderHeat() {
    if (!heat) return;
    var which = document.querySelector('input[name="hm"]:checked').value;
    var m = heat[which], max = 0;
    m.forEach(function (row) { row.forEach(function (v) { if (v > max) max = v; }); });
    var hours = []; for (var h = 6; h < 20; h++) hours.push(h);
    var html = "<thead><tr><th>Thứ / giờ</th>" + hours.map(function (h) { return "<th>" + h + "h</th>"; }).join("") + "</tr></thead><tbody>";
    heat.weekdays.forEach(function (name, wd) {
      html += "<tr><td>" + name + "</td>" + hours.map(function (h) {
        var v = m[wd][h], a = max ? (v || 0) / max : 0;
        var txt = v === null || v === 0 ? "" : (which === "arrivals" ? v : dur(v));
        return '<td style="background: rgba(198,40,40,' + a.toFixed(2) + ')">' + txt + "</td>";
      }).join("") + "</tr>";
    });
    $("heatmap-table").innerHTML = html + "</tbody>";
  }

  function renderOccupancy(d) {
    var p = d.peak;
    $("occupancy-peak").textContent = p ? "Cao nhất: " + p.peak + " người chờ cùng lúc " +
      (p.at_label ? "ngày " + p.at_label : "ngày " + (p.day_label || viDay(p.day))) +
      " (peak waiting at once)" : "Không có số nào (no tickets)";
    $("occupancy-table").innerHTML = "<thead><tr><th>Ngày <small>Day</small></th><th>Điểm <small>Site</small></th><th>Cao nhất <small>Peak</small></th></tr></thead><tbody>" +
      d.days.map(function (x) {
        return "<tr><td>" + esc(x.day_label || viDay(x.day)) + "</td><td>" + esc(x.site_name || x.site) + "</td><td>" + x.peak + "</td></tr>";
      }).join("") + "</tbody>";
  }

  function loadSatisfaction() {
    var by = $("sat-by").value;
    return Promise.all([
      api("/reports/satisfaction?" + q({ by: by })).then(function (d) {
        $("satisfaction-table").innerHTML = "<thead><tr><th>Nhóm</th><th>Rất hài lòng</th><th>Hài lòng</th><th>Bình thường</th><th>Không hài lòng</th><th>Số đánh giá</th><th>Hài lòng %</th></tr></thead><tbody>" +
          d.rows.map(function (r) {
            return '<tr data-key="' + esc(r.key) + '"><td>' + esc(r.label) + "</td><td>" + r.ratings["4"] + "</td><td>" + r.ratings["3"] + "</td><td>" +
              r.ratings["2"] + "</td><td>" + r.ratings["1"] + "</td><td>" + r.rated + "</td><td>" + pct(r.satisfied_share) + "</td></tr>";
          }).join("") + "</tbody>";
      }),
      api("/reports/low-ratings?" + q()).then(function (d) {
        $("low-table").innerHTML = "<thead><tr><th>Lý do <small>Reason</small></th><th>Ngày</th><th>Số</th><th>Quầy</th><th>Cán bộ</th><th>Thủ tục</th><th>Điểm</th></tr></thead><tbody>" +
          d.items.map(function (i) {
            return "<tr><td>" + esc(i.reason || "(không ghi lý do)") + "</td><td>" + esc(i.day_label || viDay(i.day)) + "</td><td>" + i.number + "</td><td>" +
              (i.counter || "") + "</td><td>" + esc(i.officer || "") + "</td><td class=\"proc\">" + esc(i.procedure_name || i.procedure_code || "") + "</td><td>" + i.score + "</td></tr>";
          }).join("") + "</tbody>";
      })]);
  }

  function loadMonthly() {
    return api("/reports/monthly?month=" + $("m-month").value).then(function (d) {
      var t = d.total || { issued: 0, served: 0, within_target: null, satisfied_share: null };
      var tbl = function (rows) {
        return "<table class=\"report\"><thead><tr><th>Nhóm</th><th>Tiếp nhận</th><th>Đã phục vụ</th><th>Vắng</th><th>Đúng hạn</th><th>Hài lòng</th><th>Chờ TB</th></tr></thead><tbody>" +
          rows.map(function (r) {
            return "<tr><td>" + esc(r.label) + "</td><td>" + r.issued + "</td><td>" + r.served + "</td><td>" + r.no_show + "</td><td>" +
              pct(r.within_target) + "</td><td>" + pct(r.satisfied_share) + "</td><td>" + dur(r.wait_s.mean) + "</td></tr>";
          }).join("") + "</tbody></table>";
      };
      $("monthly").innerHTML = "<p class=\"big\">" + esc(d.centre) + " – " + viMonth($("m-month").value) + ": tiếp nhận <b>" + t.issued +
        "</b> lượt, đã phục vụ <b>" + t.served + "</b>, đúng hạn <b>" + pct(t.within_target) + "</b>, hài lòng <b>" +
        pct(t.satisfied_share) + "</b>.</p><h3>Theo tổ <small>By team</small></h3>" + tbl(d.teams) +
        "<h3>Theo lĩnh vực <small>By field</small></h3>" + tbl(d.fields);
    });
  }

  if (token) boot(); else $("signin").hidden = false;
})();
