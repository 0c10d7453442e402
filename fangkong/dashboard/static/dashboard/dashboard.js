/* Dashboard charts (Apache ECharts, vendored): the trend of the place's figures and the
   breakdown per child place; a click on a child's bar opens that child's dashboard.
   Fed by the JSON API; no inline handlers, so a strict CSP holds. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("dashboard-config").textContent);
  var t = JSON.parse(document.getElementById("dashboard-i18n").textContent);
  var locale = config.lang && config.lang.indexOf("zh") === 0 ? "ZH" : "EN";
  var trendEl = document.getElementById("trend-chart");
  var barEl = document.getElementById("breakdown-chart");
  var metricSelect = document.getElementById("metric");
  var charts = [];
  var data = null;

  function init(el) {
    if (!el) return null;
    var chart = echarts.init(el, null, { renderer: "canvas", locale: locale });
    charts.push(chart);
    return chart;
  }

  var trend = init(trendEl);
  var bars = init(barEl);
  charts.forEach(function (c) { c.showLoading({ text: t.loading }); });

  function label(key) {
    for (var i = 0; i < data.metrics.length; i++) if (data.metrics[i].key === key) return data.metrics[i].label;
    return key;
  }

  function query(extra) {
    var params = new URLSearchParams(window.location.search);
    Object.keys(extra).forEach(function (k) { params.set(k, extra[k]); });
    return "?" + params.toString();
  }

  function drawTrend() {
    var metrics = data.metrics;
    // Shown at first: the metrics with something counted in the period (at most five);
    // the others stay in the legend, a tap away.
    var shown = {}, n = 0;
    metrics.forEach(function (m) {
      var any = data.trend.series[m.key].some(function (v) { return v > 0; });
      shown[m.label] = any && n < 5;
      if (shown[m.label]) n++;
    });
    if (!n && metrics.length) shown[metrics[0].label] = true;
    trend.setOption({
      animation: false,
      tooltip: { trigger: "axis", confine: true },
      legend: { type: "scroll", top: 0, selected: shown },
      grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
      xAxis: { type: "category", boundaryGap: false, data: data.trend.dates.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: metrics.map(function (m) {
        return { name: m.label, type: "line", smooth: false, showSymbol: data.trend.dates.length <= 14,
                 data: data.trend.series[m.key] };
      })
    }, true);
  }

  function drawBars() {
    if (!bars) return;
    var key = metricSelect ? metricSelect.value : config.metric;
    var rows = data.children.map(function (c) { return { name: c.name, value: c.figures[key] || 0, url: c.url }; });
    if (data.direct[key]) rows.push({ name: t.direct, value: data.direct[key], url: null,
                                      itemStyle: { color: "#9aa5b1" } });
    // Horizontal bars, first child on top: long Chinese names stay readable on a phone.
    rows.reverse();
    barEl.style.height = Math.max(200, rows.length * 34 + 56) + "px";
    bars.resize();
    // No animation: a bar is where it will stay the moment it is drawn, ready for a tap.
    bars.setOption({
      animation: false,
      tooltip: { trigger: "item", confine: true },
      grid: { left: 8, right: 40, top: 28, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: rows.map(function (r) { return r.name; }), axisLabel: { width: 110, overflow: "truncate" } },
      series: [{ name: label(key), type: "bar", data: rows, cursor: "pointer", barMaxWidth: 28,
                 label: { show: true, position: "right" } }],
      title: { text: label(key), left: 0, top: 0, textStyle: { fontSize: 14 } }
    }, true);
  }

  if (bars) {
    bars.on("click", function (params) {
      if (params.data && params.data.url) window.location.href = params.data.url + query({});
    });
  }
  if (metricSelect) {
    metricSelect.addEventListener("change", function () {
      history.replaceState(null, "", query({ metric: metricSelect.value }));
      if (data) drawBars();
    });
  }
  var form = document.getElementById("dash-filters");
  if (form) {
    form.querySelectorAll("input[name=day], select[name=days]").forEach(function (el) {
      el.addEventListener("change", function () { form.submit(); });
    });
  }

  var resize = function () { charts.forEach(function (c) { c.resize(); }); };
  if (window.ResizeObserver) {
    var ro = new ResizeObserver(resize);
    [trendEl, barEl].forEach(function (el) { if (el) ro.observe(el); });
  } else {
    window.addEventListener("resize", resize);
  }

  fetch(config.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (json) {
      data = json;
      charts.forEach(function (c) { c.hideLoading(); });
      drawTrend();
      drawBars();
      document.body.setAttribute("data-charts", "ready");
    })
    .catch(function () {
      charts.forEach(function (c) { c.hideLoading(); });
      [trendEl, barEl].forEach(function (el) { if (el) { el.textContent = t.failed; el.classList.add("failed"); } });
      document.body.setAttribute("data-charts", "failed");
    });
})();
