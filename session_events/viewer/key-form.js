// The key form in the header: the key is typed once per tab and kept by api.js in sessionStorage.

import { apiKey } from "./api.js";
import { byId } from "./dom.js";

// `onKey()` runs once a key is typed, `onForget()` when the user drops it.
export function wireKeyForm({ onKey, onForget }) {
  byId("key-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const key = byId("api-key").value.trim();
    if (!key) return;
    apiKey.set(key);
    byId("api-key").value = "";
    keyAccepted();
    onKey();
  });
  byId("forget-key").addEventListener("click", onForget);
}

export function askForKey(message = "") {
  apiKey.clear();
  byId("key-form").hidden = false;
  byId("key-set").hidden = true;
  byId("key-error").textContent = message;
  byId("api-key").focus();
}

export function keyAccepted() {
  byId("key-form").hidden = true;
  byId("key-set").hidden = false;
  byId("key-error").textContent = "";
}
