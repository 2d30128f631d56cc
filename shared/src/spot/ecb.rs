//! ECB euro foreign exchange reference rates (`eurofxref-daily.xml` and its history files):
//! `<Cube time="YYYY-MM-DD"><Cube currency="NOK" rate="11.7250"/>…</Cube>` (SPEC §13).
//! All-or-nothing like the A44 parser: a refusal names the element.

use std::str::FromStr;

use chrono::NaiveDate;
use roxmltree::Document;
use rust_decimal::Decimal;

use super::entsoe::XmlError;

/// One reference rate: 1 EUR = `rate` units of `currency` on `date`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcbRate {
    pub date: NaiveDate,
    pub currency: String,
    pub rate: Decimal,
}

fn err(element: impl Into<String>, message: impl Into<String>) -> XmlError {
    XmlError {
        element: element.into(),
        message: message.into(),
    }
}

pub fn parse_ecb(xml: &str) -> Result<Vec<EcbRate>, XmlError> {
    let doc = Document::parse(xml).map_err(|e| err("document", format!("not XML: {e}")))?;
    let mut out = Vec::new();
    let mut days = 0;
    for (di, day) in doc
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "Cube" && n.has_attribute("time"))
        .enumerate()
    {
        days += 1;
        let dp = format!("Cube[time][{}]", di + 1);
        let t = day.attribute("time").unwrap_or_default();
        let date = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
            err(
                format!("{dp}/@time"),
                format!("{t:?} is not a date YYYY-MM-DD"),
            )
        })?;
        for (ri, c) in day
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "Cube")
            .enumerate()
        {
            let rp = format!("Cube[time={t}]/Cube[{}]", ri + 1);
            let currency = c
                .attribute("currency")
                .ok_or_else(|| err(format!("{rp}/@currency"), "missing"))?;
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(err(
                    format!("{rp}/@currency"),
                    format!("{currency:?} is not an ISO 4217 code"),
                ));
            }
            let rate_text = c
                .attribute("rate")
                .ok_or_else(|| err(format!("{rp}/@rate"), "missing"))?;
            let rate = Decimal::from_str(rate_text)
                .ok()
                .filter(|r| *r > Decimal::ZERO && *r < Decimal::from(1_000_000))
                .ok_or_else(|| {
                    err(
                        format!("{rp}/@rate"),
                        format!("{rate_text:?} is not a positive rate"),
                    )
                })?;
            out.push(EcbRate {
                date,
                currency: currency.to_owned(),
                rate,
            });
        }
    }
    if days == 0 {
        return Err(err(
            "Cube",
            "no <Cube time=\"…\"> element: not an ECB reference rate file",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn reads_the_daily_file() -> Result<(), XmlError> {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube><Cube time="2026-10-23"><Cube currency="USD" rate="1.0823"/><Cube currency="NOK" rate="11.7250"/></Cube></Cube>
</gesmes:Envelope>"#;
        let r = parse_ecb(xml)?;
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].currency, "NOK");
        assert_eq!(r[1].rate, dec!(11.7250));
        assert_eq!(r[1].rate.to_string(), "11.7250");
        Ok(())
    }

    #[test]
    fn a_broken_rate_is_refused_naming_it() {
        let xml = r#"<Envelope><Cube><Cube time="2026-10-23"><Cube currency="NOK" rate="eleven"/></Cube></Cube></Envelope>"#;
        let e = parse_ecb(xml)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("Cube[time=2026-10-23]/Cube[1]/@rate"), "{e}");
    }
}
