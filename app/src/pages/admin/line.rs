//! The waiting room on the live page of a queue sale: the line's numbers
//! every second (entrants, let in, bought, lapsed, waitlisted), shoppers let
//! in and buying per second, and once the draw is made the fairness report:
//! who got the units by when they joined, the draw's values, and the client
//! addresses most accounts came from.

use leptos::prelude::*;

use crate::api::{AdmissionSecond, FairnessReport, JoinStretch, LineLive, LinePhase};
use crate::client;
use crate::components::charts::TimeSeries;
use crate::components::LocalTime;
use crate::endpoints;

/// Seconds of admissions the chart shows (the latest).
const CHART_SECONDS: usize = 120;
/// Every how many reads of the line the report is read again.
const REPORT_EVERY: u32 = 10;

/// Reads the line every second (every ten once it is over) and the report
/// every ten reads once the draw is made. Stops when the page is gone.
async fn follow(
    sale_id: i64,
    live: RwSignal<Option<LineLive>>,
    report: RwSignal<Option<FairnessReport>>,
) {
    let mut round = 0u32;
    loop {
        let mut phase = LinePhase::Gathering;
        if let Ok(Ok(line)) = endpoints::sale_line(sale_id).await.map(|reply| reply.body) {
            phase = line.phase;
            if live.try_set(Some(line)).is_some() {
                return;
            }
        }
        let over = matches!(phase, LinePhase::SoldOut | LinePhase::Ended);
        if phase != LinePhase::Gathering && (over || round.is_multiple_of(REPORT_EVERY)) {
            if let Ok(Ok(fresh)) = endpoints::sale_fairness(sale_id)
                .await
                .map(|reply| reply.body)
            {
                if report.try_set(Some(fresh)).is_some() {
                    return;
                }
            }
        }
        round += 1;
        client::sleep_ms(if over { 10_000 } else { 1_000 }).await;
    }
}

/// Admissions and purchases per second over the latest seconds, with the
/// seconds nobody was let in as zeros.
fn per_second(admissions: &[AdmissionSecond]) -> (Vec<f64>, Vec<f64>) {
    let Some(last) = admissions.last() else {
        return (Vec::new(), Vec::new());
    };
    let first = admissions[0]
        .at_ms
        .max(last.at_ms - (CHART_SECONDS as i64 - 1) * 1_000);
    let seconds = ((last.at_ms - first) / 1_000 + 1) as usize;
    let (mut admitted, mut bought) = (vec![0.0; seconds], vec![0.0; seconds]);
    for second in admissions.iter().filter(|second| second.at_ms >= first) {
        let index = ((second.at_ms - first) / 1_000) as usize;
        admitted[index] += second.admitted as f64;
        bought[index] += second.bought as f64;
    }
    (admitted, bought)
}

/// `part` of `whole` as a percentage with one decimal ("12.5 %").
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "–".to_owned();
    }
    let tenths = (part * 1_000 + whole / 2) / whole;
    format!("{}.{} %", tenths / 10, tenths % 10)
}

fn phase_label(phase: LinePhase) -> &'static str {
    match phase {
        LinePhase::Gathering => "Gathering: nobody let in before the start",
        LinePhase::Admitting => "Letting shoppers in",
        LinePhase::Waitlisted => "Waitlisted: every unit claimed, some may come back",
        LinePhase::SoldOut => "Sold out",
        LinePhase::Ended => "Ended",
    }
}

/// The waiting room of sale `sale_id`.
#[component]
pub(super) fn LinePanel(sale_id: i64) -> impl IntoView {
    let live = RwSignal::new(None::<LineLive>);
    let report = RwSignal::new(None::<FairnessReport>);
    Effect::new(move |_| client::spawn(follow(sale_id, live, report)));
    let series = Memo::new(move |_| {
        live.with(|line| line.as_ref().map(|line| per_second(&line.admissions)))
            .unwrap_or_default()
    });
    view! {
        <section class="line-panel" aria-labelledby="line-heading">
            <h2 id="line-heading">"Waiting room"</h2>
            {move || live.get().map(|line| view! { <LineNumbers line/> })}
            <h3>"Let in and bought per second"</h3>
            <TimeSeries
                first=Signal::derive(move || series.get().0)
                second=Signal::derive(move || series.get().1)
                first_label="let in/s"
                second_label="bought/s"
                capacity=CHART_SECONDS
            />
            {move || report.get().map(|report| view! { <Fairness report/> })}
        </section>
    }
    .into_any()
}

/// The line's counters.
#[component]
fn LineNumbers(line: LineLive) -> impl IntoView {
    let cells = [
        (
            "line-before",
            "Joined before the start",
            line.entrants_before_start.to_string(),
        ),
        (
            "line-after",
            "Joined after the start",
            line.entrants_after_start.to_string(),
        ),
        ("line-waiting", "Waiting", line.waiting.to_string()),
        ("line-admitted", "Let in", line.admitted.to_string()),
        (
            "line-deciding",
            "Deciding now / window",
            format!("{} / {}", line.deciding, line.window),
        ),
        ("line-bought", "Bought", line.bought.to_string()),
        ("line-lapsed", "Lapsed", line.lapsed.to_string()),
        ("line-waitlisted", "Waitlisted", line.waitlisted.to_string()),
        (
            "line-pace",
            "Pace (last 10 s)",
            format!("{}/s", line.pace_per_s.round() as i64),
        ),
    ];
    view! {
        <p class="line-phase" data-phase=line.phase.as_str()>{phase_label(line.phase)}</p>
        {super::stat_grid("line-numbers", cells, |_, _| false)}
    }
}

/// The fairness report.
#[component]
fn Fairness(report: FairnessReport) -> impl IntoView {
    let kinds = |before: bool| {
        let stretches = report
            .by_join_time
            .iter()
            .filter(|stretch| stretch.before_start == before);
        let entrants: u64 = stretches.clone().map(|s| s.entrants).sum();
        let winners: u64 = stretches.map(|s| s.winners).sum();
        (entrants, winners)
    };
    let (before, before_won) = kinds(true);
    let (after, after_won) = kinds(false);
    let draw = report.draw.clone();
    view! {
        <h2>"Fairness report"</h2>
        <p class="fairness-summary">
            {format!(
                "{} of {} entrants got a unit. Joined before the start: {} won ({} of {}); after it: {} ({} of {}). {} of the {} let in never bought.",
                report.winners, report.entrants,
                percent(before_won, before), before_won, before,
                percent(after_won, after), after_won, after,
                report.never_bought, report.admitted,
            )}
        </p>
        <h3>"Winners by when they joined"</h3>
        <p class="hint">"With a fair draw, everyone who joined before the start has the same chance, early or late: the share of winners should be about level across the stretches before the start."</p>
        <div class="table-wrap">
            <table class="fairness-by-join">
                <thead><tr><th scope="col">"Joined"</th><th scope="col">"Entrants"</th><th scope="col">"Winners"</th><th scope="col">"Share won"</th></tr></thead>
                <tbody>
                    {report.by_join_time.into_iter().map(|stretch| view! { <StretchRow stretch/> }).collect_view()}
                </tbody>
            </table>
        </div>
        <h3>"The draw"</h3>
        <dl class="draw-values">
            <dt>"Commitment (published when the sale was made)"</dt><dd class="mono">{draw.commitment}</dd>
            <dt>"Revealed secret"</dt><dd class="mono">{if draw.revealed.is_empty() { "not yet".to_owned() } else { draw.revealed }}</dd>
            <dt>"Digest of the pre-start entrants"</dt><dd class="mono">{draw.entries_digest}</dd>
            <dt>"Seed"</dt><dd class="mono">{draw.seed}</dd>
            <dt>"Pre-start entrants"</dt><dd>{draw.pre_start_entrants}</dd>
            <dt>"Drawn at"</dt><dd>{draw.drawn_at_ms.map(|ms| view! { <LocalTime ms seconds=true/> })}</dd>
        </dl>
        <p><a href=draw.entrants_url>"The list of pre-start entrants"</a>" (anyone can check every place with it)"</p>
        <h3>"Accounts per client address (top 10)"</h3>
        {if report.top_addresses.is_empty() {
            view! { <p class="empty">"Nobody joined yet."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="fairness-addresses">
                        <thead><tr><th scope="col">"Address"</th><th scope="col">"Accounts"</th></tr></thead>
                        <tbody>
                            {report.top_addresses.into_iter().map(|row| view! {
                                <tr><td class="mono">{row.address}</td><td>{row.entrants}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            }.into_any()
        }}
    }
    .into_any()
}

/// One stretch of join time.
#[component]
fn StretchRow(stretch: JoinStretch) -> impl IntoView {
    let share = percent(stretch.winners, stretch.entrants);
    let width = (stretch.winners * 100)
        .checked_div(stretch.entrants)
        .unwrap_or(0);
    view! {
        <tr data-before=stretch.before_start.to_string()>
            <td>
                {if stretch.before_start { "before · " } else { "after · " }}
                <LocalTime ms=stretch.from_ms seconds=true/>
            </td>
            <td>{stretch.entrants}</td>
            <td>{stretch.winners}</td>
            <td>
                <span class="share-bar" style=format!("--share: {width}%")></span>
                {share}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_fills_quiet_seconds_and_keeps_the_latest() {
        let second = |at_ms, admitted, bought| AdmissionSecond {
            at_ms,
            admitted,
            bought,
        };
        let (admitted, bought) = per_second(&[second(10_000, 5, 2), second(12_000, 3, 3)]);
        assert_eq!(admitted, [5.0, 0.0, 3.0]);
        assert_eq!(bought, [2.0, 0.0, 3.0]);
        let long = [second(0, 1, 0), second(500_000, 1, 1)];
        assert_eq!(per_second(&long).0.len(), CHART_SECONDS);
    }

    #[test]
    fn percentages_round_to_a_tenth() {
        assert_eq!(percent(1, 8), "12.5 %");
        assert_eq!(percent(2, 3), "66.7 %");
        assert_eq!(percent(0, 0), "–");
    }
}
