/* Application page: background autosave and upload progress. Without JS the buttons still work. */
(function () {
  "use strict";

  function autosave(form) {
    var status = form.querySelector(".site-autosave-status");
    var timer = null;
    function save() {
      fetch(form.action || window.location.href, {
        method: "POST", body: new FormData(form), headers: { "Accept": "application/json" }, credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (data) {
        if (status) { status.textContent = "Draft saved at " + new Date().toLocaleTimeString() + " (" + data.complete + "% complete)."; }
      }).catch(function () {
        if (status) { status.textContent = "Could not save automatically; use Save draft to see what needs fixing."; }
      });
    }
    form.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(save, 2500);
    });
  }

  function uploadWithProgress(form) {
    var bar = form.querySelector(".site-upload-progress");
    var status = form.querySelector(".site-upload-status");
    form.addEventListener("submit", function (event) {
      var input = form.querySelector("input[type=file]");
      if (!input || !input.files.length || !window.XMLHttpRequest) { return; }
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("Accept", "application/json");
      bar.hidden = false;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(100 * e.loaded / e.total);
          status.textContent = "Uploading: " + bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        var data = {};
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = {}; }
        if (xhr.status >= 200 && xhr.status < 300) {
          status.textContent = "Uploaded " + data.name + ". Checking the page…";
          window.location.reload();
        } else {
          bar.hidden = true;
          var message = (data.errors && Object.values(data.errors)[0]) || data.error || "The upload failed.";
          status.textContent = message;
        }
      });
      xhr.addEventListener("error", function () {
        bar.hidden = true;
        status.textContent = "The connection failed during the upload. Your application is unchanged; try again.";
      });
      xhr.send(new FormData(form));
    });
  }

  document.querySelectorAll("form[data-autosave]").forEach(autosave);
  document.querySelectorAll("form[data-upload]").forEach(uploadWithProgress);
})();
