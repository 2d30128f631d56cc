//! Country → time zone, for CDRs that name only `cdr_location.country`.
//!
//! Only countries with a single civil time are listed: guessing a zone for Spain (Canaries),
//! Portugal (Azores) or the US would shift time-of-day prices by hours, so those are refused
//! and the caller must pass a zone.

use chrono_tz::Tz;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("\"{0}\" is not an IANA time zone such as Europe/Oslo")]
    UnknownZone(String),
    #[error("country \"{0}\" spans several time zones; pass the zone explicitly (--tz)")]
    SeveralZones(String),
    #[error("\"{0}\" is not a known ISO 3166-1 country code (alpha-2 or alpha-3)")]
    UnknownCountry(String),
    #[error(
        "no time zone: pass --tz ZONE, or give cdr_location.time_zone or cdr_location.country"
    )]
    Missing,
}

pub fn parse_zone(name: &str) -> Result<Tz, ZoneError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ZoneError::UnknownZone(name.to_owned()))
}

/// (alpha-2, alpha-3, zone) for single-zone countries.
const SINGLE: &[(&str, &str, &str)] = &[
    ("AD", "AND", "Europe/Andorra"),
    ("AE", "ARE", "Asia/Dubai"),
    ("AL", "ALB", "Europe/Tirane"),
    ("AT", "AUT", "Europe/Vienna"),
    ("AX", "ALA", "Europe/Mariehamn"),
    ("BA", "BIH", "Europe/Sarajevo"),
    ("BE", "BEL", "Europe/Brussels"),
    ("BG", "BGR", "Europe/Sofia"),
    ("BY", "BLR", "Europe/Minsk"),
    ("CH", "CHE", "Europe/Zurich"),
    ("CN", "CHN", "Asia/Shanghai"),
    ("CY", "CYP", "Asia/Nicosia"),
    ("CZ", "CZE", "Europe/Prague"),
    ("DE", "DEU", "Europe/Berlin"),
    ("DK", "DNK", "Europe/Copenhagen"),
    ("EE", "EST", "Europe/Tallinn"),
    ("EG", "EGY", "Africa/Cairo"),
    ("FI", "FIN", "Europe/Helsinki"),
    ("FO", "FRO", "Atlantic/Faroe"),
    ("FR", "FRA", "Europe/Paris"),
    ("GB", "GBR", "Europe/London"),
    ("GG", "GGY", "Europe/Guernsey"),
    ("GI", "GIB", "Europe/Gibraltar"),
    ("GR", "GRC", "Europe/Athens"),
    ("HR", "HRV", "Europe/Zagreb"),
    ("HU", "HUN", "Europe/Budapest"),
    ("IE", "IRL", "Europe/Dublin"),
    ("IL", "ISR", "Asia/Jerusalem"),
    ("IM", "IMN", "Europe/Isle_of_Man"),
    ("IN", "IND", "Asia/Kolkata"),
    ("IS", "ISL", "Atlantic/Reykjavik"),
    ("IT", "ITA", "Europe/Rome"),
    ("JE", "JEY", "Europe/Jersey"),
    ("JP", "JPN", "Asia/Tokyo"),
    ("KR", "KOR", "Asia/Seoul"),
    ("LI", "LIE", "Europe/Vaduz"),
    ("LT", "LTU", "Europe/Vilnius"),
    ("LU", "LUX", "Europe/Luxembourg"),
    ("LV", "LVA", "Europe/Riga"),
    ("MA", "MAR", "Africa/Casablanca"),
    ("MC", "MCO", "Europe/Monaco"),
    ("MD", "MDA", "Europe/Chisinau"),
    ("ME", "MNE", "Europe/Podgorica"),
    ("MK", "MKD", "Europe/Skopje"),
    ("MT", "MLT", "Europe/Malta"),
    ("NL", "NLD", "Europe/Amsterdam"),
    ("NO", "NOR", "Europe/Oslo"),
    ("PL", "POL", "Europe/Warsaw"),
    ("RO", "ROU", "Europe/Bucharest"),
    ("RS", "SRB", "Europe/Belgrade"),
    ("SE", "SWE", "Europe/Stockholm"),
    ("SG", "SGP", "Asia/Singapore"),
    ("SI", "SVN", "Europe/Ljubljana"),
    ("SJ", "SJM", "Arctic/Longyearbyen"),
    ("SK", "SVK", "Europe/Bratislava"),
    ("SM", "SMR", "Europe/San_Marino"),
    ("TR", "TUR", "Europe/Istanbul"),
    ("VA", "VAT", "Europe/Vatican"),
    ("ZA", "ZAF", "Africa/Johannesburg"),
];

/// Countries we know to have more than one civil time (refused rather than guessed).
const SEVERAL: &[(&str, &str)] = &[
    ("AR", "ARG"),
    ("AU", "AUS"),
    ("BR", "BRA"),
    ("CA", "CAN"),
    ("CL", "CHL"),
    ("EC", "ECU"),
    ("ES", "ESP"),
    ("GL", "GRL"),
    ("ID", "IDN"),
    ("KZ", "KAZ"),
    ("MX", "MEX"),
    ("NZ", "NZL"),
    ("PT", "PRT"),
    ("RU", "RUS"),
    ("UA", "UKR"),
    ("US", "USA"),
];

/// Zone of a single-zone country given as ISO 3166-1 alpha-3 (OCPI) or alpha-2.
pub fn zone_for_country(code: &str) -> Result<Tz, ZoneError> {
    let c = code.trim().to_ascii_uppercase();
    if let Some((_, _, zone)) = SINGLE.iter().find(|(a2, a3, _)| *a2 == c || *a3 == c) {
        return parse_zone(zone);
    }
    if SEVERAL.iter().any(|(a2, a3)| *a2 == c || *a3 == c) {
        return Err(ZoneError::SeveralZones(code.to_owned()));
    }
    Err(ZoneError::UnknownCountry(code.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_zone_exists() {
        for (_, _, z) in SINGLE {
            assert!(parse_zone(z).is_ok(), "{z}");
        }
    }

    #[test]
    fn alpha3_and_alpha2() {
        assert_eq!(zone_for_country("NOR"), Ok(chrono_tz::Europe::Oslo));
        assert_eq!(zone_for_country("nl"), Ok(chrono_tz::Europe::Amsterdam));
        assert_eq!(
            zone_for_country("USA"),
            Err(ZoneError::SeveralZones("USA".into()))
        );
        assert!(matches!(
            zone_for_country("XYZ"),
            Err(ZoneError::UnknownCountry(_))
        ));
    }
}
