// The sign-in form: the OAuth2 password flow of POST /api/v1/auth/token.

import { sameOriginPath } from "./redirects.js";
import { t } from "./i18n.js";
import { api, saveToken, token } from "./session.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const notice = document.getElementById("login-notice");
const params = new URLSearchParams(location.search);

function nextPage() {
  // Only pages on this server: never send a signed-in user to another host.
  return sameOriginPath(params.get("next") || "/map", location.origin);
}

if (params.get("reason")) {
  notice.textContent = params.get("reason");
  notice.hidden = false;
}
if (token() && !params.get("reason")) location.replace(nextPage());

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    error.textContent = t("login.enter_both");
    error.hidden = false;
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    sessionStorage.clear();
    const issued = await api("auth/token", { method: "POST", form: { username, password } });
    saveToken(issued);
    location.assign(nextPage());
  } catch (err) {
    error.textContent =
      err.status === 401 ? t("login.no_match") : t("login.failed", { reason: err.message });
    error.hidden = false;
    form.password.select();
  } finally {
    button.disabled = false;
  }
});

// The button starts disabled in the HTML: a click before this handler is attached
// would submit the form natively, putting the password in the URL.
form.querySelector("button[type=submit]").disabled = false;
