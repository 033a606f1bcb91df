// The workbench's only script (loaded from /ui/static under the page's Content-Security-Policy;
// no inline script anywhere). Pages work without it: typeahead suggestions are a convenience,
// since the API resolves any name or alias typed in full.
(function () {
  "use strict";

  function box(input) {
    var id = input.getAttribute("data-suggestions");
    return id ? document.getElementById(id) : null;
  }

  // Choosing a suggestion writes its value into its field and returns focus there.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-fill]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-fill"));
    if (!input) return;
    input.value = button.getAttribute("data-value");
    var list = box(input);
    if (list) list.innerHTML = "";
    input.focus();
  });

  // Keyboard: Down from a field moves into its suggestions, Up/Down walk them, Escape closes.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (target.matches && target.matches("input[data-suggestions]")) {
      var list = box(target);
      if (event.key === "ArrowDown" && list) {
        var first = list.querySelector("button[data-fill]");
        if (first) { first.focus(); event.preventDefault(); }
      } else if (event.key === "Escape" && list) {
        list.innerHTML = "";
      }
      return;
    }
    var button = target.closest && target.closest("button[data-fill]");
    if (!button) return;
    var buttons = Array.prototype.slice.call(button.closest("ul").querySelectorAll("button[data-fill]"));
    var index = buttons.indexOf(button);
    var field = document.getElementById(button.getAttribute("data-fill"));
    if (event.key === "ArrowDown" && index < buttons.length - 1) {
      buttons[index + 1].focus(); event.preventDefault();
    } else if (event.key === "ArrowUp") {
      (index > 0 ? buttons[index - 1] : field).focus(); event.preventDefault();
    } else if (event.key === "Escape" && field) {
      var list2 = box(field);
      if (list2) list2.innerHTML = "";
      field.focus();
    }
  });
})();
