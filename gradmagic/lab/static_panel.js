// gradmagic's static panel: a learning-rate slider and an optimizer menu that redraw
// precomputed runs (loss curve, and the path over a pre-rendered contour image) in the
// browser.  No network, no libraries: it works in an HTML export opened from disk, in
// nbviewer-style pages and in trusted notebooks.  The data format is written by
// gradmagic/lab/static_data.py (16-bit quantised series in base64).
(function () {
  "use strict";
  if (window.gmStaticPanel) return;
  var MISSING = 65535, LEVELS = 65534;
  var STYLE =
    ".gm-static{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;max-width:100%}" +
    ".gm-static .gm-static-row{display:flex;flex-wrap:wrap;align-items:center;gap:8px;margin:4px 0}" +
    ".gm-static .gm-static-track{flex:1 1 240px;min-width:160px}" +
    ".gm-static input.gm-static-lr{-webkit-appearance:none;appearance:none;width:100%;height:14px;" +
    "margin:0;padding:0;background:transparent;display:block}" +
    ".gm-static input.gm-static-lr::-webkit-slider-runnable-track{height:4px;background:#bbb;border-radius:2px}" +
    ".gm-static input.gm-static-lr::-moz-range-track{height:4px;background:#bbb;border-radius:2px}" +
    ".gm-static input.gm-static-lr::-webkit-slider-thumb{-webkit-appearance:none;width:14px;height:14px;" +
    "margin-top:-5px;border-radius:50%;background:#1976d2;border:0}" +
    ".gm-static input.gm-static-lr::-moz-range-thumb{width:14px;height:14px;border-radius:50%;" +
    "background:#1976d2;border:0}" +
    ".gm-static .gm-static-marks{position:relative;height:16px;margin:0 7px;font-size:11px;line-height:16px}" +
    ".gm-static .gm-static-marker,.gm-static .gm-static-marker-label{position:absolute;top:0;white-space:nowrap;" +
    "color:var(--jp-error-color1,#c62828)}" +
    ".gm-static .gm-static-marker{transform:translateX(-50%)}" +
    ".gm-static .gm-static-readout{font-family:monospace;min-width:5em}" +
    ".gm-static .gm-static-warn{color:var(--jp-error-color1,#c62828)}" +
    ".gm-static .gm-static-figure{position:relative;flex:0 1 auto;max-width:100%}" +
    ".gm-static .gm-static-figure img{display:block;max-width:100%;height:auto}" +
    ".gm-static .gm-static-figure canvas{position:absolute;left:0;top:0;width:100%;height:100%}" +
    ".gm-static .gm-static-title{text-align:center;min-height:1.3em}" +
    ".gm-static code.gm-static-line{user-select:all;white-space:pre-wrap;word-break:break-all}";

  function decode(e) {
    var bin = atob(e.q), n = bin.length >> 1, out = new Float64Array(n);
    var lo = e.lo, span = e.hi - e.lo;
    for (var i = 0; i < n; i++) {
      var code = bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8);
      if (code === MISSING) { out[i] = NaN; continue; }
      var v = lo + span * code / LEVELS;
      out[i] = e.log ? Math.pow(10, v) : v;
    }
    return out;
  }

  function element(tag, cls, parent, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // A figure: the background image with a canvas over it, in the image's pixels.
  function figure(parent, picture, title) {
    var box = element("div", "gm-static-figure", parent);
    var heading = element("div", "gm-static-title", box, title || "");
    var holder = element("div", "", box);
    holder.style.position = "relative";
    var img = element("img", "", holder);
    img.src = "data:image/png;base64," + picture.background;
    img.width = picture.width;
    img.height = picture.height;
    var canvas = element("canvas", "gm-static-canvas", holder);
    var ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(picture.width * ratio);
    canvas.height = Math.round(picture.height * ratio);
    return { picture: picture, canvas: canvas, title: heading, ratio: ratio };
  }

  // Data → image pixels, as matplotlib placed the axes (box: left, top, right, bottom).
  function mapper(picture) {
    var b = picture.box, x = picture.limits[0], y = picture.limits[1], log = picture.log;
    var ylo = log ? Math.log10(y[0]) : y[0], yhi = log ? Math.log10(y[1]) : y[1];
    return {
      x: function (v) { return b[0] + (v - x[0]) / (x[1] - x[0]) * (b[2] - b[0]); },
      y: function (v) {
        var t = log ? Math.log10(Math.max(v, y[0] * 1.5)) : v;
        return b[3] - (t - ylo) / (yhi - ylo) * (b[3] - b[1]);
      }
    };
  }

  function begin(fig) {
    var ctx = fig.canvas.getContext("2d"), p = fig.picture, b = p.box;
    ctx.setTransform(fig.ratio, 0, 0, fig.ratio, 0, 0);
    ctx.clearRect(0, 0, p.width, p.height);
    ctx.save();
    ctx.beginPath();
    ctx.rect(b[0], b[1], b[2] - b[0], b[3] - b[1]);
    ctx.clip();
    return ctx;
  }

  // A polyline through the finite points (xs, ys in data), broken where one is missing;
  // returns the pixel points drawn (for the end marker, and for tests).
  function polyline(ctx, map, xs, ys, colour, dots) {
    var drawn = [], pen = false;
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (var i = 0; i < xs.length; i++) {
      if (!isFinite(xs[i]) || !isFinite(ys[i])) { pen = false; continue; }
      var px = map.x(xs[i]), py = map.y(ys[i]);
      if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      pen = true;
      drawn.push([px, py]);
    }
    ctx.stroke();
    if (dots) {
      for (var j = 0; j < drawn.length; j++) ctx.fillRect(drawn[j][0] - 1.5, drawn[j][1] - 1.5, 3, 3);
    }
    return drawn;
  }

  function cross(ctx, point, colour) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2.5;
    ctx.beginPath();
    ctx.moveTo(point[0] - 5, point[1] - 5); ctx.lineTo(point[0] + 5, point[1] + 5);
    ctx.moveTo(point[0] + 5, point[1] - 5); ctx.lineTo(point[0] - 5, point[1] + 5);
    ctx.stroke();
  }

  window.gmStaticTimings = window.gmStaticTimings || [];

  window.gmStaticPanel = function (root, data) {
    if (!root || root.getAttribute("data-gm-live") === "1") return;
    root.setAttribute("data-gm-live", "1");
    var still = root.querySelector(".gm-static-still");
    if (still) still.style.display = "none";
    var style = element("style", "", root);
    style.textContent = STYLE;
    var live = element("div", "gm-static-live", root);

    var top = element("div", "gm-static-row", live);
    element("span", "", top, "learning rate");
    var track = element("div", "gm-static-track", top);
    var slider = element("input", "gm-static-lr", track);
    slider.type = "range";
    slider.min = 0;
    slider.max = data.lrs.length - 1;
    slider.step = 1;
    slider.value = data.chosen.lr;
    slider.setAttribute("aria-label", "learning rate");
    var marks = element("div", "gm-static-marks", track);
    var marker = element("span", "gm-static-marker", marks, "\u25B2");
    var markerLabel = element("span", "gm-static-marker-label", marks);
    var readout = element("span", "gm-static-readout", top);
    var menu = element("select", "gm-static-optimizer", top);
    menu.setAttribute("aria-label", "optimizer");
    data.optimizers.forEach(function (o, i) {
      var option = element("option", "", menu, o.label);
      option.value = String(i);
    });
    menu.value = String(data.chosen.optimizer);
    var stability = element("div", "gm-static-stability", live);
    var plots = element("div", "gm-static-row", live);
    var curveFig = figure(plots, data.curve, "");
    var pathFig = data.path ? figure(plots, data.path, "") : null;
    var summary = element("div", "gm-static-summary", live);
    var line = element("code", "gm-static-line", live);
    var curveMap = mapper(data.curve), pathMap = data.path ? mapper(data.path) : null;
    var steps = data.steps, cache = {};

    function series(o, k) {
      var key = o + ":" + k;
      if (!cache[key]) {
        var run = data.optimizers[o].runs[k];
        cache[key] = { h: decode(run.h), p: run.p ? run.p.map(decode) : null };
      }
      return cache[key];
    }

    function placeMarker(o) {
      var m = data.optimizers[o].marker;
      marks.style.visibility = m ? "visible" : "hidden";
      if (!m) return;
      var percent = 100 * m.fraction;
      marker.style.left = percent + "%";
      markerLabel.textContent = (m.beyond ? "(beyond the slider) " : "") + m.label;
      markerLabel.style.left = markerLabel.style.right = "";
      if (m.fraction > 0.6) markerLabel.style.right = "calc(" + (100 - percent) + "% + 8px)";
      else markerLabel.style.left = "calc(" + percent + "% + 8px)";
    }

    function redraw() {
      var t0 = performance.now();
      var o = Number(menu.value), k = Number(slider.value);
      var optimizer = data.optimizers[o], run = optimizer.runs[k], s = series(o, k);
      readout.textContent = data.lrText[k];
      placeMarker(o);
      stability.textContent = run.b;
      stability.className = "gm-static-stability " + (run.w ? "gm-static-warn" : "");
      summary.textContent = run.s;
      line.textContent = run.l;
      curveFig.title.textContent = "loss curve" + (run.d >= 0 ? ": diverged at step " + run.d : "");
      curveFig.title.className = "gm-static-title " + (run.d >= 0 ? "gm-static-warn" : "");
      var ctx = begin(curveFig);
      var drawnCurve = polyline(ctx, curveMap, steps, s.h, "#1f77b4", false);
      ctx.restore();
      var drawnPath = [];
      if (pathFig) {
        ctx = begin(pathFig);
        var ys = s.p.length === 2 ? s.p[1] : s.h;
        drawnPath = polyline(ctx, pathMap, s.p[0], ys, "#ff7f0e", true);
        if (drawnPath.length) cross(ctx, drawnPath[drawnPath.length - 1], "#d62728");
        ctx.restore();
        pathFig.title.textContent = optimizer.name + ", lr " + data.lrText[k];
      }
      var ms = performance.now() - t0;
      window.gmStaticTimings.push(ms);
      root.gmState = { optimizer: o, lr: k, curve: drawnCurve, path: drawnPath, redrawMs: ms };
    }

    slider.addEventListener("input", redraw);
    menu.addEventListener("change", redraw);
    redraw();
  };
})();
