// Strigil's only script of its own: move focus to a form's error summary when a page opens with one, and
// after HTMX swaps content in. Pages work without it.
(function () {
  function focusSummary() {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("DOMContentLoaded", focusSummary);
  // the body chart: an area sets its step's region and side (the lists stay the way without a pointer)
  function pick(area) {
    var box = area.closest(".body-views");
    var step = box.getAttribute("data-step");
    var region = document.getElementById("step-" + step + "-region");
    var side = document.getElementById("step-" + step + "-side");
    if (region) { region.value = area.getAttribute("data-region"); }
    if (side) { side.value = area.getAttribute("data-side"); }
    box.querySelectorAll(".area").forEach(function (other) {
      var same = other.getAttribute("data-region") === area.getAttribute("data-region") &&
        other.getAttribute("data-side") === area.getAttribute("data-side");
      other.setAttribute("aria-pressed", same ? "true" : "false");
    });
  }
  document.addEventListener("click", function (event) {
    var area = event.target.closest && event.target.closest(".body-views .area");
    if (area) { pick(area); }
  });
  document.addEventListener("keydown", function (event) {
    var area = event.target.closest && event.target.closest(".body-views .area");
    if (area && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); pick(area); }
  });
  // a measure row shows the fields its measure needs (a range of motion's joint, motion and side; a PSFS
  // item's activity) as soon as the measure is chosen; without this script the form asks for them on saving
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-measure-row]")) { return; }
    var option = select.options[select.selectedIndex];
    var kind = option ? option.getAttribute("data-kind") : "";
    var row = select.closest(".measure-row");
    row.querySelectorAll(".rom-only").forEach(function (box) {
      box.hidden = kind !== "rom";
      box.querySelectorAll("select, input").forEach(function (f) { f.disabled = kind !== "rom"; });
    });
    row.querySelectorAll(".psfs-only").forEach(function (box) {
      box.hidden = select.value !== "psfs";
      box.querySelectorAll("select, input").forEach(function (f) { f.disabled = select.value !== "psfs"; });
    });
  });
  // a Print button on a printable page
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
  });
})();
