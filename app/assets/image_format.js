// The navbar's PNG/SVG choice applies to the camera ("Download plot") button of every figure.
(function () {
    const KEY = "zcells-image-format";
    document.addEventListener("change", function (ev) {
        if (ev.target && ev.target.id === "image-format") {
            localStorage.setItem(KEY, ev.target.value);
        }
    });
    document.addEventListener("click", function (ev) {
        const btn = ev.target && ev.target.closest && ev.target.closest(".modebar-btn");
        if (!btn || !(btn.getAttribute("data-title") || "").startsWith("Download plot")) { return; }
        const gd = btn.closest(".js-plotly-plot");
        const sel = document.getElementById("image-format");
        const fmt = (sel && sel.value) || localStorage.getItem(KEY) || "png";
        if (gd && gd._context) {
            gd._context.toImageButtonOptions = Object.assign({}, gd._context.toImageButtonOptions,
                                                             {format: fmt});
        }
    }, true);
    const restore = setInterval(function () {  // the navbar renders after this script runs
        const sel = document.getElementById("image-format");
        if (sel) { sel.value = localStorage.getItem(KEY) || "png"; clearInterval(restore); }
    }, 300);
})();
