//! Machine-readable zones (ICAO 9303): TD1 (ID cards, 3 lines of 30) and TD3 (passports, 2 lines of 44).
//!
//! The text comes from a provider's OCR or from what the user typed, so parsing is tolerant of the usual noise:
//! lowercase, spaces, stray line breaks, `«` for `<<`, letters OCR'd in purely numeric places (`O` for `0`), and
//! lost trailing fillers on the names line. It never fixes a check digit: a wrong one is reported as
//! [`ReasonCode::MrzCheckDigit`] with the field it guards, never a panic.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::verify::reason::ReasonCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MrzFormat {
    /// ID-1 cards: 3 lines of 30 characters.
    Td1,
    /// Passport data pages: 2 lines of 44 characters.
    Td3,
}

/// Which check digits hold. `optional_data` is `None` when the format has no check digit for it (TD1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrzChecks {
    pub document_number: bool,
    pub birth_date: bool,
    pub expiry_date: bool,
    pub optional_data: Option<bool>,
    pub composite: bool,
}

impl MrzChecks {
    pub fn all_valid(&self) -> bool {
        self.document_number
            && self.birth_date
            && self.expiry_date
            && self.optional_data != Some(false)
            && self.composite
    }

    /// The names of the failed checks, for logs and reviewers.
    pub fn failed(&self) -> Vec<&'static str> {
        let mut failed = Vec::new();
        for (ok, name) in [
            (self.document_number, "document_number"),
            (self.birth_date, "birth_date"),
            (self.expiry_date, "expiry_date"),
            (self.optional_data != Some(false), "optional_data"),
            (self.composite, "composite"),
        ] {
            if !ok {
                failed.push(name);
            }
        }
        failed
    }
}

/// A parsed MRZ. Dates stay as written (`YYMMDD`): the century is resolved against a date the caller passes
/// ([`MrzResult::birth_date_on`], [`MrzResult::expiry_date_on`]), because this module has no clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrzResult {
    pub format: MrzFormat,
    /// `P`, `I`, `ID`, `IN`... (fillers removed).
    pub document_code: String,
    pub issuing_country: String,
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    /// `YYMMDD` as written.
    pub birth_date: String,
    /// `F`, `M` or `X` (unspecified, written `<`).
    pub sex: String,
    /// `YYMMDD` as written.
    pub expiry_date: String,
    /// TD1: line 1 optional data (without a long document number's overflow); TD3: the personal number.
    pub optional_data: String,
    /// TD1 only: line 2 optional data.
    pub optional_data_2: String,
    pub checks: MrzChecks,
    /// The cleaned lines, as parsed.
    pub lines: Vec<String>,
}

impl MrzResult {
    pub fn is_valid(&self) -> bool {
        self.checks.all_valid()
    }

    /// `[MrzCheckDigit]` when any check digit fails, else nothing.
    pub fn reasons(&self) -> Vec<ReasonCode> {
        if self.is_valid() { vec![] } else { vec![ReasonCode::MrzCheckDigit] }
    }

    /// The birth date, in the century that puts it on or before `today`.
    pub fn birth_date_on(&self, today: NaiveDate) -> Option<NaiveDate> {
        let (yy, mm, dd) = split_yymmdd(&self.birth_date)?;
        let this_century = today.year() / 100 * 100;
        let date = NaiveDate::from_ymd_opt(this_century + yy, mm, dd)?;
        if date <= today { Some(date) } else { NaiveDate::from_ymd_opt(this_century - 100 + yy, mm, dd) }
    }

    /// The expiry date, in the century that puts it within 50 years before and after `today`.
    pub fn expiry_date_on(&self, today: NaiveDate) -> Option<NaiveDate> {
        let (yy, mm, dd) = split_yymmdd(&self.expiry_date)?;
        let year = today.year();
        let century = year / 100 * 100;
        let candidates = [century - 100 + yy, century + yy, century + 100 + yy];
        let best = candidates.into_iter().min_by_key(|y| (y - year).abs())?;
        NaiveDate::from_ymd_opt(best, mm, dd)
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MrzError {
    #[error("no TD1 (3 x 30) or TD3 (2 x 44) machine-readable zone found in the text ({0} usable characters)")]
    NotFound(usize),
}

impl MrzError {
    /// The reason to give the user: the zone could not be read at all.
    pub fn reason(&self) -> ReasonCode {
        ReasonCode::DocumentUnreadable
    }
}

/// ICAO 9303 check digit: weights 7, 3, 1; digits count as themselves, `A`..`Z` as 10..35, `<` as 0.
/// `None` for a character outside the MRZ alphabet.
pub fn check_digit(field: &str) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, c) in field.chars().enumerate() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return None,
        };
        sum += value * [7, 3, 1][i % 3];
    }
    Some((sum % 10) as u8)
}

fn digit_matches(field: &str, check: char) -> bool {
    match (check_digit(field), check.to_digit(10)) {
        (Some(expected), Some(found)) => u32::from(expected) == found,
        // A filler check digit is allowed only for an empty (all-filler) field.
        (Some(_), None) if check == '<' => field.chars().all(|c| c == '<'),
        _ => false,
    }
}

/// Finds and parses a TD1 or TD3 zone in `text`.
pub fn parse_mrz(text: &str) -> Result<MrzResult, MrzError> {
    let lines = clean_lines(text);
    if let Some(found) = find_block(&lines, 3, 30) {
        return Ok(parse_td1(found));
    }
    if let Some(found) = find_block(&lines, 2, 44) {
        return Ok(parse_td3(found));
    }
    let joined: String = lines.concat();
    match joined.len() {
        90 => Ok(parse_td1(chunks(&joined, 30))),
        88 => Ok(parse_td3(chunks(&joined, 44))),
        n => Err(MrzError::NotFound(n)),
    }
}

fn chunks(s: &str, n: usize) -> Vec<String> {
    s.as_bytes().chunks(n).map(|c| String::from_utf8_lossy(c).into_owned()).collect()
}

/// Uppercases, maps `«` to `<<`, drops everything outside `A-Z 0-9 <`, and drops empty lines.
fn clean_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let mut out = String::with_capacity(line.len());
            for c in line.chars() {
                match c {
                    '«' => out.push_str("<<"),
                    c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
                    '<' => out.push('<'),
                    _ => {}
                }
            }
            out
        })
        .filter(|l| !l.is_empty())
        .collect()
}

/// `count` consecutive lines of `width` characters; a line up to 4 characters short is padded with fillers when
/// it is the names line (TD1 line 3, TD3 line 1), where OCR often loses trailing `<`.
fn find_block(lines: &[String], count: usize, width: usize) -> Option<Vec<String>> {
    let names_line = if count == 3 { 2 } else { 0 };
    'start: for start in 0..lines.len().saturating_sub(count - 1) {
        let mut block = Vec::with_capacity(count);
        for (i, line) in lines[start..start + count].iter().enumerate() {
            let len = line.len();
            if len == width {
                block.push(line.clone());
            } else if i == names_line && len < width && len + 4 >= width {
                block.push(format!("{line:<<width$}"));
            } else {
                continue 'start;
            }
        }
        return Some(block);
    }
    None
}

/// In strictly numeric places OCR may read letters: map the look-alikes back.
fn numeric(field: &str) -> String {
    field
        .chars()
        .map(|c| match c {
            'O' | 'Q' | 'D' => '0',
            'I' | 'L' => '1',
            'Z' => '2',
            'S' => '5',
            'G' => '6',
            'B' => '8',
            c => c,
        })
        .collect()
}

fn split_yymmdd(s: &str) -> Option<(i32, u32, u32)> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((s[0..2].parse().ok()?, s[2..4].parse().ok()?, s[4..6].parse().ok()?))
}

fn trim_fillers(s: &str) -> String {
    s.trim_matches('<').replace('<', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `SURNAME<<GIVEN<NAMES` → (`SURNAME`, `GIVEN NAMES`); `<` inside each part is a space.
fn split_names(s: &str) -> (String, String) {
    match s.split_once("<<") {
        Some((surname, given)) => (trim_fillers(surname), trim_fillers(given)),
        None => (trim_fillers(s), String::new()),
    }
}

fn sex_of(c: &str) -> String {
    match c {
        "F" | "M" => c.to_owned(),
        _ => "X".to_owned(),
    }
}

fn at(s: &str, range: std::ops::Range<usize>) -> &str {
    s.get(range).unwrap_or("")
}

fn ch(s: &str, i: usize) -> char {
    s.as_bytes().get(i).map(|b| *b as char).unwrap_or('?')
}

fn parse_td1(lines: Vec<String>) -> MrzResult {
    let (l1, l2, l3) = (&lines[0], numeric_td1_line2(&lines[1]), &lines[2]);
    // A document number longer than 9 characters continues in the optional data, with its check digit at the
    // end of that continuation, and `<` in the usual check digit place.
    let (document_number, number_check, optional) = if ch(l1, 14) == '<' && ch(l1, 15) != '<' {
        let rest = at(l1, 15..30);
        let end = rest.find('<').unwrap_or(rest.len());
        let overflow = &rest[..end];
        let (digits, check) = overflow.split_at(overflow.len().saturating_sub(1));
        let number = format!("{}{}", at(l1, 5..14), digits);
        let ok = check.chars().next().is_some_and(|c| digit_matches(&number, c));
        (number, ok, rest[end..].to_owned())
    } else {
        let number = at(l1, 5..14).to_owned();
        let ok = digit_matches(&number, ch(&numeric(at(l1, 14..15)), 0));
        (number, ok, at(l1, 15..30).to_owned())
    };
    let composite_field = format!("{}{}{}{}", at(l1, 5..30), at(&l2, 0..7), at(&l2, 8..15), at(&l2, 18..29));
    let (surname, given_names) = split_names(l3);
    let checks = MrzChecks {
        document_number: number_check,
        birth_date: digit_matches(at(&l2, 0..6), ch(&l2, 6)),
        expiry_date: digit_matches(at(&l2, 8..14), ch(&l2, 14)),
        optional_data: None,
        composite: digit_matches(&composite_field, ch(&l2, 29)),
    };
    MrzResult {
        format: MrzFormat::Td1,
        document_code: trim_fillers(at(l1, 0..2)),
        issuing_country: trim_fillers(at(l1, 2..5)),
        surname,
        given_names,
        document_number: trim_fillers(&document_number).replace(' ', ""),
        nationality: trim_fillers(at(&l2, 15..18)),
        birth_date: at(&l2, 0..6).to_owned(),
        sex: sex_of(at(&l2, 7..8)),
        expiry_date: at(&l2, 8..14).to_owned(),
        optional_data: trim_fillers(&optional),
        optional_data_2: trim_fillers(at(&l2, 18..29)),
        checks,
        lines: vec![l1.clone(), l2, l3.clone()],
    }
}

/// TD1 line 2: dates and check digits are numeric; sex, nationality and optional data are not.
fn numeric_td1_line2(l2: &str) -> String {
    format!(
        "{}{}{}{}{}",
        numeric(at(l2, 0..7)),
        at(l2, 7..8),
        numeric(at(l2, 8..15)),
        at(l2, 15..29),
        numeric(at(l2, 29..30))
    )
}

fn parse_td3(lines: Vec<String>) -> MrzResult {
    let l1 = &lines[0];
    let raw2 = &lines[1];
    // Numeric places on line 2: check digits 9, 19, 27, 42, 43 and the dates.
    let l2 = format!(
        "{}{}{}{}{}{}{}{}",
        at(raw2, 0..9),
        numeric(at(raw2, 9..10)),
        at(raw2, 10..13),
        numeric(at(raw2, 13..20)),
        at(raw2, 20..21),
        numeric(at(raw2, 21..28)),
        at(raw2, 28..42),
        numeric(at(raw2, 42..44)),
    );
    let composite_field = format!("{}{}{}", at(&l2, 0..10), at(&l2, 13..20), at(&l2, 21..43));
    let (surname, given_names) = split_names(at(l1, 5..44));
    let checks = MrzChecks {
        document_number: digit_matches(at(&l2, 0..9), ch(&l2, 9)),
        birth_date: digit_matches(at(&l2, 13..19), ch(&l2, 19)),
        expiry_date: digit_matches(at(&l2, 21..27), ch(&l2, 27)),
        optional_data: Some(digit_matches(at(&l2, 28..42), ch(&l2, 42))),
        composite: digit_matches(&composite_field, ch(&l2, 43)),
    };
    MrzResult {
        format: MrzFormat::Td3,
        document_code: trim_fillers(at(l1, 0..2)),
        issuing_country: trim_fillers(at(l1, 2..5)),
        surname,
        given_names,
        document_number: trim_fillers(at(&l2, 0..9)).replace(' ', ""),
        nationality: trim_fillers(at(&l2, 10..13)),
        birth_date: at(&l2, 13..19).to_owned(),
        sex: sex_of(at(&l2, 20..21)),
        expiry_date: at(&l2, 21..27).to_owned(),
        optional_data: trim_fillers(at(&l2, 28..42)),
        optional_data_2: String::new(),
        checks,
        lines: vec![l1.clone(), l2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_of_the_icao_examples() {
        assert_eq!(check_digit("L898902C3"), Some(6));
        assert_eq!(check_digit("740812"), Some(2));
        assert_eq!(check_digit("120415"), Some(9));
        assert_eq!(check_digit("D23145890"), Some(7));
        assert_eq!(check_digit("a"), None);
    }

    #[test]
    fn century_resolution_uses_the_given_date() {
        let mrz =
            parse_mrz("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10")
                .unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(mrz.birth_date_on(today), NaiveDate::from_ymd_opt(1974, 8, 12));
        assert_eq!(mrz.expiry_date_on(today), NaiveDate::from_ymd_opt(2012, 4, 15));
    }
}
