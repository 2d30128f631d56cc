//! Nordic bidding zones (SPEC §13) and their ENTSO-E EIC codes (`in_Domain.mRID`).

use std::fmt;
use std::str::FromStr;

/// A day-ahead bidding zone a tariff can be indexed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    No1,
    No2,
    No3,
    No4,
    No5,
    Se1,
    Se2,
    Se3,
    Se4,
    Dk1,
    Dk2,
    Fi,
}

/// (area, name, EIC code of the bidding zone as ENTSO-E publishes it).
const AREAS: [(Area, &str, &str); 12] = [
    (Area::No1, "NO1", "10YNO-1--------2"),
    (Area::No2, "NO2", "10YNO-2--------T"),
    (Area::No3, "NO3", "10YNO-3--------J"),
    (Area::No4, "NO4", "10YNO-4--------9"),
    (Area::No5, "NO5", "10Y1001A1001A48H"),
    (Area::Se1, "SE1", "10Y1001A1001A44P"),
    (Area::Se2, "SE2", "10Y1001A1001A45N"),
    (Area::Se3, "SE3", "10Y1001A1001A46L"),
    (Area::Se4, "SE4", "10Y1001A1001A47J"),
    (Area::Dk1, "DK1", "10YDK-1--------W"),
    (Area::Dk2, "DK2", "10YDK-2--------M"),
    (Area::Fi, "FI", "10YFI-1--------U"),
];

impl Area {
    pub const ALL: [Area; 12] = [
        Area::No1,
        Area::No2,
        Area::No3,
        Area::No4,
        Area::No5,
        Area::Se1,
        Area::Se2,
        Area::Se3,
        Area::Se4,
        Area::Dk1,
        Area::Dk2,
        Area::Fi,
    ];

    fn row(self) -> &'static (Area, &'static str, &'static str) {
        // AREAS is in declaration order, so the discriminant is the index.
        &AREAS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.row().1
    }

    pub fn eic(self) -> &'static str {
        self.row().2
    }

    pub fn from_eic(code: &str) -> Option<Area> {
        AREAS.iter().find(|r| r.2 == code).map(|r| r.0)
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a spot price area (NO1–NO5, SE1–SE4, DK1, DK2, FI)")]
pub struct UnknownArea(pub String);

impl FromStr for Area {
    type Err = UnknownArea;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AREAS
            .iter()
            .find(|r| r.1 == s)
            .map(|r| r.0)
            .ok_or_else(|| UnknownArea(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for a in Area::ALL {
            assert_eq!(a.name().parse::<Area>(), Ok(a));
            assert_eq!(Area::from_eic(a.eic()), Some(a));
        }
        assert_eq!(Area::from_eic("10YNO-1--------2"), Some(Area::No1));
        assert_eq!(Area::from_eic("10Y1001A1001A46L"), Some(Area::Se3));
        assert!("NO6".parse::<Area>().is_err());
    }
}
