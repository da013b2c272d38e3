/* global document, window */
/*
 * Upload form of the staff area and of upload requests: sends the chosen
 * file with tus-js-client (resumable, in chunks) and shows the progress in
 * a <progress> element and a polite live region ("42 %"). Texts and the
 * endpoint come from data attributes of the form; nothing inline (CSP).
 */
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  if (!form || typeof window.tus === 'undefined') return;
  var data = form.dataset;
  var fileInput = document.getElementById('file');
  var fileError = document.getElementById('file-error');
  var maxInput = document.getElementById('max-downloads');
  var maxError = document.getElementById('max-downloads-error');
  var block = document.querySelector('.upload-progress');
  var bar = document.getElementById('progress');
  var status = document.getElementById('progress-text');
  var failure = document.getElementById('upload-error');
  var sent = document.getElementById('sent-files');
  var submit = form.querySelector('button[type="submit"]');
  var lastAnnounced = -1;

  function percentText(percent) {
    return (data.lang === 'de' ? String(percent).replace('.', ',') : String(percent)) + '\u00a0%';
  }

  function showFieldError(input, box, message) {
    box.textContent = message;
    box.hidden = false;
    box.id = box.id || input.id + '-error';
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', box.id);
    input.focus();
  }

  function clearFieldError(input, box) {
    if (!input || !box) return;
    box.hidden = true;
    box.textContent = '';
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-describedby');
  }

  function setProgress(percent) {
    bar.value = percent;
    bar.setAttribute('aria-valuenow', String(percent));
    // Announce in steps of 10 so screen readers are not flooded; 100 always.
    var step = Math.floor(percent / 10);
    if (step !== lastAnnounced || percent === 100) {
      lastAnnounced = step;
      status.textContent = percentText(percent);
    }
  }

  function failed(error) {
    var code = error && error.originalResponse ? error.originalResponse.getStatus() : 0;
    failure.textContent = code === 413 ? data.textTooLarge : code === 507 ? data.textNoSpace : data.textFailed;
    failure.hidden = false;
    submit.disabled = false;
    failure.focus();
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    clearFieldError(fileInput, fileError);
    clearFieldError(maxInput, maxError);
    failure.hidden = true;
    var file = fileInput.files && fileInput.files[0];
    if (!file) {
      showFieldError(fileInput, fileError, data.textMissing);
      return;
    }
    var metadata = { filename: file.name, filetype: file.type || 'application/octet-stream' };
    var expires = document.getElementById('expires');
    if (expires) metadata.expires = expires.value;
    var password = document.getElementById('password');
    if (password && password.value) metadata.password = password.value;
    if (maxInput && maxInput.value) {
      var n = Number(maxInput.value);
      if (!Number.isInteger(n) || n < 1 || n > 1000) {
        showFieldError(maxInput, maxError, data.textMaxDownloads);
        return;
      }
      metadata.maxDownloads = String(n);
    }
    var headers = {};
    if (data.csrf) headers['Siegel-Csrf'] = data.csrf;
    var previousLink = document.getElementById('result-link');
    if (previousLink) previousLink.remove();
    submit.disabled = true;
    block.hidden = false;
    lastAnnounced = -1;
    setProgress(0);
    var upload = new window.tus.Upload(file, {
      endpoint: data.endpoint,
      // Large chunks: each PATCH ends with an fsync, so fewer of them upload faster (a reverse proxy in front must allow bodies of this size).
      chunkSize: 64 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      metadata: metadata,
      headers: headers,
      removeFingerprintOnSuccess: true,
      onProgress: function (bytesSent, bytesTotal) {
        // 100 % only once the server has made the share (onSuccess).
        var percent = bytesTotal > 0 ? Math.min(99, Math.floor((bytesSent / bytesTotal) * 100)) : 0;
        setProgress(percent);
      },
      onError: failed,
      onSuccess: function () {
        setProgress(100);
        var token = upload.url.slice(upload.url.lastIndexOf('/') + 1);
        status.textContent = percentText(100) + ' – ' + data.textDone;
        if (data.done) {
          // The link page; focus moves to it so keyboard and screen reader users find it at once.
          var link = document.createElement('a');
          link.id = 'result-link';
          link.className = 'button';
          link.href = data.done + encodeURIComponent(token);
          link.textContent = data.textShowLink;
          status.parentNode.appendChild(link);
          link.focus();
          return;
        }
        if (sent) {
          var item = document.createElement('li');
          item.textContent = sent.dataset.textSent.replace('{name}', file.name);
          sent.appendChild(item);
        }
        form.reset();
        submit.disabled = false;
      },
    });
    // Resume an upload of the same file that was interrupted (closed tab, lost network).
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length > 0) {
        status.textContent = data.textResuming;
        upload.resumeFromPreviousUpload(previous[0]);
      }
      upload.start();
    }, function () {
      upload.start();
    });
  });
})();
