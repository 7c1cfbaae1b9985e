//! ISO 3166-1 alpha-2 country codes.

use crate::error::Invalid;

/// The 249 officially assigned ISO 3166-1 alpha-2 codes, plus `XK`
/// (Kosovo, user-assigned but used by the EU and on travel documents).
const CODES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY \
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK";

pub fn is_country_code(code: &str) -> bool {
    code.len() == 2 && CODES.split(' ').any(|c| c == code)
}

/// Accepts a code in any case and returns it upper-cased, or says what is
/// wrong.
pub fn parse_country(code: &str) -> Result<String, Invalid> {
    let up = code.trim().to_ascii_uppercase();
    if is_country_code(&up) {
        Ok(up)
    } else {
        Err(Invalid::new(format!(
            "{code:?} is not an ISO 3166-1 alpha-2 country code (e.g. DZ, MA, TN, FR, ES, US)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_unique() {
        let codes: Vec<&str> = CODES.split(' ').collect();
        assert_eq!(codes.len(), 250);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 250);
    }

    #[test]
    fn parses() {
        assert_eq!(parse_country("dz").unwrap(), "DZ");
        assert_eq!(parse_country("MA").unwrap(), "MA");
        assert!(parse_country("XX").is_err());
        assert!(parse_country("DZA").is_err());
        assert!(parse_country("").is_err());
    }
}
