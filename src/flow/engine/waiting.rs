//! While a person handles the case: what the bot still says (once when the case opens, again only if the user
//! writes after `settings.agent_reply_after`), and what it passes on to the agent. A flow may word these itself
//! in `texts`; these are the defaults.

use super::Run;
use crate::flow::event::{AgentNote, Effect, Reply};
use crate::flow::input::Input;

const AGENT_WAITING: &[(&str, &str)] = &[
    (
        "es",
        "Una persona de nuestro equipo revisará tu caso y te escribirá aquí mismo, en este chat. No tienes que empezar de nuevo.",
    ),
    (
        "pt",
        "Uma pessoa da nossa equipe vai analisar o seu caso e escrever para você aqui mesmo, neste chat. Você não precisa recomeçar.",
    ),
    (
        "en",
        "Someone from our team will review your case and write to you right here, in this chat. You won't have to start over.",
    ),
];

const AGENT_WAITING_AGAIN: &[(&str, &str)] = &[
    ("es", "Recibimos tu mensaje. Una persona de nuestro equipo te responderá aquí en cuanto pueda."),
    ("pt", "Recebemos sua mensagem. Uma pessoa da nossa equipe vai responder aqui assim que puder."),
    ("en", "We got your message. Someone from our team will answer here as soon as they can."),
];

impl Run<'_> {
    /// The flow's text `key`, else the default in the user's language (else Spanish).
    fn text_or_default(&self, key: &str, defaults: &[(&str, &str)]) -> String {
        if self.flow.file.texts.contains_key(key) {
            return self.text(key);
        }
        let lang = self.lang();
        let pick = defaults.iter().find(|(l, _)| *l == lang).or_else(|| defaults.first());
        pick.map(|(_, t)| self.fill(t)).unwrap_or_default()
    }

    /// What the user is told when a case opens and the built-in console is the agent system.
    pub(super) fn waiting_text(&mut self) -> String {
        self.state.agent_notice_at = self.envelope.now;
        self.text_or_default("agent_waiting", AGENT_WAITING)
    }

    /// A user wrote while a person handles the case: shown to the agent at once; the bot answers only when it has
    /// not said for a while that a person will write.
    pub(super) fn while_with_agent(&mut self, input: &Input) {
        let (kind, text, media) = match input {
            Input::Text(text) => ("message", text.clone(), None),
            Input::Media(media) => ("photo", input.label(), Some(media.clone())),
            other => ("message", other.label(), None),
        };
        self.effects.push(Effect::ForAgent { note: AgentNote { kind: kind.into(), text, media } });
        let now = self.envelope.now;
        if now >= self.state.agent_notice_at + self.flow.file.settings.agent_reply_after.seconds() {
            self.state.agent_notice_at = now;
            let body = self.text_or_default("agent_waiting_again", AGENT_WAITING_AGAIN);
            self.send(Reply::Text { body });
        }
    }
}
