/* Fangkong phone pages: QR codes read by the phone's camera (vendor/jsqr/jsQR.js), for the gate
 * page (pass codes) and the duty page (a post's code). The page has a button#camera-btn, a
 * video#camera and a canvas#camera-canvas; fkCamera.wire(onCode, onFail) makes the button start
 * and stop the camera; the first code read stops it and goes to onCode(text); onFail() when the
 * phone has no camera (or refuses it). */
window.fkCamera = (function () {
  "use strict";
  function wire(onCode, onFail) {
    const $ = (id) => document.getElementById(id);
    let stream = null;
    function stop() {
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
      $("camera").hidden = true;
    }
    async function start() {
      const video = $("camera");
      if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia) || typeof jsQR !== "function") {
        onFail(); return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      } catch (e) { onFail(); return; }
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      const canvas = $("camera-canvas");
      const ctx = canvas.getContext("2d", { willReadFrequently: true });
      const tick = () => {
        if (!stream) return;
        if (video.readyState === video.HAVE_ENOUGH_DATA) {
          canvas.width = video.videoWidth; canvas.height = video.videoHeight;
          ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const code = jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
          if (code && code.data) { stop(); onCode(code.data); return; }
        }
        setTimeout(tick, 150);
      };
      tick();
    }
    $("camera-btn").addEventListener("click", () => (stream ? stop() : start()));
    return { stop };
  }
  return { wire };
})();
