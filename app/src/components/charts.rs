//! Small SVG charts drawn by Leptos (no chart library in the bundle): a time
//! series of one or two lines and a bar per category. They draw what they are
//! given; the numbers come from the server's counters.

use leptos::prelude::*;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 160.0;
const PAD: f64 = 24.0;

/// Points of a polyline for `values`, scaled to `max`.
/// Coordinates are whole units of the 600×160 view box, written as integers:
/// float formatting would weigh kilobytes in every shopper's WASM (the
/// function table that reaches it is shared with the lazy admin chunks).
fn polyline(values: &[f64], max: f64, capacity: usize) -> String {
    let step = (WIDTH - 2.0 * PAD) / (capacity.max(2) - 1) as f64;
    let offset = capacity.saturating_sub(values.len()) as f64 * step;
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let x = PAD + offset + index as f64 * step;
            let y = HEIGHT - PAD - (value / max.max(1.0)) * (HEIGHT - 2.0 * PAD);
            format!("{},{}", whole(x), whole(y))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The nearest whole number.
fn whole(value: f64) -> i64 {
    value.round() as i64
}

/// Two series over the same seconds (e.g. attempts/s and wins/s), newest right.
#[component]
pub fn TimeSeries(
    #[prop(into)] first: Signal<Vec<f64>>,
    #[prop(into)] second: Signal<Vec<f64>>,
    first_label: &'static str,
    second_label: &'static str,
    capacity: usize,
) -> impl IntoView {
    let max = move || {
        first
            .get()
            .iter()
            .chain(second.get().iter())
            .copied()
            .fold(1.0_f64, f64::max)
    };
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {} {}", whole(WIDTH), whole(HEIGHT)) role="img" aria-label=format!("{first_label} and {second_label} per second")>
                <line x1=whole(PAD) y1=whole(HEIGHT - PAD) x2=whole(WIDTH - PAD) y2=whole(HEIGHT - PAD) class="axis"/>
                <text x=whole(PAD) y=whole(PAD - 8.0) class="chart-max">{move || format!("max {}/s", whole(max()))}</text>
                <polyline class="series-first" fill="none" points=move || polyline(&first.get(), max(), capacity)/>
                <polyline class="series-second" fill="none" points=move || polyline(&second.get(), max(), capacity)/>
            </svg>
            <figcaption>
                <span class="key key-first">{first_label}</span>
                " "
                <span class="key key-second">{second_label}</span>
            </figcaption>
        </figure>
    }
}

/// One horizontal bar per `(label, count)`.
#[component]
pub fn Bars(#[prop(into)] bars: Signal<Vec<(String, i64)>>) -> impl IntoView {
    let row_height = 22.0;
    view! {
        <figure class="chart">
            <svg
                viewBox=move || format!("0 0 {} {}", whole(WIDTH), whole((bars.get().len().max(1) as f64) * row_height + 4.0))
                role="img"
                aria-label="Outcomes of buy attempts"
            >
                {move || {
                    let bars = bars.get();
                    let max = bars.iter().map(|(_, count)| *count).max().unwrap_or(1).max(1) as f64;
                    bars.into_iter()
                        .enumerate()
                        .map(|(index, (label, count))| {
                            let y = index as f64 * row_height + 2.0;
                            let width = (count as f64 / max) * (WIDTH - 260.0);
                            let outcome = label.clone();
                            view! {
                                <g class="bar" data-outcome=outcome>
                                    <text x="0" y=whole(y + 15.0)>{label}</text>
                                    <rect x="140" y=whole(y) width=whole(width.max(1.0)) height=whole(row_height - 6.0)/>
                                    <text x=whole(146.0 + width) y=whole(y + 15.0) class="bar-count">{count}</text>
                                </g>
                            }
                        })
                        .collect_view()
                }}
            </svg>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::polyline;

    #[test]
    fn points_fill_from_the_right_and_scale_to_the_maximum() {
        let points = polyline(&[0.0, 10.0], 10.0, 2);
        assert_eq!(points, "24,136 576,24");
        // Fewer values than capacity start further right.
        let points = polyline(&[5.0], 10.0, 3);
        assert_eq!(points, "576,80");
    }
}
