//! How much of a sale is left, at a glance: a bar beside the "N of M left" text.

use leptos::prelude::*;

/// The share of `stock` still `left`, as a whole percentage (0 when the stock is 0).
fn percent_left(left: i64, stock: i64) -> i64 {
    if stock <= 0 {
        return 0;
    }
    (left.clamp(0, stock) * 100) / stock
}

/// A meter of the units left; screen readers get the numbers.
#[component]
pub fn StockBar(#[prop(into)] left: Signal<i64>, stock: i64) -> impl IntoView {
    view! {
        <div
            class="stock-bar"
            role="meter"
            aria-label="Units left"
            aria-valuemin="0"
            aria-valuemax=stock.to_string()
            aria-valuenow=move || left.get().to_string()
        >
            <span class="stock-bar-fill" style=move || format!("width: {}%", percent_left(left.get(), stock))></span>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::percent_left;

    #[test]
    fn the_share_left_stays_between_none_and_all() {
        assert_eq!(percent_left(5, 5), 100);
        assert_eq!(percent_left(1, 3), 33);
        assert_eq!(percent_left(0, 3), 0);
        assert_eq!(percent_left(7, 5), 100);
        assert_eq!(percent_left(-1, 5), 0);
        assert_eq!(percent_left(0, 0), 0);
    }
}
