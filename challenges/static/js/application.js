/* Application page: background autosave and upload progress. Without JS the buttons still work. */
(function () {
  "use strict";

  function autosave(form) {
    var status = form.querySelector(".site-autosave-status");
    var timer = null;
    function save() {
      // getAttribute: form.action would be the submit buttons named "action" on the scoring form.
      fetch(form.getAttribute("action") || window.location.href, {
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

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function send(method, url, body, headers, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      Object.keys(headers || {}).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (onProgress) {
        xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable) { onProgress(e.loaded); } });
      }
      xhr.addEventListener("load", function () { resolve(xhr); });
      xhr.addEventListener("error", function () { reject(new Error("network")); });
      xhr.send(body);
    });
  }

  function json(xhr) { try { return JSON.parse(xhr.responseText); } catch (e) { return {}; } }

  // S3: announce the file, upload straight to the bucket (POST, or parts for large files), confirm.
  function directUpload(form, file, bar, status) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken(form) };
    var announce = JSON.stringify({ filename: file.name, content_type: file.type, size: file.size });
    var progress = function (done) {
      bar.value = Math.round(100 * done / file.size);
      status.textContent = "Uploading: " + bar.value + "%";
    };
    return send("POST", form.dataset.direct, announce, headers).then(function (xhr) {
      var plan = json(xhr);
      if (xhr.status !== 200) { throw new Error((plan.errors && Object.values(plan.errors)[0]) || plan.error || "The upload was refused."); }
      var confirmUrl = form.dataset.confirmBase + plan.file_id + "/confirm";
      if (plan.mode === "post") {
        var body = new FormData();
        Object.keys(plan.fields).forEach(function (k) { body.append(k, plan.fields[k]); });
        body.append("file", file);
        return send("POST", plan.url, body, {}, progress).then(function (up) {
          if (up.status >= 300) { throw new Error("The file store refused the upload (" + up.status + ")."); }
          return send("POST", confirmUrl, "{}", headers);
        });
      }
      var parts = [];
      var sent = 0;
      var chain = Promise.resolve();
      plan.part_urls.forEach(function (url, index) {
        chain = chain.then(function () {
          var chunk = file.slice(index * plan.part_size, (index + 1) * plan.part_size);
          return send("PUT", url, chunk, {}, function (loaded) { progress(sent + loaded); }).then(function (up) {
            if (up.status >= 300) { throw new Error("A part of the upload failed (" + up.status + ")."); }
            sent += chunk.size;
            parts.push({ PartNumber: index + 1, ETag: up.getResponseHeader("ETag") });
          });
        });
      });
      return chain.then(function () {
        return send("POST", confirmUrl, JSON.stringify({ upload_id: plan.upload_id, parts: parts }), headers);
      });
    }).then(function (xhr) {
      var result = json(xhr);
      if (xhr.status !== 200) { throw new Error(result.error || "The file was refused."); }
      return result;
    });
  }

  function uploadWithProgress(form) {
    var bar = form.querySelector(".site-upload-progress");
    var status = form.querySelector(".site-upload-status");
    var chooser = form.querySelector("input[type=file]");
    if (chooser && window.XMLHttpRequest) {
      // A chosen file uploads at once: one left waiting for the Upload button was lost when the vendor
      // went on to another form on the page (accepting the rules, saving answers).
      chooser.addEventListener("change", function () {
        if (!chooser.files.length) { return; }
        if (form.requestSubmit) { form.requestSubmit(); } else { form.dispatchEvent(new Event("submit", { cancelable: true })); }
      });
    }
    form.addEventListener("submit", function (event) {
      var input = form.querySelector("input[type=file]");
      if (!input || !input.files.length || !window.XMLHttpRequest) { return; }
      event.preventDefault();
      if (form.dataset.uploading) { return; }  // already on its way (chosen, then Upload pressed too)
      form.dataset.uploading = "1";
      if (!form.dataset.direct && form.dataset.stream) {
        // Local storage: the body is the file itself, so the server streams it straight to disk.
        var file = input.files[0];
        bar.hidden = false;
        send("PUT", form.dataset.stream, file, {
          "Content-Type": file.type || "application/octet-stream", "Accept": "application/json",
          "X-CSRFToken": csrfToken(form), "X-File-Name": encodeURIComponent(file.name)
        }, function (loaded) {
          bar.value = Math.round(100 * loaded / file.size);
          status.textContent = "Uploading: " + bar.value + "%";
        }).then(function (xhr) {
          var data = json(xhr);
          if (xhr.status !== 200) { throw new Error((data.errors && Object.values(data.errors)[0]) || data.error || "The upload failed."); }
          status.textContent = "Uploaded " + data.name + ". Checking the page…";
          window.location.reload();
        }).catch(function (error) {
          delete form.dataset.uploading;
          bar.hidden = true;
          status.textContent = error.message + " Your application is unchanged.";
        });
        return;
      }
      if (form.dataset.direct) {
        bar.hidden = false;
        directUpload(form, input.files[0], bar, status).then(function (result) {
          status.textContent = "Uploaded " + result.name + ". Checking the page…";
          window.location.reload();
        }).catch(function (error) {
          delete form.dataset.uploading;
          bar.hidden = true;
          status.textContent = error.message + " Your application is unchanged.";
        });
        return;
      }
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
          delete form.dataset.uploading;
          bar.hidden = true;
          var message = (data.errors && Object.values(data.errors)[0]) || data.error || "The upload failed.";
          status.textContent = message;
        }
      });
      xhr.addEventListener("error", function () {
        delete form.dataset.uploading;
        bar.hidden = true;
        status.textContent = "The connection failed during the upload. Your application is unchanged; try again.";
      });
      xhr.send(new FormData(form));
    });
  }

  document.querySelectorAll("form[data-autosave]").forEach(autosave);
  document.querySelectorAll("form[data-upload]").forEach(uploadWithProgress);
})();
