//! What an admin may schedule: [`NewSale::parse`] checks a draft against every
//! rule a shopper or the reserve script relies on, and [`edited`] turns an edit
//! into the draft it makes, so a create and an edit are checked alike.

use app::api::{
    AdmissionMode, Sale, SaleDraft, SalePatch, QUEUE_OPENS_BEFORE_MS, QUEUE_PACE_PER_S,
    QUEUE_WINDOW_PER_UNIT,
};
use app::money::Currency;
use chrono::DateTime;

/// How long before the start a line may open at most.
const QUEUE_OPEN_AT_MOST_MS: i64 = 30 * 24 * 3600 * 1000;

/// A sale to create or the new state of an edited one: a [`SaleDraft`] that
/// [`NewSale::parse`] has checked, so the stores can trust its values. Only made
/// there; read through `Deref` as the draft it wraps.
#[derive(Clone, Debug)]
pub struct NewSale(SaleDraft);

impl std::ops::Deref for NewSale {
    type Target = SaleDraft;

    fn deref(&self) -> &SaleDraft {
        &self.0
    }
}

impl NewSale {
    /// Checks an admin's draft: every rule a shopper or the reserve relies on.
    /// A draft without a currency gets `default_currency`.
    pub fn parse(draft: SaleDraft, default_currency: Currency) -> Result<Self, String> {
        let title = draft.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 200 {
            return Err("title: 1 to 200 characters".into());
        }
        if draft.description.chars().count() > 10_000 {
            return Err("description: at most 10000 characters".into());
        }
        let image_url = draft.image_url.trim().to_owned();
        if !(image_url.is_empty()
            || image_url.starts_with("https://")
            || image_url.starts_with("http://")
            || image_url.starts_with('/'))
        {
            return Err("image_url: an http(s) URL or a path starting with /".into());
        }
        if draft.price_cents < 0 || draft.list_price_cents < 0 {
            return Err("prices cannot be negative".into());
        }
        if draft.stock <= 0 {
            return Err("stock: at least 1".into());
        }
        if draft.per_user_limit < 1 {
            return Err("per_user_limit: at least 1".into());
        }
        if draft.ends_at_ms <= draft.starts_at_ms {
            return Err("ends_at_ms must be after starts_at_ms".into());
        }
        if DateTime::from_timestamp_millis(draft.starts_at_ms).is_none()
            || DateTime::from_timestamp_millis(draft.ends_at_ms).is_none()
        {
            return Err("times are out of range".into());
        }
        if !(1..=7 * 24 * 3600).contains(&draft.payment_window_secs) {
            return Err("payment_window_secs: 1 second to 7 days".into());
        }
        if draft.min_account_age_days < 0 {
            return Err("min_account_age_days cannot be negative".into());
        }
        let admission = draft.admission.unwrap_or_default();
        let queue_opens_at_ms = match admission {
            AdmissionMode::Race => None,
            AdmissionMode::Queue => {
                let opens = draft
                    .queue_opens_at_ms
                    .unwrap_or(draft.starts_at_ms.saturating_sub(QUEUE_OPENS_BEFORE_MS));
                if opens > draft.starts_at_ms {
                    return Err("queue_opens_at_ms: at or before starts_at_ms".into());
                }
                if draft.starts_at_ms.saturating_sub(opens) > QUEUE_OPEN_AT_MOST_MS {
                    return Err("queue_opens_at_ms: at most 30 days before starts_at_ms".into());
                }
                if DateTime::from_timestamp_millis(opens).is_none() {
                    return Err("queue_opens_at_ms is out of range".into());
                }
                Some(opens)
            }
        };
        let window = draft.queue_window_per_unit.unwrap_or(QUEUE_WINDOW_PER_UNIT);
        if !(1..=100).contains(&window) {
            return Err("queue_window_per_unit: 1 to 100".into());
        }
        let pace = draft.queue_pace_per_s.unwrap_or(QUEUE_PACE_PER_S);
        if !(1..=100_000).contains(&pace) {
            return Err("queue_pace_per_s: 1 to 100000".into());
        }
        Ok(NewSale(SaleDraft {
            title,
            image_url,
            currency: Some(draft.currency.unwrap_or(default_currency)),
            admission: Some(admission),
            queue_opens_at_ms,
            queue_window_per_unit: Some(window),
            queue_pace_per_s: Some(pace),
            ..draft
        }))
    }

    /// `race` or `queue` (always set by [`NewSale::parse`]).
    pub fn admission(&self) -> AdmissionMode {
        self.0.admission.unwrap_or_default()
    }

    /// Admitted shoppers per unit left (always set by [`NewSale::parse`]).
    pub fn queue_window_per_unit(&self) -> i32 {
        self.0
            .queue_window_per_unit
            .unwrap_or(QUEUE_WINDOW_PER_UNIT)
    }

    /// Admissions a second at most (always set by [`NewSale::parse`]).
    pub fn queue_pace_per_s(&self) -> i32 {
        self.0.queue_pace_per_s.unwrap_or(QUEUE_PACE_PER_S)
    }

    /// The prices' currency (always set by [`NewSale::parse`]).
    pub fn currency(&self) -> Currency {
        self.0.currency.unwrap_or(Currency::USD)
    }
}

/// Whether an edit touches what the reserve relies on (stock, times, limit) or
/// what its orders are worth in (the currency): such edits are allowed only
/// before the sale starts.
pub(crate) fn changes_rules(patch: &SalePatch) -> bool {
    patch.stock.is_some()
        || patch.currency.is_some()
        || patch.admission.is_some()
        || patch.queue_opens_at_ms.is_some()
        || patch.starts_at_ms.is_some()
        || patch.ends_at_ms.is_some()
        || patch.per_user_limit.is_some()
}

/// The draft `patch` makes of `current`: its fields where given, the sale's
/// elsewhere.
pub(crate) fn edited(current: Sale, patch: SalePatch) -> SaleDraft {
    SaleDraft {
        title: patch.title.unwrap_or(current.title),
        description: patch.description.unwrap_or(current.description),
        image_url: patch.image_url.unwrap_or(current.image_url),
        price_cents: patch.price_cents.unwrap_or(current.price_cents),
        list_price_cents: patch.list_price_cents.unwrap_or(current.list_price_cents),
        currency: Some(patch.currency.unwrap_or(current.currency)),
        stock: patch.stock.unwrap_or(current.stock),
        per_user_limit: patch.per_user_limit.unwrap_or(current.per_user_limit),
        starts_at_ms: patch.starts_at_ms.unwrap_or(current.starts_at_ms),
        ends_at_ms: patch.ends_at_ms.unwrap_or(current.ends_at_ms),
        payment_window_secs: patch
            .payment_window_secs
            .unwrap_or(current.payment_window_secs),
        captcha: patch.captcha.unwrap_or(current.captcha),
        min_account_age_days: patch
            .min_account_age_days
            .unwrap_or(current.min_account_age_days),
        admission: Some(patch.admission.unwrap_or(current.admission)),
        // A sale turned into a queue sale without a time gets the default one;
        // a queue sale whose start moves keeps its line's opening unless that
        // would come after the new start.
        queue_opens_at_ms: patch.queue_opens_at_ms.or(current
            .queue_opens_at_ms
            .filter(|&opens| opens <= patch.starts_at_ms.unwrap_or(current.starts_at_ms))),
        queue_window_per_unit: Some(
            patch
                .queue_window_per_unit
                .unwrap_or(current.queue_window_per_unit),
        ),
        queue_pace_per_s: Some(patch.queue_pace_per_s.unwrap_or(current.queue_pace_per_s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::CaptchaKind;
    use proptest::prelude::*;

    /// A draft every rule accepts.
    fn valid() -> SaleDraft {
        SaleDraft {
            title: "Keyboard".into(),
            description: String::new(),
            image_url: "/keyboard.png".into(),
            price_cents: 4_900,
            list_price_cents: 12_900,
            currency: Some(Currency::USD),
            stock: 10,
            per_user_limit: 1,
            starts_at_ms: 1_800_000_000_000,
            ends_at_ms: 1_800_003_600_000,
            payment_window_secs: 900,
            captcha: CaptchaKind::Pow,
            min_account_age_days: 0,
            admission: Some(AdmissionMode::Race),
            queue_opens_at_ms: None,
            queue_window_per_unit: Some(QUEUE_WINDOW_PER_UNIT),
            queue_pace_per_s: Some(QUEUE_PACE_PER_S),
        }
    }

    #[test]
    fn each_broken_rule_is_refused_with_the_field_named() {
        type BreakRule = fn(&mut SaleDraft);
        let cases: [(BreakRule, &str); 10] = [
            (|d| d.title = "   ".into(), "title"),
            (|d| d.title = "x".repeat(201), "title"),
            (|d| d.description = "x".repeat(10_001), "description"),
            (|d| d.image_url = "javascript:alert(1)".into(), "image_url"),
            (|d| d.price_cents = -1, "prices"),
            (|d| d.stock = 0, "stock"),
            (|d| d.per_user_limit = 0, "per_user_limit"),
            (|d| d.ends_at_ms = d.starts_at_ms, "ends_at_ms"),
            (|d| d.payment_window_secs = 0, "payment_window_secs"),
            (|d| d.min_account_age_days = -1, "min_account_age_days"),
        ];
        for (break_rule, field) in cases {
            let mut draft = valid();
            break_rule(&mut draft);
            let error = NewSale::parse(draft, Currency::USD).unwrap_err();
            assert!(error.contains(field), "{field}: {error}");
        }
        let far = SaleDraft {
            starts_at_ms: i64::MAX - 1,
            ends_at_ms: i64::MAX,
            ..valid()
        };
        assert!(NewSale::parse(far, Currency::USD)
            .unwrap_err()
            .contains("range"));
    }

    #[test]
    fn a_valid_draft_keeps_its_values_with_the_title_trimmed() {
        let draft = SaleDraft {
            title: "  Keyboard ".into(),
            ..valid()
        };
        let new = NewSale::parse(draft, Currency::USD).unwrap();
        assert_eq!(new.title, "Keyboard");
        assert_eq!((new.stock, new.per_user_limit), (10, 1));
        assert_eq!(new.image_url, "/keyboard.png");
    }

    #[test]
    fn a_draft_without_a_currency_gets_the_shops() {
        let yen = Currency::parse("JPY").unwrap();
        let silent = SaleDraft {
            currency: None,
            ..valid()
        };
        assert_eq!(NewSale::parse(silent, yen).unwrap().currency(), yen);
        assert_eq!(
            NewSale::parse(valid(), yen).unwrap().currency(),
            Currency::USD
        );
    }

    fn sale_of(draft: &SaleDraft) -> Sale {
        Sale {
            id: 7,
            title: draft.title.clone(),
            description: draft.description.clone(),
            image_url: draft.image_url.clone(),
            price_cents: draft.price_cents,
            list_price_cents: draft.list_price_cents,
            currency: draft.currency.unwrap_or(Currency::USD),
            stock: draft.stock,
            per_user_limit: draft.per_user_limit,
            starts_at_ms: draft.starts_at_ms,
            ends_at_ms: draft.ends_at_ms,
            payment_window_secs: draft.payment_window_secs,
            captcha: draft.captcha,
            min_account_age_days: draft.min_account_age_days,
            paused: false,
            admission: draft.admission.unwrap_or_default(),
            queue_opens_at_ms: draft.queue_opens_at_ms,
            queue_window_per_unit: draft.queue_window_per_unit.unwrap_or(QUEUE_WINDOW_PER_UNIT),
            queue_pace_per_s: draft.queue_pace_per_s.unwrap_or(QUEUE_PACE_PER_S),
        }
    }

    #[test]
    fn a_queue_sale_opens_its_line_before_the_start_and_a_race_sale_has_none() {
        let queue = SaleDraft {
            admission: Some(AdmissionMode::Queue),
            ..valid()
        };
        let new = NewSale::parse(queue.clone(), Currency::USD).unwrap();
        assert_eq!(
            new.queue_opens_at_ms,
            Some(queue.starts_at_ms - QUEUE_OPENS_BEFORE_MS)
        );
        let late = SaleDraft {
            queue_opens_at_ms: Some(queue.starts_at_ms + 1),
            ..queue.clone()
        };
        assert!(NewSale::parse(late, Currency::USD)
            .unwrap_err()
            .contains("queue_opens_at_ms"));
        let race = SaleDraft {
            admission: None,
            queue_opens_at_ms: Some(1),
            ..valid()
        };
        let new = NewSale::parse(race, Currency::USD).unwrap();
        assert_eq!(
            (new.admission(), new.queue_opens_at_ms),
            (AdmissionMode::Race, None)
        );
        let early = SaleDraft {
            queue_opens_at_ms: Some(queue.starts_at_ms - QUEUE_OPEN_AT_MOST_MS - 1),
            ..queue.clone()
        };
        assert!(NewSale::parse(early, Currency::USD).is_err());
        for (window, pace) in [(0, 200), (101, 200), (2, 0), (2, 100_001)] {
            let odd = SaleDraft {
                queue_window_per_unit: Some(window),
                queue_pace_per_s: Some(pace),
                ..queue.clone()
            };
            assert!(
                NewSale::parse(odd, Currency::USD).is_err(),
                "{window} {pace}"
            );
        }
        // An earlier start takes the line's opening with it.
        let current = sale_of(&NewSale::parse(queue.clone(), Currency::USD).unwrap());
        let sooner = SalePatch {
            starts_at_ms: Some(queue.starts_at_ms - QUEUE_OPENS_BEFORE_MS - 60_000),
            ..SalePatch::default()
        };
        let draft = edited(current, sooner);
        let new = NewSale::parse(draft.clone(), Currency::USD).unwrap();
        assert_eq!(
            new.queue_opens_at_ms,
            Some(draft.starts_at_ms - QUEUE_OPENS_BEFORE_MS)
        );
    }

    #[test]
    fn an_edit_changes_only_what_it_names_and_rules_only_when_it_names_them() {
        let current = sale_of(&valid());
        assert_eq!(edited(current.clone(), SalePatch::default()), valid());
        let retitled = SalePatch {
            title: Some("Mouse".into()),
            ..SalePatch::default()
        };
        assert!(!changes_rules(&retitled));
        assert_eq!(edited(current.clone(), retitled).title, "Mouse");
        let restocked = SalePatch {
            stock: Some(3),
            ..SalePatch::default()
        };
        assert!(changes_rules(&restocked));
        assert_eq!(edited(current.clone(), restocked).stock, 3);
        let euros = Currency::parse("EUR");
        let recurrencied = SalePatch {
            currency: euros,
            ..SalePatch::default()
        };
        assert!(changes_rules(&recurrencied));
        assert_eq!(edited(current, recurrencied).currency, euros);
    }

    proptest! {
        #[test]
        fn whatever_parses_keeps_every_rule(
            title in "\\PC{0,210}",
            stock in -5..50i32,
            limit in -2..5i32,
            starts in -10_000_000_000_000i64..10_000_000_000_000,
            length in -10_000i64..10_000_000,
            window in -10..700_000i32,
            price in -5..100i64,
        ) {
            let draft = SaleDraft {
                title,
                stock,
                per_user_limit: limit,
                starts_at_ms: starts,
                ends_at_ms: starts.saturating_add(length),
                payment_window_secs: window,
                price_cents: price,
                ..valid()
            };
            if let Ok(new) = NewSale::parse(draft, Currency::USD) {
                prop_assert!(!new.title.is_empty() && new.title.chars().count() <= 200);
                prop_assert_eq!(new.title.trim(), new.title.as_str());
                prop_assert!(new.stock >= 1 && new.per_user_limit >= 1);
                prop_assert!(new.ends_at_ms > new.starts_at_ms);
                prop_assert!(DateTime::from_timestamp_millis(new.starts_at_ms).is_some());
                prop_assert!((1..=7 * 24 * 3600).contains(&new.payment_window_secs));
                prop_assert!(new.price_cents >= 0);
            }
        }

        #[test]
        fn every_sensible_draft_parses(
            stock in 1..100_000i32,
            limit in 1..10i32,
            starts in 0i64..4_000_000_000_000,
            length in 1i64..100_000_000,
            window in 1..=604_800i32,
        ) {
            let draft = SaleDraft {
                stock,
                per_user_limit: limit,
                starts_at_ms: starts,
                ends_at_ms: starts + length,
                payment_window_secs: window,
                ..valid()
            };
            let new = NewSale::parse(draft, Currency::USD).unwrap();
            prop_assert_eq!((new.stock, new.starts_at_ms, new.ends_at_ms), (stock, starts, starts + length));
        }
    }
}
