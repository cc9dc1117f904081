// Short-lived notices in a corner of the page; breaches stay until dismissed.

import { t } from "./i18n.js";
import { el } from "./session.js";

const MAX_TOASTS = 5;
const LIFETIME_MS = { info: 5000, warning: 9000, breach: 0 };

export class Toasts {
  constructor(container) {
    this.container = container;
  }

  /** Show `message` (severity info | warning | breach); returns the element. */
  show(message, { severity = "info", title } = {}) {
    const close = el("button", { class: "toast-close", type: "button", "aria-label": t("toast.dismiss") }, "×");
    const toast = el(
      "div",
      { class: `toast toast-${severity}`, role: severity === "breach" ? "alert" : "status" },
      title ? el("strong", {}, title) : null,
      el("span", {}, message),
      close,
    );
    close.addEventListener("click", () => toast.remove());
    this.container.prepend(toast);
    while (this.container.children.length > MAX_TOASTS) this.container.lastElementChild.remove();
    const life = LIFETIME_MS[severity] ?? LIFETIME_MS.info;
    if (life) setTimeout(() => toast.remove(), life);
    return toast;
  }
}
