/* Pass codes checked in the browser, with no server: the Ed25519 signature (WebCrypto)
 * against the passes' public keys, the expiry and the revoked pass ids, as the server's
 * check_token does. The keys and revoked ids are the trust material the server hands out
 * (gates.passcheck.trust(): the gate page's /api/gates/trust, the testing roster's "trust").
 * verify(token, trust) answers {code, claims}: code "" for a good code, else one of
 * malformed, nocrypto, nokeys, unknown_key, bad_signature, expired, revoked (the server's
 * TokenError codes). Used by the gate page (which adds its own checks: the place, the colours
 * it refuses, fetching rotated keys) and the registration page of mass testing. */
window.fkPassCode = (function () {
  "use strict";
  const KINDS = { r: "resident", v: "visitor", c: "vehicle" };
  const COLOURS = { g: "green", y: "yellow", r: "red" };
  const keyCache = {};

  function b64u(text) {
    let s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function looksLike(text) {
    const parts = (text || "").trim().split(".");
    return parts.length === 3 && parts[0] === "FK1";
  }

  async function keyFor(trust, kid) {
    const raw = ((trust && trust.keys) || {})[kid];
    if (!raw) return null;
    const id = kid + ":" + raw;
    if (!keyCache[id]) keyCache[id] = crypto.subtle.importKey("raw", b64u(raw), { name: "Ed25519" }, false, ["verify"]);
    return keyCache[id];
  }

  async function verify(token, trust) {
    token = (token || "").trim();
    const parts = token.split(".");
    if (parts.length !== 3 || parts[0] !== "FK1" || token.length > 600) return { code: "malformed" };
    let claims, sig;
    try {
      const data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b64u(parts[1])));
      claims = { kid: String(data.k), pass_id: data.p, kind: KINDS[data.t], colour: COLOURS[data.c],
                 expires: data.e, masked: String(data.n), host: data.h === undefined ? null : data.h };
      sig = b64u(parts[2]);
      if (!claims.kind || !claims.colour || !Number.isInteger(claims.pass_id) || !Number.isInteger(claims.expires)
          || sig.length !== 64) throw new Error("malformed");
    } catch (e) {
      return { code: "malformed" };
    }
    if (!(window.crypto && crypto.subtle)) return { code: "nocrypto" };
    if (!Object.keys((trust && trust.keys) || {}).length) return { code: "nokeys" };
    let key;
    try { key = await keyFor(trust, claims.kid); } catch (e) { key = null; }
    if (!key) return { code: "unknown_key", claims };
    let good = false;
    try {
      good = await crypto.subtle.verify({ name: "Ed25519" }, key, sig, new TextEncoder().encode(parts[0] + "." + parts[1]));
    } catch (e) { good = false; }
    if (!good) return { code: "bad_signature" };
    if (claims.expires <= Date.now() / 1000) return { code: "expired", claims };
    if ((trust.revoked || []).includes(claims.pass_id)) return { code: "revoked", claims };
    return { code: "", claims };
  }

  return { verify, looksLike };
})();
