(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.body.classList.add("js");
  });
})();
//# sourceMappingURL=app.js.map
