// Arrow keys move the Explorer's selected cell to a neighbour (writes the key-move store).
(function () {
    const DIRS = {ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down"};
    document.addEventListener("keydown", function (ev) {
        const dir = DIRS[ev.key];
        if (!dir || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
        const tag = (ev.target && ev.target.tagName) || "";
        if (["INPUT", "TEXTAREA", "SELECT"].includes(tag) || (ev.target && ev.target.isContentEditable)) {
            return;
        }
        if (!document.getElementById("som-grid") || !window.dash_clientside ||
            !window.dash_clientside.set_props) { return; }
        ev.preventDefault();
        window.dash_clientside.set_props("key-move", {data: {dir: dir, t: Date.now()}});
    });
})();
