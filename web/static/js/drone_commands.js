// Safety commands from the live map's drone panel: RTL, LAND, LOITER with a reason,
// POST /api/v1/vehicles/{key}/command, and the drone's answer shown in words.
// Only safety officers and site admins see the panel (data-roles); the server
// refuses everyone else with 403 anyway.

import { t } from "./i18n.js";
import { api } from "./session.js";

/** The drone's answer in words, from its fields (the server's `answer` is English). */
function answerWords(answer) {
  if (answer.accepted) return t("drone_command.accepted");
  if (!answer.result) return t("drone_command.no_answer", { count: answer.attempts });
  return t("drone_command.denied", { result: answer.result });
}

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
        show("refused", t("drone_command.needs_reason", { command }));
        return;
      }
      buttons.forEach((b) => (b.disabled = true));
      show("", t("drone_command.sent_waiting", { command }));
      try {
        const answer = await api(`vehicles/${key}/command`, { method: "POST", body: { command, reason } });
        const words = t(answer.authenticated ? "drone_command.answer" : "drone_command.answer_unsigned", { command, answer: answerWords(answer) });
        show(answer.accepted ? "ok" : "refused", words, answer.answer);
      } catch (err) {
        show("refused", t("drone_command.not_sent", { command, reason: err.message }));
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    });
  }
}
