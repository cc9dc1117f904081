// Safety commands from the live map's drone panel: RTL, LAND, LOITER with a reason,
// POST /api/v1/vehicles/{key}/command, and the drone's answer shown in words.
// Only safety officers and site admins see the panel (data-roles); the server
// refuses everyone else with 403 anyway.

import { api } from "./session.js";

/**
 * Wire the buttons (`[data-command]`) under `panel` to command the drone
 * `selectedKey()` names, with the reason typed in `reasonInput`; the answer is
 * written to `output` (data-kind ok / refused, data-answer the server's words).
 */
export function wireDroneCommands(panel, reasonInput, output, selectedKey) {
  const buttons = [...panel.querySelectorAll("button[data-command]")];
  const show = (kind, text, answer = "") => {
    output.hidden = false;
    output.className = `result ${kind}`;
    output.dataset.kind = kind;
    output.dataset.answer = answer;
    output.textContent = text;
  };
  for (const button of buttons) {
    button.addEventListener("click", async () => {
      const command = button.dataset.command;
      const reason = reasonInput.value.trim();
      const key = selectedKey();
      if (!key) return;
      if (!reason) {
        show("refused", `${command} needs a reason.`);
        return;
      }
      buttons.forEach((b) => (b.disabled = true));
      show("", `${command} sent; waiting for the drone's answer…`);
      try {
        const answer = await api(`vehicles/${key}/command`, { method: "POST", body: { command, reason } });
        const signed = answer.authenticated ? "" : " (frames not signed)";
        show(answer.accepted ? "ok" : "refused", `${command}: ${answer.answer}${signed}`, answer.answer);
      } catch (err) {
        show("refused", `${command} not sent: ${err.message}`);
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    });
  }
}
