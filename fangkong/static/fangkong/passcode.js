/* Pass codes checked in the browser, with no server: the Ed25519 signature (WebCrypto)
 * against the passes' public keys, the expiry and the revoked pass ids, as the server's
 * check_token does. The keys and revoked ids are the trust material the server hands out
 * (gates.passcheck.trust(): the gate page's /api/gates/trust, the testing roster's "trust").
 * verify(token, trust) answers {code, claims}: code "" for a good code, else one of
 * malformed, nocrypto, nokeys, unknown_key, bad_signature, expired, revoked (the server's
 * TokenError codes). Used by the gate page (which adds its own checks: the place, the colours
 * it refuses, fetching rotated keys) and the registration page of mass testing, which also
 * checks a resident's personal-link code with verifyLink (below). */
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

  /* "" when "<prefix>.<payload>" (parts) carries `sig` by the trusted key `kid`, else why not:
   * nocrypto, nokeys, unknown_key or bad_signature (pass codes and link statements alike). */
  async function signatureRefusal(trust, kid, parts, sig) {
    if (!(window.crypto && crypto.subtle)) return "nocrypto";
    if (!Object.keys((trust && trust.keys) || {}).length) return "nokeys";
    let key;
    try { key = await keyFor(trust, kid); } catch (e) { key = null; }
    if (!key) return "unknown_key";
    try {
      const data = new TextEncoder().encode(parts[0] + "." + parts[1]);
      return (await crypto.subtle.verify({ name: "Ed25519" }, key, sig, data)) ? "" : "bad_signature";
    } catch (e) { return "bad_signature"; }
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
    const refused = await signatureRefusal(trust, claims.kid, parts, sig);
    if (refused) return refused === "unknown_key" ? { code: refused, claims } : { code: refused };
    if (claims.expires <= Date.now() / 1000) return { code: "expired", claims };
    if ((trust.revoked || []).includes(claims.pass_id)) return { code: "revoked", claims };
    return { code: "", claims };
  }

  /* A resident's personal-link code (accounts.linkcodes): the link's address or token with
   * a signed statement after '#', "FKL1.<payload>.<signature>", signed by the same keys.
   * verifyLink(text, trust) answers {code, claims}: code "" for a good code, else one of
   * malformed, nocrypto, nokeys, unknown_key, bad_signature (forged, altered, or not the
   * token's), expired, revoked (trust.revoked_links lists the link's id). claims: link_id,
   * person_id, issued, expires (Unix seconds), masked. A link code without a statement
   * (the older form) is "unsigned": only the server can match it. */
  const LINK_TOKEN = /\/r\/([A-Za-z0-9_-]{16,100})\/?/;

  function splitLink(text) {
    text = (text || "").trim();
    const hash = text.indexOf("#");
    const head = hash >= 0 ? text.slice(0, hash) : text;
    const m = head.match(LINK_TOKEN);
    const token = m ? m[1] : (/^[A-Za-z0-9_-]{16,100}$/.test(head) ? head : null);
    return { token: token, statement: hash >= 0 ? text.slice(hash + 1) : null };
  }

  function looksLikeLink(text) {
    const parts = splitLink(text);
    return !!(parts.token && parts.statement);
  }

  function b64uEncode(bytes) {
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function verifyLink(text, trust) {
    const { token, statement } = splitLink(text);
    if (!token) return { code: "malformed" };
    if (!statement) return { code: "unsigned" };
    const parts = statement.split(".");
    if (parts.length !== 3 || parts[0] !== "FKL1" || statement.length > 600) return { code: "malformed" };
    let claims, sig;
    try {
      const data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b64u(parts[1])));
      claims = { kid: String(data.k), link_id: data.l, person_id: data.p, issued: data.i, expires: data.e,
                 masked: String(data.n || ""), digest: data.t };
      sig = b64u(parts[2]);
      if (![claims.link_id, claims.person_id, claims.issued, claims.expires].every(Number.isInteger)
          || typeof claims.digest !== "string" || sig.length !== 64) throw new Error("malformed");
    } catch (e) {
      return { code: "malformed" };
    }
    const refused = await signatureRefusal(trust, claims.kid, parts, sig);
    if (refused) return { code: refused };
    let good = false;
    try {
      // The statement is the token's: the first 16 bytes of SHA-256(token), as signed.
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
      good = b64uEncode(digest.slice(0, 16)) === claims.digest;
    } catch (e) { good = false; }
    if (!good) return { code: "bad_signature" };
    if (claims.expires <= Date.now() / 1000) return { code: "expired", claims };
    if ((trust.revoked_links || []).includes(claims.link_id)) return { code: "revoked", claims };
    return { code: "", claims };
  }

  return { verify, looksLike, verifyLink, looksLikeLink };
})();
