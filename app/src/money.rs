//! Amounts are integers in their currency's minor unit on the wire (cents of a
//! dollar, yen, fils of a dinar: the field names say `cents` for history); a
//! [`Currency`] knows how many decimals its minor unit has. People read amounts
//! in their browser's number format ([`crate::components::Money`]); where no
//! browser formats them, as `49.00 USD`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An ISO 4217 currency a shop can charge in, with the decimals of its minor
/// unit. Only codes of the table below parse: a typo like `USS` is refused, not
/// shown to shoppers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    decimals: u8,
}

/// Currencies whose minor unit is not a hundredth (ISO 4217's list, as
/// browsers' `Intl.NumberFormat` uses it).
const NOT_TWO_DECIMALS: &[(&str, u8)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// The other currencies in circulation (ISO 4217, without funds, metals and
/// test codes), all with two decimals.
const TWO_DECIMALS: &str = "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL \
    BSD BTN BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP \
    GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK \
    LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR \
    NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN \
    SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD XCG YER ZAR ZMW ZWG";

impl Currency {
    /// The shop's currency when nothing else is said.
    pub const USD: Currency = Currency {
        code: "USD",
        decimals: 2,
    };

    /// An upper-case ISO 4217 code of a currency in circulation.
    pub fn parse(code: &str) -> Option<Currency> {
        if let Some(&(code, decimals)) = NOT_TWO_DECIMALS.iter().find(|(known, _)| *known == code) {
            return Some(Currency { code, decimals });
        }
        TWO_DECIMALS
            .split_ascii_whitespace()
            .find(|known| *known == code)
            .map(|code| Currency { code, decimals: 2 })
    }

    pub fn code(self) -> &'static str {
        self.code
    }

    /// Decimals of the minor unit: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn decimals(self) -> u32 {
        u32::from(self.decimals)
    }

    /// `4900` minor units as the decimal number they mean: `"49.00"` in USD,
    /// `"4900"` in JPY. Negative amounts never occur (the database forbids
    /// them) but are still written correctly.
    pub fn decimal(self, minor: i64) -> String {
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        if self.decimals == 0 {
            return format!("{sign}{abs}");
        }
        let unit = 10u64.pow(self.decimals());
        let width = usize::from(self.decimals);
        format!("{sign}{}.{:0width$}", abs / unit, abs % unit)
    }

    /// `4900` as people read it where no browser formats it: `"49.00 USD"`.
    pub fn plain(self, minor: i64) -> String {
        format!("{} {}", self.decimal(minor), self.code)
    }

    /// An amount typed in whole units (`"49.9"`) as minor units; `None` for more
    /// decimals than the currency has, signs, or anything not a number.
    pub fn parse_amount(self, text: &str) -> Option<i64> {
        let text = text.trim();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let width = usize::from(self.decimals);
        if fraction.len() > width
            || (self.decimals == 0 && text.contains('.'))
            || whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let minor = if width == 0 {
            0
        } else {
            format!("{fraction:0<width$}").parse::<i64>().ok()?
        };
        whole
            .parse::<i64>()
            .ok()?
            .checked_mul(10i64.pow(self.decimals()))?
            .checked_add(minor)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{code}` is not the upper-case ISO 4217 code of a currency in circulation"
            ))
        })
    }
}

/// Whole-percent discount of `price` against `list_price`, when there is one.
pub fn discount_percent(price_cents: i64, list_price_cents: i64) -> Option<i64> {
    if list_price_cents <= 0 || price_cents >= list_price_cents {
        return None;
    }
    Some((list_price_cents - price_cents) * 100 / list_price_cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn amounts_are_written_with_the_currencys_decimals() {
        let usd = currency("USD");
        assert_eq!(usd.decimal(0), "0.00");
        assert_eq!(usd.decimal(5), "0.05");
        assert_eq!(usd.decimal(4_900), "49.00");
        assert_eq!(usd.decimal(123_456), "1234.56");
        assert_eq!(usd.decimal(-250), "-2.50");
        assert_eq!(currency("JPY").decimal(4_900), "4900");
        assert_eq!(currency("KWD").decimal(4_900), "4.900");
        assert_eq!(currency("EUR").plain(12_900), "129.00 EUR");
    }

    #[test]
    fn only_codes_in_circulation_parse() {
        assert_eq!(currency("EUR").decimals(), 2);
        assert_eq!(currency("JPY").decimals(), 0);
        assert_eq!(currency("BHD").decimals(), 3);
        for wrong in ["", "usd", "USS", "US", "USDX", "XAU", " USD"] {
            assert_eq!(Currency::parse(wrong), None, "{wrong:?}");
        }
        assert!(TWO_DECIMALS
            .split_ascii_whitespace()
            .all(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())));
    }

    #[test]
    fn the_wire_form_is_the_code() {
        assert_eq!(serde_json::to_string(&currency("GBP")).unwrap(), "\"GBP\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"JPY\"").unwrap(),
            currency("JPY")
        );
        let refused = serde_json::from_str::<Currency>("\"ABC\"").unwrap_err();
        assert!(refused.to_string().contains("ISO 4217"), "{refused}");
    }

    #[test]
    fn amounts_are_typed_in_whole_units_of_the_currency() {
        let usd = currency("USD");
        assert_eq!(usd.parse_amount("49"), Some(4_900));
        assert_eq!(usd.parse_amount("49.9"), Some(4_990));
        assert_eq!(usd.parse_amount(" 0.05 "), Some(5));
        assert_eq!(usd.parse_amount("1.234"), None);
        assert_eq!(usd.parse_amount("-1"), None);
        assert_eq!(usd.parse_amount("abc"), None);
        assert_eq!(usd.parse_amount(".5"), None);
        let yen = currency("JPY");
        assert_eq!(yen.parse_amount("4900"), Some(4_900));
        assert_eq!(yen.parse_amount("49.5"), None);
        assert_eq!(yen.parse_amount("49."), None);
        assert_eq!(currency("KWD").parse_amount("1.5"), Some(1_500));
    }

    #[test]
    fn discount_only_when_cheaper_than_list() {
        assert_eq!(discount_percent(4_900, 12_900), Some(62));
        assert_eq!(discount_percent(100, 100), None);
        assert_eq!(discount_percent(200, 100), None);
        assert_eq!(discount_percent(100, 0), None);
    }
}
