//! `WHATSAPP_NUMBERS`: the business numbers one deployment serves (a Mexican and a Brazilian number in one
//! WhatsApp Business Account), each with the flow new conversations on it start on and a display name:
//! `106540352242922=kyc_latam:Acme México,107000000000055=kyc_br:Acme Brasil` (the name is optional). Unset:
//! every number is served, on `DEFAULT_FLOW`. Set: a message to a number not listed (nor
//! `WHATSAPP_PHONE_NUMBER_ID`) is kept for inspection, counted, and not answered. Replies always leave from the
//! number the user wrote to. A number in another WhatsApp Business Account takes its own token from
//! `WHATSAPP_ACCESS_TOKEN_<phone number id>`; the others use `WHATSAPP_ACCESS_TOKEN`.

use std::collections::BTreeMap;

use super::Secret;
use super::env::{ConfigError, Env};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessNumber {
    /// The flow new conversations on this number start on.
    pub flow: String,
    pub name: Option<String>,
    /// `WHATSAPP_ACCESS_TOKEN_<phone number id>`: the number's own token (a number in another WhatsApp Business
    /// Account, whose system user's token does not reach it); unset: `WHATSAPP_ACCESS_TOKEN`.
    pub access_token: Option<Secret>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessNumbers {
    by_id: BTreeMap<String, BusinessNumber>,
}

impl BusinessNumbers {
    /// Whether a table was given (else every number is served).
    pub fn is_configured(&self) -> bool {
        !self.by_id.is_empty()
    }

    /// Whether messages to `phone_number_id` are answered.
    pub fn serves(&self, phone_number_id: &str) -> bool {
        !self.is_configured() || self.by_id.contains_key(phone_number_id)
    }

    /// The flow new conversations on `phone_number_id` start on, when the table names one.
    pub fn flow_of(&self, phone_number_id: &str) -> Option<&str> {
        self.by_id.get(phone_number_id).map(|n| n.flow.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &BusinessNumber)> {
        self.by_id.iter()
    }
}

/// `WHATSAPP_NUMBERS`, with `WHATSAPP_PHONE_NUMBER_ID` (on `default_flow`) served too when a table is given.
pub(super) fn from_env(env: &Env, default_flow: &str) -> Result<BusinessNumbers, ConfigError> {
    let Some(raw) = env.get("WHATSAPP_NUMBERS").filter(|r| !r.trim().is_empty()) else {
        return Ok(BusinessNumbers::default());
    };
    let invalid = |reason: String| ConfigError::Invalid { name: "WHATSAPP_NUMBERS", value: raw.to_owned(), reason };
    let mut by_id = BTreeMap::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, rest) = entry
            .split_once('=')
            .ok_or_else(|| invalid(format!("`{entry}` is not `<phone number id>=<flow>[:<display name>]`")))?;
        let id = id.trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("`{id}` is not a phone number id (digits, as Meta shows it)")));
        }
        let (flow, name) = match rest.split_once(':') {
            Some((flow, name)) => (flow.trim(), Some(name.trim().to_owned()).filter(|n| !n.is_empty())),
            None => (rest.trim(), None),
        };
        if flow.is_empty() {
            return Err(invalid(format!("number {id} names no flow")));
        }
        let access_token = own_token(env, id);
        if by_id.insert(id.to_owned(), BusinessNumber { flow: flow.to_owned(), name, access_token }).is_some() {
            return Err(invalid(format!("number {id} is listed twice")));
        }
    }
    if let Some(own) = env.get("WHATSAPP_PHONE_NUMBER_ID") {
        by_id.entry(own.to_owned()).or_insert(BusinessNumber {
            flow: default_flow.to_owned(),
            name: None,
            access_token: own_token(env, own),
        });
    }
    Ok(BusinessNumbers { by_id })
}

/// The environment entry that holds a number's own access token.
pub fn own_token_name(phone_number_id: &str) -> String {
    format!("WHATSAPP_ACCESS_TOKEN_{phone_number_id}")
}

fn own_token(env: &Env, phone_number_id: &str) -> Option<Secret> {
    env.get(&own_token_name(phone_number_id)).map(str::trim).filter(|t| !t.is_empty()).map(Secret::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_numbers_with_flows_and_names() {
        let env = Env::from_pairs([
            ("WHATSAPP_NUMBERS", "100000000000052=kyc_latam:Acme México, 100000000000055=kyc_br"),
            ("WHATSAPP_PHONE_NUMBER_ID", "100000000000001"),
        ]);
        let numbers = from_env(&env, "kyc_latam").unwrap();
        assert_eq!(numbers.flow_of("100000000000055"), Some("kyc_br"));
        assert_eq!(numbers.flow_of("100000000000001"), Some("kyc_latam"), "the configured number is served");
        assert!(numbers.serves("100000000000052") && !numbers.serves("100000000000099"));
        let names: Vec<Option<&str>> = numbers.iter().map(|(_, n)| n.name.as_deref()).collect();
        assert_eq!(names, [None, Some("Acme México"), None]);
        let unset = from_env(&Env::from_pairs([]), "kyc_latam").unwrap();
        assert!(unset.serves("anything") && !unset.is_configured());
    }

    #[test]
    fn bad_tables_are_named() {
        for (raw, says) in [
            ("100=kyc,100=other", "listed twice"),
            ("abc=kyc", "not a phone number id"),
            ("100000000000052", "is not `<phone number id>=<flow>"),
            ("100000000000052=", "names no flow"),
        ] {
            let err = from_env(&Env::from_pairs([("WHATSAPP_NUMBERS", raw)]), "kyc").unwrap_err().to_string();
            assert!(err.contains("WHATSAPP_NUMBERS") && err.contains(says), "{raw}: {err}");
        }
    }
}
